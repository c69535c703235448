"""Partner systems and their subscriptions: who may hold one, what one holds, and which logged
events a partner's subscriptions let it read, redacted for its kind. Free of storage and RPC."""
from services.errors import InvalidArgument, PermissionDenied
from services.notifications import rules
from services.storage import public


def refuse_unless_partner(caller):
    if caller.role != "partner":
        raise PermissionDenied("only partners have partner subscriptions")


def organisation_named(caller):
    """The organisation of the registry a partner acts for, as its token names it (grant
    "org:<id>"); PERMISSION_DENIED when it names none."""
    named = next((grant[4:] for grant in caller.grants if grant.startswith("org:")), "")
    if not named:
        raise PermissionDenied("a partner acts for an organisation of the registry: its token must name one "
                               "(grant org:<id>)")
    return named


def new_subscription(caller, command, organisation, queue, broker_user, webhook_secret):
    """A subscription's fields; its scope nodes are its path, so that scope reads find it. The
    partner's organisation comes from its token, its kind from the registry, never from the request."""
    scope = sorted(set(command.scope_node_ids))
    return {"partner": caller.subject, "partner_kind": rules.partner_kind(organisation["kind"]),
            "organisation_id": organisation["id"],
            "ticket_kinds": sorted(set(command.ticket_kinds)), "category_ids": sorted(set(command.category_ids)),
            "skills": sorted(set(command.skills)),
            "ours_only": command.ours_only,
            "event_types": sorted(set(command.event_types)), "scope_node_ids": scope, "path": scope,
            "queue": queue, "broker_user": broker_user, "webhook_url": command.webhook_url,
            "webhook_secret": webhook_secret, "webhook_failures": 0,
            "webhook_state": "WEBHOOK_ACTIVE" if command.webhook_url else "WEBHOOK_NONE"}


def view(subscription):
    """A subscription as listed: its webhook secret is shown once, when it is created."""
    shown = public(subscription)
    shown.pop("webhook_secret", None)
    return shown


def refuse_resume_without_webhook(subscription):
    if subscription["webhook_state"] == "WEBHOOK_NONE":
        raise InvalidArgument.field("id", "this subscription has no webhook to resume")


def readable_events(entries, subscriptions):
    """The logged `entries` one of the partner's `subscriptions` matches, each with its position and
    redacted for the partner's kind."""
    events = []
    for entry in entries:
        matching = [s for s in subscriptions if rules.event_matches(s, entry["event"])]
        if matching:
            events.append({"position": entry["position"],
                           **rules.redact_event(entry["event"], matching[0]["partner_kind"])})
    return events


def by_queue(subscriptions, event):
    """The subscriptions `event` matches, by the partner queue they feed."""
    feeds = {}
    for subscription in subscriptions:
        if rules.event_matches(subscription, event):
            feeds.setdefault(subscription["queue"], []).append(subscription)
    return feeds
