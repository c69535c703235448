"""Partners' broker users and connections, which their subscriptions make."""
from urllib.parse import quote, urlsplit, urlunsplit

from kombu import Connection

from services.notifications.broker import BrokerAdmin

GRIDS = "civicgrid.grids.v1.Grids"


def organisation_grant(operator, node_id, kind):
    """The grants of a partner login acting for a new organisation of `kind` registered at
    `node_id` (a partner is an organisation of the registry)."""
    organisation = operator.call(f"{GRIDS}/CreateOrganisation", {
        "node_id": node_id, "kind": kind, "display_name": f"{kind.title()} at {node_id[:8]}"})
    return (f"org:{organisation['id']}",)


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
