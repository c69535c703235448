"""Request schemas of the notifications service."""
import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field

from services.notifications import webhooks
from services.validation import Schema, moment

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
RequestId = Annotated[str, Field(max_length=100)]
EventType = Annotated[str, Field(pattern=r"^civicgrid\.[a-z_]+\.[a-z_]+\.[a-z_]+\.v[0-9]+$", max_length=120)]
Tag = Annotated[str, Field(min_length=1, max_length=40)]


def json_int64(value):
    """protobuf's JSON form carries int64 as a string."""
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,19}", value):
        return int(value)
    return value


def allowed_webhook_url(value):
    problem = webhooks.url_problem(value) if value else ""
    if problem or (value and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value)):
        raise ValueError(problem or "must be an https URL")
    return value


Position = Annotated[int, BeforeValidator(json_int64), Field(ge=0)]


class ListInbox(Schema):
    unread_only: bool = False
    page_size: int = 0
    page_token: str = ""


class MarkRead(Schema):
    message_ids: Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(min_length=1, max_length=500)]


class Audience(Schema):
    node_id: Id
    tags: Annotated[list[Tag], Field(max_length=20)] = []


class CreateNotice(Schema):
    request_id: RequestId = ""
    audience: Audience
    title: Annotated[str, Field(min_length=1, max_length=200)]
    body: Annotated[str, Field(min_length=1, max_length=4000)]
    urgent: bool = False


class GetById(Schema):
    id: Id


def distinct_labels(choices):
    labels = [choice.label for choice in choices]
    if len(labels) != len(set(labels)):
        raise ValueError("must be distinct")
    return choices


Moment = Annotated[str, AfterValidator(moment)]
ChoiceLabel = Annotated[str, Field(min_length=1, max_length=200)]


class PollChoice(Schema):
    label: ChoiceLabel


class PollQuestion(Schema):
    text: Annotated[str, Field(min_length=1, max_length=500)]
    kind: Literal["SINGLE_CHOICE", "MULTIPLE_CHOICE"]
    choices: Annotated[list[PollChoice], Field(min_length=2, max_length=20), AfterValidator(distinct_labels)]


class CreatePoll(Schema):
    request_id: RequestId = ""
    audience: Audience
    title: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=4000)] = ""
    questions: Annotated[list[PollQuestion], Field(min_length=1, max_length=20)]
    per: Literal["HOUSEHOLD", "RESIDENT"]
    opens_at: Moment | Literal[""] = ""
    closes_at: Moment
    public: bool = False


class ListPolls(Schema):
    node_id: Id | Literal[""] = ""
    page_size: int = 0
    page_token: str = ""


class QuestionAnswer(Schema):
    question_id: Annotated[str, Field(min_length=1, max_length=8)]
    choice_ids: Annotated[list[Annotated[str, Field(min_length=1, max_length=8)]], Field(max_length=20)] = []


class AnswerPoll(Schema):
    id: Id
    answers: Annotated[list[QuestionAnswer], Field(min_length=1, max_length=20)]


class CreatePartnerSubscription(Schema):
    request_id: RequestId = ""
    event_types: Annotated[list[EventType], Field(min_length=1, max_length=50)]
    scope_node_ids: Annotated[list[Id], Field(min_length=1, max_length=100)]
    webhook_url: Annotated[str, Field(max_length=2000), AfterValidator(allowed_webhook_url)] = ""
    ticket_kinds: Annotated[list[Literal["REQUEST", "SUGGESTION", "DISPUTE", "HAZARD"]], Field(max_length=4)] = []
    category_ids: Annotated[list[Id], Field(max_length=100)] = []
    skills: Annotated[list[Annotated[str, Field(min_length=1, max_length=60)]], Field(max_length=20)] = []
    ours_only: bool = False


class ListPartnerSubscriptions(Schema):
    page_size: int = 0
    page_token: str = ""


class ListPartnerEvents(Schema):
    from_position: Position = 0
    page_size: Annotated[int, Field(ge=0, le=500)] = 0


class Empty(Schema):
    pass


def valid_clock(value):
    if value and not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", value):
        raise ValueError("must be a time of day as HH:MM")
    return value


def valid_time_zone(value):
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone such as Asia/Shanghai") from None
    return value


Clock = Annotated[str, AfterValidator(valid_clock)]


class PreferenceChanges(Schema):
    language: Literal["zh-CN", "en"] | None = None
    sms_enabled: bool | None = None
    sms_phone: Annotated[str, Field(pattern=r"^(\+?[0-9]{6,20})?$")] | None = None
    quiet_start: Clock | None = None
    quiet_end: Clock | None = None
    time_zone: Annotated[str, Field(max_length=64), AfterValidator(valid_time_zone)] | None = None


PREFERENCE_DEFAULTS = {"language": "zh-CN", "sms_enabled": False, "sms_phone": "", "quiet_start": "",
                       "quiet_end": "", "time_zone": "Asia/Shanghai"}


class UpdatePreferences(Schema):
    preferences: dict = {}
    update_mask: list[str] = []
