"""Contracts of the events the notifications service publishes: a partner's webhook paused, or
one of its deliveries dead-lettered, each telling the partner in its inbox (rules.RECIPIENT_FIELDS);
a poll opened, answered and closed, which partners (an owners' committee) may subscribe to."""
from pydantic import Field

from services.events import EventData, contract, envelope
from services.storage import timestamp

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


class ChoiceData(EventData):
    id: str = Field(description="The choice's id within its question (c1, c2...).")
    label: str = Field(description="The choice as residents read it.")


class QuestionData(EventData):
    id: str = Field(description="The question's id within the poll (q1, q2...).")
    text: str = Field(description="The question as residents read it.")
    kind: str = Field(description="SINGLE_CHOICE (exactly one choice) or MULTIPLE_CHOICE (one or more).")
    choices: list[ChoiceData] = Field(description="The choices, in the order residents see them.")


class AnswerData(EventData):
    question_id: str = Field(description="The question answered.")
    choice_ids: list[str] = Field(description="The choices taken.")


class ChoiceCountData(EventData):
    choice_id: str = Field(description="The choice counted.")
    label: str = Field(description="The choice as residents read it.")
    count: int = Field(description="Answers that took it.")


class QuestionResultData(EventData):
    question_id: str = Field(description="The question counted.")
    text: str = Field(description="The question as residents read it.")
    choices: list[ChoiceCountData] = Field(description="Each choice with its count, in the poll's order.")


class PollData(EventData):
    id: str = Field(description="The poll.")
    node_id: str = Field(description="The node whose residents the poll is addressed to (building, grid, community).")
    path: list[str]
    title: str = Field(description="The poll's title.")
    per: str = Field(description="Whose answer counts once: HOUSEHOLD or RESIDENT.")
    public: bool = Field(description="Whether who chose what is published with the results.")


@contract("civicgrid.notifications.poll.opened.v1")
class PollOpened(PollData):
    """A poll opened: residents below its node (carrying all of its tags) may answer it until
    it closes."""

    tags: list[str] = Field(description="Only residents carrying all of these tags are asked; empty: everyone.")
    questions: list[QuestionData] = Field(description="What the poll asks.")
    opens_at: str = Field(description="When the poll opened (RFC 3339, UTC).")
    closes_at: str = Field(description="When the poll closes (RFC 3339, UTC).")


@contract("civicgrid.notifications.poll.answered.v1")
class PollAnswered(PollData):
    """A household (per HOUSEHOLD) or a resident (per RESIDENT) answered a poll. Who answered
    and what they chose are only in it for a public poll."""

    household_id: str = Field(description="The household that answered, for a public HOUSEHOLD poll; else empty.")
    resident_id: str = Field(description="The resident that answered, for a public RESIDENT poll; else empty.")
    answers: list[AnswerData] = Field(description="The choices taken, for a public poll; else empty.")


@contract("civicgrid.notifications.poll.closed.v1")
class PollClosed(PollData):
    """A poll closed, at its closing time or early by staff; its results are published to the
    residents it asked."""

    closes_at: str = Field(description="When the poll closed (RFC 3339, UTC).")
    answer_count: int = Field(description="Households (per HOUSEHOLD) or residents (per RESIDENT) that answered.")
    results: list[QuestionResultData] = Field(description="Counts per choice of each question.")


def poll_event(contract_model, poll, **extra):
    data = {"id": poll["_id"], "node_id": poll["node_id"], "path": poll["path"], "title": poll["title"],
            "per": poll["per"], "public": poll["public"], **extra}
    return envelope(SERVICE, contract_model.event_type, poll["tenant"], f"polls/{poll['_id']}", data)


def poll_opened(poll):
    return poll_event(PollOpened, poll, tags=poll["audience"]["tags"], questions=poll["questions"],
                      opens_at=timestamp(poll["opens_at"]), closes_at=timestamp(poll["closes_at"]))


def poll_answered(poll, answer):
    """Only a public poll's event says who answered and how."""
    shown = poll["public"]
    return poll_event(PollAnswered, poll, household_id=answer["household_id"] if shown else "",
                      resident_id=answer["resident_id"] if shown else "",
                      answers=answer["answers"] if shown else [])


def poll_closed(poll, counted):
    return poll_event(PollClosed, poll, closes_at=timestamp(poll["closes_at"]),
                      answer_count=counted["answer_count"], results=counted["questions"])
