"""Request schemas of the tickets service."""
from datetime import datetime
from functools import cached_property
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from services.tickets import photos as photo_rules
from services.validation import Schema

Moment = Annotated[datetime, Field(strict=False)]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
OptionalId = Id | Literal[""]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Note = Annotated[str, Field(max_length=2000)]
RequestId = Annotated[str, Field(max_length=100)]
Minutes = Annotated[int, Field(ge=1, le=60 * 24 * 365)]

Priority = Literal["LOW", "NORMAL", "HIGH", "URGENT"]
FieldType = Literal["STRING", "NUMBER", "BOOLEAN"]
AssigneeKind = Literal["GRID_WORKER", "ORGANISATION"]
TicketKind = Literal["REQUEST", "SUGGESTION", "DISPUTE", "HAZARD"]
Channel = Literal["STATION_WALK_IN", "ON_BEHALF_OF_RESIDENT", "SELF_SERVICE", "HOTLINE", "PATROL"]
TicketState = Literal["SUBMITTED", "TRIAGED", "REJECTED", "DUPLICATE", "ASSIGNED", "IN_PROGRESS",
                      "RESOLVED", "FEEDBACK", "CLOSED"]
ClosingReason = Literal["FIXED", "NOT_OUR_RESPONSIBILITY", "DUPLICATE_REPORT", "NO_ACTION_POSSIBLE"]
Queue = Literal["QUEUE_UNSPECIFIED", "SCOPE", "MINE", "ORGANISATION_QUEUE"]
FieldName = Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[a-z][a-z0-9_]*$")]


class CrossFieldSchema(Schema):
    """A schema with rules across fields (`problems`: pairs of field and description). They are
    checked once every field has parsed, and each violation names its own field rather than the
    request as a whole, as a client needs to point at what to fix."""

    def problems(self):
        return ()

    @model_validator(mode="after")
    def fields_agree(self):
        problems = list(self.problems())
        if problems:
            raise ValidationError.from_exception_data(type(self).__name__, [
                {"type": PydanticCustomError("cross_field", "{description}", {"description": description}),
                 "loc": tuple(field.split(".")), "input": self}
                for field, description in problems])
        return self


class Promise(Schema):
    priority: Priority
    first_response_minutes: Minutes
    resolution_minutes: Minutes


class ExtraField(Schema):
    name: FieldName
    type: FieldType
    required: bool = False
    description: Annotated[str, Field(max_length=500)] = ""


class Routing(Schema):
    """Its cross-field rules run as part of CreateCategory's, once the whole request has parsed."""

    assignee_kind: AssigneeKind
    organisation_id: OptionalId = ""

    def problems(self):
        if self.assignee_kind == "ORGANISATION" and not self.organisation_id:
            yield "routing.organisation_id", "is required when assignee_kind is ORGANISATION"
        if self.assignee_kind == "GRID_WORKER" and self.organisation_id:
            yield "routing.organisation_id", "goes only with assignee_kind ORGANISATION"


class CreateCategory(CrossFieldSchema):
    request_id: RequestId = ""
    name: Name
    group: Annotated[str, Field(max_length=100)] = ""
    promises: Annotated[list[Promise], Field(min_length=1, max_length=4)]
    routing: Routing
    extra_fields: Annotated[list[ExtraField], Field(max_length=30)] = []

    def problems(self):
        priorities = [promise.priority for promise in self.promises]
        if len(set(priorities)) != len(priorities):
            yield "promises", "one promise per priority"
        if "NORMAL" not in priorities:
            yield "promises", "a NORMAL promise is required (other priorities fall back to it)"
        names = [field.name for field in self.extra_fields]
        if len(set(names)) != len(names):
            yield "extra_fields", "names must be unique"
        yield from self.routing.problems()


class GetById(Schema):
    id: Id


class ListPage(Schema):
    page_size: int = 0
    page_token: str = ""


