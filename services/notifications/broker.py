"""Partner queues on RabbitMQ: one durable queue per partner on the `civicgrid.partners` exchange,
with a dead-letter queue and a length limit, read by a broker user of its own that may read
nothing else (made through the management HTTP API)."""
import hashlib
import re
import secrets
from urllib.parse import quote, unquote, urlsplit

import httpx
from kombu import Connection, Exchange, Queue

from services.notifications.outbound import CLIENT
from services.settings import PartnerBrokerSettings

PARTNERS_EXCHANGE = Exchange("civicgrid.partners", type="topic", durable=True)
DEAD_LETTER_EXCHANGE = Exchange("civicgrid.partners.dead", type="topic", durable=True)
SETTINGS = PartnerBrokerSettings()


def partner_queue_name(tenant, partner):
    """Stable per (tenant, partner), and made of characters safe in a permission regex."""
    return "partner-" + hashlib.sha256(f"{tenant}\0{partner}".encode()).hexdigest()[:24]


def queue_arguments():
    return {"x-dead-letter-exchange": DEAD_LETTER_EXCHANGE.name,
            "x-max-length": SETTINGS.partner_queue_max_length}


def partner_queues(name):
    live = Queue(name, PARTNERS_EXCHANGE, routing_key=name, durable=True, queue_arguments=queue_arguments())
    dead = Queue(f"{name}.dead", DEAD_LETTER_EXCHANGE, routing_key=name, durable=True)
    return live, dead


def declare_partner_queue(amqp_uri, name):
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        for queue in partner_queues(name):
            queue(channel).declare()


def delete_partner_queues(amqp_uri, name):
    """A partner's queue and its dead letters, with what they held."""
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        for queue in partner_queues(name):
            channel.queue_delete(queue.name)


class BrokerAdmin:
    """The RabbitMQ management API, as the user of AMQP_URI, on AMQP_URI's vhost."""

    def __init__(self, amqp_uri, api=None):
        parts = urlsplit(amqp_uri)
        self.api = (api or SETTINGS.rabbitmq_api).rstrip("/")
        self.vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
        self.credentials = (unquote(parts.username or "guest"), unquote(parts.password or "guest"))

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
        """The user goes, and so do the connections it holds open."""
        self._request("DELETE", f"/users/{quote(user, safe='')}", missing_is_fine=True)
        self.close_connections_of(user)

    def rotate_password(self, user):
        """A new password for `user`; the old one stops working, and connections made with it close."""
        password = secrets.token_urlsafe(24)
        self._request("PUT", f"/users/{quote(user, safe='')}", {"password": password, "tags": ""})
        self.close_connections_of(user)
        return password

    def close_connections_of(self, user):
        self._request("DELETE", f"/connections/username/{quote(user, safe='')}", missing_is_fine=True)

    def _exists(self, path):
        return self._request("GET", path, missing_is_fine=True).status_code != 404

    def _request(self, method, path, body=None, missing_is_fine=False):
        """An API that refuses or does not answer is the broker not answering to the services
        (an OSError, which services/bus.py counts as BROKER_UNREACHABLE: UNAVAILABLE, not INTERNAL)."""
        try:
            response = CLIENT.request(method, f"{self.api}{path}", json=body, auth=self.credentials, timeout=10)
            if not (missing_is_fine and response.status_code == 404):
                response.raise_for_status()
            return response
        except httpx.HTTPError as error:
            raise ManagementApiError(f"RabbitMQ management API, {method} {path}: {error}") from error


class ManagementApiError(ConnectionError):
    """RabbitMQ's management API refused a request or did not answer."""
