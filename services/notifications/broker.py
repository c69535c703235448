"""Partner queues on RabbitMQ: one durable queue per partner on the `civicgrid.partners` exchange,
with a dead-letter queue and a length limit, read by a broker user of its own that may read
nothing else (made through the management HTTP API)."""
import base64
import hashlib
import json
import os
import re
import secrets
import urllib.error
import urllib.request
from urllib.parse import quote, unquote, urlsplit

from kombu import Connection, Exchange, Queue

PARTNERS_EXCHANGE = Exchange("civicgrid.partners", type="topic", durable=True)
DEAD_LETTER_EXCHANGE = Exchange("civicgrid.partners.dead", type="topic", durable=True)
DEFAULT_MAX_LENGTH = 10000


def partner_queue_name(tenant, partner):
    """Stable per (tenant, partner), and made of characters safe in a permission regex."""
    return "partner-" + hashlib.sha256(f"{tenant}\0{partner}".encode()).hexdigest()[:24]


def queue_arguments():
    return {"x-dead-letter-exchange": DEAD_LETTER_EXCHANGE.name,
            "x-max-length": int(os.environ.get("PARTNER_QUEUE_MAX_LENGTH", DEFAULT_MAX_LENGTH))}


def partner_queues(name):
    live = Queue(name, PARTNERS_EXCHANGE, routing_key=name, durable=True, queue_arguments=queue_arguments())
    dead = Queue(f"{name}.dead", DEAD_LETTER_EXCHANGE, routing_key=name, durable=True)
    return live, dead


def declare_partner_queue(amqp_uri, name):
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        for queue in partner_queues(name):
            queue(channel).declare()


class BrokerAdmin:
    """The RabbitMQ management API, as the user of AMQP_URI, on AMQP_URI's vhost."""

    def __init__(self, amqp_uri, api=None):
        parts = urlsplit(amqp_uri)
        self.api = (api or os.environ.get("RABBITMQ_API") or "http://127.0.0.1:15672/api").rstrip("/")
        self.vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
        credentials = f"{unquote(parts.username or 'guest')}:{unquote(parts.password or 'guest')}"
        self.authorization = "Basic " + base64.b64encode(credentials.encode()).decode()

    def reader_name(self, queue):
        """Broker users are global while queues live in a vhost: the name carries both."""
        return f"{queue}.{hashlib.sha256(self.vhost.encode()).hexdigest()[:8]}"

    def ensure_reader(self, user, queue):
        """Creates `user` able to read only `queue` and its dead letters; returns the new password,
        or "" when the user existed already (its password was handed out then)."""
        password = ""
        if not self._exists(f"/users/{quote(user, safe='')}"):
            password = secrets.token_urlsafe(24)
            self._request("PUT", f"/users/{quote(user, safe='')}", {"password": password, "tags": ""})
        readable = f"^{re.escape(queue)}(\\.dead)?$"
        self._request("PUT", f"/permissions/{quote(self.vhost, safe='')}/{quote(user, safe='')}",
                      {"configure": "^$", "write": "^$", "read": readable})
        return password

    def delete_user(self, user):
        try:
            self._request("DELETE", f"/users/{quote(user, safe='')}")
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise

    def _exists(self, path):
        try:
            self._request("GET", path)
            return True
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return False
            raise

    def _request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.api}{path}", data=data, method=method, headers={
            "Authorization": self.authorization, "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read()