class Photo(Schema):
    id: Literal[""] = ""
    content_type: Literal[photo_rules.CONTENT_TYPES]
    data: Annotated[str, Field(min_length=1, max_length=photo_rules.PHOTO_BASE64_CHARACTERS)]

    @field_validator("data")
    @classmethod
    def bytes_are_what_they_say(cls, data, info):
        found = photo_rules.content_type_of(photo_rules.decoded(data))
        declared = info.data.get("content_type")
        if found is None:
            raise ValueError("is not a JPEG, PNG or WebP photo")
        if declared and found != declared:
            raise ValueError(f"is {found}, not {declared}")
        return data

    @cached_property
    def raw(self):
        """The photo's bytes, decoded once for the report's total and for storage."""
        return photo_rules.decoded(self.data)


class Location(Schema):
    latitude: Annotated[float, Field(ge=-90, le=90)]
    longitude: Annotated[float, Field(ge=-180, le=180)]


class CreateTicket(CrossFieldSchema):
    request_id: RequestId = ""
    kind: TicketKind
    channel: Channel
    category_id: Id
    node_id: Id
    reporter_resident_id: OptionalId = ""
    reporter_subject: Annotated[str, Field(max_length=200)] = ""
    description: Annotated[str, Field(min_length=1, max_length=5000)]
    extra: dict = {}
    priority: Priority = "NORMAL"
    household_ids: Annotated[list[Id], Field(max_length=20)] = []
    photos: Annotated[list[Photo], Field(max_length=photo_rules.PHOTOS_PER_REPORT)] = []
    location: Location | None = None

    def problems(self):
        yield from photos_within_total(self.photos)


def photos_within_total(photos):
    if sum(len(photo.raw) for photo in photos) > photo_rules.REPORT_PHOTO_BYTES:
        yield "photos", f"a report's photos may be at most {photo_rules.REPORT_PHOTO_BYTES // (1024 * 1024)} MB in all"


class GetTicketPhoto(Schema):
    ticket_id: Id
    photo_id: Id


class ListTickets(CrossFieldSchema):
    queue: Queue = "SCOPE"
    node_id: OptionalId = ""
    organisation_id: OptionalId = ""
    states: list[TicketState] = []
    category_id: OptionalId = ""
    kind: TicketKind | None = None
    priority: Priority | None = None
    created_after: Moment | None = None
    created_before: Moment | None = None
    page_size: int = 0
    page_token: str = ""

    def problems(self):
        if self.queue == "ORGANISATION_QUEUE" and not self.organisation_id:
            yield "organisation_id", "is required with queue ORGANISATION_QUEUE"


class ListSimilar(Schema):
    node_id: Id
    category_id: Id


class Triage(CrossFieldSchema):
    id: Id
    decision: Literal["ACCEPT", "REJECT", "MARK_DUPLICATE"]
    reason: Note = ""
    duplicate_of: OptionalId = ""
    note: Note = ""

    def problems(self):
        if self.decision == "REJECT" and not self.reason:
            yield "reason", "is required to reject"
        if self.decision == "MARK_DUPLICATE" and not self.duplicate_of:
            yield "duplicate_of", "is required to mark a duplicate"
        if self.duplicate_of == self.id:
            yield "duplicate_of", "a ticket cannot duplicate itself"


class Assign(CrossFieldSchema):
    id: Id
    assignee_subject: Annotated[str, Field(max_length=200)] = ""
    organisation_id: OptionalId = ""
    note: Note = ""

    def problems(self):
        if self.assignee_subject and self.organisation_id:
            yield "organisation_id", "give assignee_subject or organisation_id, not both"


class WithNote(Schema):
    id: Id
    note: Note = ""


class Resolve(Schema):
    id: Id
    resolution: Annotated[str, Field(min_length=1, max_length=2000)]


class Feedback(Schema):
    """A resident's rating of a resolved ticket (SubmitTicketFeedback) or a completed project
    (SubmitProjectFeedback)."""

    id: Id
    satisfaction: Annotated[int, Field(ge=1, le=5)]
    comment: Note = ""


class Close(CrossFieldSchema):
    id: Id
    closing_reason: ClosingReason
    referred_to: Annotated[str, Field(max_length=200)] = ""
    note: Note = ""

    def problems(self):
        if self.closing_reason == "NOT_OUR_RESPONSIBILITY" and not self.referred_to:
            yield "referred_to", "is required with NOT_OUR_RESPONSIBILITY"


class WithReason(Schema):
    id: Id
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class AddParty(CrossFieldSchema):
    id: Id
    household_id: OptionalId = ""
    organisation_id: OptionalId = ""
    note: Note = ""

    def problems(self):
        if bool(self.household_id) == bool(self.organisation_id):
            yield "household_id", "give exactly one of household_id or organisation_id"


