"""Partner webhooks: what a receiver gets (body and Standard Webhooks signature), what counts as
delivered, and when a failed delivery is tried again."""
import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from standardwebhooks import Webhook

from services.notifications import outbound, webhooks
from services.settings import WebhookSettings

EVENT = {"specversion": "1.0", "id": "e1", "type": "civicgrid.tickets.ticket.assigned.v1", "tenant": "t1",
         "data": {"title": "停水"}}


class Receiver(BaseHTTPRequestHandler):
    """Answers each POST with the next of `answers` (a status, or "hang" to answer too late)."""
    answers = []
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((body, dict(self.headers)))
        answer = self.answers.pop(0)
        if answer == "hang":
            threading.Event().wait(1)
            return
        self.send_response(answer)
        self.send_header("Location", "/elsewhere")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(monkeypatch):
    # as in development, where receivers are local
    monkeypatch.setattr(webhooks, "SETTINGS", webhooks.SETTINGS.model_copy(update={"allow_local": True}))
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.answers, Receiver.received = [], []
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


def test_a_delivery_is_signed_for_the_receiver_to_verify(receiver):
    secret = webhooks.new_secret()
    Receiver.answers = [204]
    assert webhooks.send(receiver, secret, EVENT) is True
    [(body, headers)] = Receiver.received
    assert json.loads(body) == EVENT and headers["Content-Type"] == "application/cloudevents+json; charset=utf-8"
    assert headers["webhook-id"] == "e1"
    assert Webhook(secret).verify(body, headers) == EVENT


def test_each_attempt_is_one_post_and_only_a_2xx_counts_as_delivered(receiver):
    Receiver.answers = [500, 302, 404, 200]
    assert [webhooks.send(receiver, webhooks.new_secret(), EVENT) for _ in range(4)] == [False, False, False, True]
    assert len(Receiver.received) == 4 and not Receiver.answers


def test_no_answer_in_time_or_no_receiver_is_a_failed_attempt(receiver, monkeypatch):
    with outbound.httpx.Client(timeout=0.2) as impatient:
        monkeypatch.setattr(outbound, "CLIENT", impatient)
        Receiver.answers = ["hang"]
        assert webhooks.send(receiver, webhooks.new_secret(), EVENT) is False
        assert webhooks.send("http://127.0.0.1:9/closed", webhooks.new_secret(), EVENT) is False


def test_attempts_back_off_doubling_up_to_the_ceiling(monkeypatch):
    moment = datetime(2026, 3, 1, tzinfo=timezone.utc)
    monkeypatch.setattr(webhooks, "now", lambda: moment)
    config = WebhookSettings(backoff_seconds=1, max_backoff_seconds=300)
    delays = [(webhooks.next_attempt_after(attempts, config) - moment).total_seconds() for attempts in range(1, 12)]
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert webhooks.next_attempt_after(3, WebhookSettings(backoff_seconds=0)) == moment
    assert webhooks.next_attempt_after(2, WebhookSettings(backoff_seconds=1.5)) - moment == timedelta(seconds=3)


@pytest.mark.parametrize("url, problem", [
    ("https://8.8.8.8/hook", ""),
    ("https://partner.example/hook", ""),  # does not resolve now: each delivery asks again
    ("http://8.8.8.8/hook", "https"),
    ("ftp://8.8.8.8/hook", "https"),
    ("https://127.0.0.1/hook", "private"),
    ("https://localhost:8443/hook", "private"),
    ("https://api.localhost/hook", "private"),
    ("https://10.1.2.3/hook", "private"),
    ("https://192.168.0.10/hook", "private"),
    ("https://169.254.169.254/latest/meta-data", "private"),
    ("https://100.64.0.1/hook", "private"),
    ("https://[::1]/hook", "private"),
    ("https://[fd00::1]/hook", "private"),
])
def test_webhooks_go_over_https_to_the_internet_only(url, problem):
    found = webhooks.url_problem(url, allow_local=False)
    assert (problem in found) if problem else found == "", (url, found)


def test_development_allows_http_to_this_machine_but_never_another_scheme():
    assert webhooks.url_problem("http://127.0.0.1:9/never", allow_local=True) == ""
    assert webhooks.url_problem("ftp://127.0.0.1/x", allow_local=True)


def test_a_webhook_to_a_private_address_is_never_posted(receiver, monkeypatch):
    monkeypatch.setattr(webhooks, "SETTINGS", webhooks.SETTINGS.model_copy(update={"allow_local": False}))
    Receiver.answers = [204]
    assert webhooks.send(receiver, webhooks.new_secret(), EVENT) is False
    assert Receiver.received == []
