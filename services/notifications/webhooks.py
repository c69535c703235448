"""Signed webhooks in the Standard Webhooks scheme, with retries and backoff."""
import base64
import ipaddress
import json
import logging
import secrets
import socket
from datetime import timedelta
from urllib.parse import urlsplit

from standardwebhooks import Webhook
from tenacity import RetryCallState, wait_exponential

from services.notifications.outbound import delivered
from services.settings import WebhookSettings
from services.storage import now

SETTINGS = WebhookSettings()
# CloudEvents' HTTP binding, structured mode: the body is the whole event.
CLOUDEVENTS_JSON = "application/cloudevents+json; charset=utf-8"
log = logging.getLogger(__name__)


def url_problem(url, allow_local=None):
    """Why `url` may not receive webhooks, or "": https, to an address on the internet; never
    loopback, link-local or a private range, where a webhook would reach into our own network."""
    allow_local = SETTINGS.allow_local if allow_local is None else allow_local
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an https URL"
    if allow_local:
        return ""
    if parts.scheme != "https":
        return "must be an https URL"
    if any(not address.is_global for address in addresses_of(parts.hostname)):
        return "must not point at a loopback, link-local or private address"
    return ""


def addresses_of(host):
    """The addresses `host` names now; none if it does not resolve (each delivery asks again)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    if host == "localhost" or host.endswith(".localhost"):
        return [ipaddress.ip_address("127.0.0.1")]
    try:
        return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in socket.getaddrinfo(host, None)]
    except OSError:
        return []


def new_secret():
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def next_attempt_after(attempts, config):
    """When to try a delivery again after its `attempts`-th failure: backoff_seconds doubled at
    each failure, up to max_backoff_seconds. Attempts can be minutes apart, so the store keeps
    them (the next attempt time of a delivery) rather than a retry loop in a worker."""
    backoff = wait_exponential(multiplier=config.backoff_seconds, max=config.max_backoff_seconds)
    failed = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})
    failed.attempt_number = attempts
    return now() + timedelta(seconds=backoff(failed))


def sent(attempts):
    """A delivery's fields once the receiver took it, at its `attempts`th attempt."""
    return {"state": "SENT", "attempts": attempts, "sent_time": now()}


def failed(attempts, config, held=False):
    """A delivery's fields after its `attempts`th attempt failed: dead once out of attempts, else
    tried again after a backoff, or `held` until its webhook is resumed."""
    if attempts >= config.max_attempts:
        state = "DEAD"
    else:
        state = "HELD" if held else "QUEUED"
    return {"state": state, "attempts": attempts, "last_failure_time": now(),
            "next_attempt_time": next_attempt_after(attempts, config)}


def health_after_failure(subscription, config):
    """A subscription's webhook fields after one more failure in a row: paused after too many."""
    failures = subscription.get("webhook_failures", 0) + 1
    paused = failures >= config.pause_after
    return {"webhook_failures": failures, "webhook_state": "WEBHOOK_PAUSED" if paused else "WEBHOOK_ACTIVE"}


def send(url, secret, event):
    """Posts the event (CloudEvents, structured) signed with the subscription's secret (Standard
    Webhooks); True when the receiver took it (2xx). A host that has come to name a private
    address since the subscription was made is not posted to."""
    problem = url_problem(url)
    if problem:
        log.warning("webhook %s not sent: its URL %s", url, problem)
        return False
    body = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    moment = now()
    signature = Webhook(secret).sign(msg_id=event["id"], timestamp=moment, data=body)
    return delivered(url, body.encode(), {
        "Content-Type": CLOUDEVENTS_JSON,
        "webhook-id": event["id"],
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
    })