class Figures(CrossFieldSchema):
    node_id: OptionalId = ""
    start_time: Moment
    end_time: Moment

    def problems(self):
        if self.end_time <= self.start_time:
            yield "end_time", "must be after start_time"


class VolunteerSkill(Schema):
    name: Annotated[str, Field(min_length=1, max_length=60)]
    min_level: Annotated[int, Field(ge=1, le=5)]


class RequestVolunteers(Schema):
    """The task's own rules (time window, people needed) are checked by the volunteers service."""

    id: Id
    request_id: RequestId = ""
    title: Name
    description: Note = ""
    required_skills: Annotated[list[VolunteerSkill], Field(max_length=20)] = []
    required_certification: Annotated[str, Field(max_length=60)] = ""
    start_time: Annotated[str, Field(min_length=1)]
    end_time: Annotated[str, Field(min_length=1)]
    people_needed: Annotated[int, Field(ge=1, le=500)]
    team_id: OptionalId = ""
    auto_dispatch: bool = False


# Deliberation meetings and projects

MeetingState = Literal["PROPOSED", "COMMITTEE_REVIEW", "DELIBERATION", "RESOLVED", "DECISION_PUBLISHED",
                       "OUTCOME_PUBLISHED"]
Decision = Literal["ADOPTED", "REJECTED", "REFERRED_UPWARD"]
Title = Annotated[str, Field(min_length=1, max_length=200)]
Subject = Annotated[str, Field(max_length=200)]


class Attendee(CrossFieldSchema):
    kind: Literal["STAFF", "BUILDING_LEADER", "RESIDENT", "ORGANISATION"]
    person_id: Subject = ""
    organisation_id: OptionalId = ""
    name: Annotated[str, Field(max_length=100)] = ""

    def problems(self):
        if self.kind == "ORGANISATION" and not self.organisation_id:
            yield "organisation_id", "is required for an ORGANISATION attendee"
        if self.kind != "ORGANISATION" and not self.person_id:
            yield "person_id", "is required for a person attending"


class CreateMeeting(Schema):
    request_id: RequestId = ""
    node_id: Id
    title: Title
    held_at: Moment
    place_station_id: OptionalId = ""
    convenor: Subject = ""
    attendees: Annotated[list[Attendee], Field(max_length=200)] = []


class ListBelowNode(Schema):
    """Meetings or projects at a node and below it, or anywhere in the caller's scope."""

    node_id: OptionalId = ""
    page_size: int = 0
    page_token: str = ""


class SuggestAgenda(Schema):
    node_id: Id


class AddAgendaItem(Schema):
    id: Id
    ticket_id: Id


class AdvanceMeeting(Schema):
    id: Id
    from_state: MeetingState | None = None
    note: Note = ""


class DecideAgendaItem(CrossFieldSchema):
    id: Id
    ticket_id: Id
    decision: Decision
    reason: Note = ""

    def problems(self):
        if self.decision == "REJECTED" and not self.reason.strip():
            yield "reason", "is required to reject"


class RecordMinutes(Schema):
    id: Id
    minutes: Annotated[str, Field(min_length=1, max_length=20000)]


class CreateProject(Schema):
    request_id: RequestId = ""
    meeting_id: Id
    ticket_id: Id
    title: Title
    owner: Subject = ""
    budget_line: Annotated[str, Field(max_length=200)] = ""
    milestone_titles: Annotated[list[Title], Field(min_length=1, max_length=20)]
    household_ids: Annotated[list[Id], Field(max_length=500)] = []


class UpdateMilestone(CrossFieldSchema):
    id: Id
    milestone_index: Annotated[int, Field(ge=0)] = 0
    progress_percent: Annotated[int, Field(ge=0, le=100)] = 0
    note: Note = ""
    photos: Annotated[list[Photo], Field(max_length=photo_rules.PHOTOS_PER_REPORT)] = []

    def problems(self):
        yield from photos_within_total(self.photos)


class GetProjectPhoto(Schema):
    project_id: Id
    photo_id: Id


class CompleteProject(Schema):
    id: Id
    outcome: Note = ""
