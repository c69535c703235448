"""Partners' broker users and connections, which their subscriptions make."""
from urllib.parse import quote, urlsplit, urlunsplit

from kombu import Connection

from services.notifications.broker import BrokerAdmin


def remove_partner_users(platform):
    """Broker users are global, not per vhost: remove those this run's subscriptions made."""
    admin = BrokerAdmin(platform.amqp_uri)
    for user in platform.database("notifications").subscriptions.distinct("broker_user"):
        admin.delete_user(user)


def partner_connection(platform, subscription):
    """AMQP as the partner's own broker user, on the platform's vhost."""
    parts = urlsplit(platform.amqp_uri)
    netloc = f"{quote(subscription['broker_user'], safe='')}:{quote(subscription['broker_password'], safe='')}" \
             f"@{parts.hostname}:{parts.port or 5672}"
    return Connection(urlunsplit(parts._replace(netloc=netloc)))
