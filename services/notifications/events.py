"""Contracts of the events the notifications service publishes: a partner's webhook paused, or
one of its deliveries dead-lettered. Each tells the partner in its inbox (rules.RECIPIENT_FIELDS)."""
from pydantic import Field

from services.events import EventData, contract, envelope

SERVICE = "notifications"


class WebhookData(EventData):
    id: str = Field(description="The partner subscription whose webhook this is.")
    partner: str = Field(description="The subject (the sub of the tokens) of the partner that subscribed.")
    contacts: list[str] = Field(description=(
        "Who is told in their inbox: every partner login of the subscription's organisation (those "
        "with a subscription), or the partner itself."))
    webhook_url: str = Field(description="Where the subscription's webhook posts.")
    path: list[str] = Field(description="The node ids the subscription covers (its scope).")


@contract("civicgrid.notifications.webhook.paused.v1")
class WebhookPaused(WebhookData):
    """A partner's webhook failed too many times in a row and was paused: its deliveries wait
    until the partner resumes it (ResumePartnerSubscription)."""

    failures: int = Field(description="Failed deliveries in a row that paused the webhook.")


@contract("civicgrid.notifications.webhook.dead_lettered.v1")
class WebhookDeadLettered(WebhookData):
    """A webhook delivery ran out of attempts and was set aside; the partner can read the event
    again from ListPartnerEvents."""

    event_id: str = Field(description="The event the webhook did not deliver.")
    attempts: int = Field(description="Attempts made before it was set aside.")


def failure_events(subscription, contacts_of, health, outcome, delivery):
    """The events a failed delivery raises: the webhook paused (when it just was), the delivery
    dead-lettered (when it just was). Each tells `contacts_of()`, asked only when one is raised."""
    raised = []
    if health["webhook_state"] == "WEBHOOK_PAUSED" and subscription["webhook_state"] != "WEBHOOK_PAUSED":
        raised.append(webhook_event(WebhookPaused, subscription, contacts_of(), failures=health["webhook_failures"]))
    if outcome["state"] == "DEAD":
        raised.append(webhook_event(WebhookDeadLettered, subscription, contacts_of(),
                                    event_id=delivery["event"]["id"], attempts=outcome["attempts"]))
    return raised


def webhook_event(contract_model, subscription, contacts, **extra):
    data = {"id": subscription["_id"], "partner": subscription["partner"], "contacts": sorted(contacts),
            "webhook_url": subscription["webhook_url"], "path": subscription["scope_node_ids"], **extra}
    return envelope(SERVICE, contract_model.event_type, subscription["tenant"],
                    f"subscriptions/{subscription['_id']}", data)
