"""Request schemas of the volunteers service."""
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from services.validation import Schema, calendar_day, moment

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
OptionalId = Id | Literal[""]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Label = Annotated[str, Field(min_length=1, max_length=60)]
Subject = Annotated[str, Field(min_length=1, max_length=200)]
RequestId = Annotated[str, Field(max_length=100)]
Weekday = Literal["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
TeamPurpose = Literal["MEDICAL", "VETERANS", "CHILDCARE", "TEACHERS", "OTHER"]
HoursGroup = Literal["BY_VOLUNTEER", "BY_TEAM"]


def clock_time(value):
    try:
        parsed = datetime.strptime(value, "%H:%M")
    except ValueError:
        raise ValueError("must be a time as HH:MM") from None
    return parsed.strftime("%H:%M")


def calendar_date(value):
    return calendar_day(value).isoformat()


def distinct_names(items):
    names = [item.name for item in items]
    if len(names) != len(set(names)):
        raise ValueError("names must be distinct")
    return items


Clock = Annotated[str, AfterValidator(clock_time)]
Date = Annotated[str, AfterValidator(calendar_date)]
Moment = Annotated[str, AfterValidator(moment)]
Level = Annotated[int, Field(ge=1, le=5)]


class Skill(Schema):
    name: Label
    level: Level


class Certification(Schema):
    name: Label
    expires_on: Date


class AvailabilitySlot(Schema):
    weekday: Weekday
    start: Clock
    end: Clock

    @model_validator(mode="after")
    def start_before_end(self):
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self


Skills = Annotated[list[Skill], Field(max_length=50), AfterValidator(distinct_names)]
Certifications = Annotated[list[Certification], Field(max_length=50), AfterValidator(distinct_names)]
Availability = Annotated[list[AvailabilitySlot], Field(max_length=50)]


class CreateVolunteer(Schema):
    request_id: RequestId = ""
    subject: Subject
    display_name: Name
    resident_id: OptionalId = ""
    home_node_id: Id
    skills: Skills = []
    certifications: Certifications = []
    availability: Availability = []


class VolunteerChanges(Schema):
    display_name: Name | None = None
    resident_id: OptionalId | None = None
    skills: Skills | None = None
    certifications: Certifications | None = None
    availability: Availability | None = None


class UpdateVolunteer(Schema):
    volunteer: dict
    update_mask: list[str]


class GetById(Schema):
    id: Id


class ListVolunteers(Schema):
    node_id: OptionalId = ""
    skill: Annotated[str, Field(max_length=60)] = ""
    page_size: int = 0
    page_token: str = ""


Members = Annotated[list[Id], Field(max_length=1000)]
Coordinators = Annotated[list[Subject], Field(max_length=50)]


class CreateTeam(Schema):
    request_id: RequestId = ""
    display_name: Name
    purpose: TeamPurpose
    speciality: Annotated[str, Field(max_length=100)] = ""
    node_id: Id
    coordinators: Coordinators = []
    member_ids: Members = []


class TeamChanges(Schema):
    display_name: Name | None = None
    speciality: Annotated[str, Field(max_length=100)] | None = None
    coordinators: Coordinators | None = None
    member_ids: Members | None = None


class UpdateTeam(Schema):
    team: dict
    update_mask: list[str]


class ListTeams(Schema):
    member_id: OptionalId = ""
    page_size: int = 0
    page_token: str = ""


class SkillRequirement(Schema):
    name: Label
    min_level: Level


class CreateTask(Schema):
    request_id: RequestId = ""
    title: Name
    description: Annotated[str, Field(max_length=2000)] = ""
    node_id: Id
    required_skills: Annotated[list[SkillRequirement], Field(max_length=20),
                               AfterValidator(distinct_names)] = []
    required_certification: Annotated[str, Field(max_length=60)] = ""
    start_time: Moment
    end_time: Moment
    offer_deadline: Moment | Literal[""] = ""
    people_needed: Annotated[int, Field(ge=1, le=500)]
    auto_dispatch: bool = False
    ticket_id: OptionalId = ""
    team_id: OptionalId = ""
    served_subject: Annotated[str, Field(max_length=200)] = ""

    @model_validator(mode="after")
    def window_in_order(self):
        if self.end_time <= self.start_time:
            raise ValueError("end_time must be after start_time")
        if self.offer_deadline and self.offer_deadline > self.end_time:
            raise ValueError("offer_deadline must not be after end_time")
        return self


class ListTasks(Schema):
    node_id: OptionalId = ""
    page_size: int = 0
    page_token: str = ""


class ListOpenTasks(Schema):
    page_size: Annotated[int, Field(ge=0, le=500)] = 0


class DispatchTask(Schema):
    id: Id
    volunteer_ids: Annotated[list[Id], Field(min_length=1, max_length=500)]


class Attendance(Schema):
    task_id: Id
    volunteer_id: OptionalId = ""
    time: Moment | Literal[""] = ""


class GiveFeedback(Schema):
    task_id: Id
    rating: Annotated[int, Field(ge=1, le=5)]
    comment: Annotated[str, Field(max_length=2000)] = ""


class RankVolunteers(Schema):
    task_id: Id
    limit: Annotated[int, Field(ge=0, le=5000)] = 0


class Period(Schema):
    start_date: Date
    end_date: Date

    @model_validator(mode="after")
    def start_before_end(self):
        if self.end_date <= self.start_date:
            raise ValueError("end_date must be after start_date")
        return self


class GetHoursLedger(Period):
    volunteer_id: OptionalId = ""
    team_id: OptionalId = ""


class SummarizeHours(Period):
    group_by: HoursGroup = "BY_VOLUNTEER"
    active_hours_per_month: Annotated[float, Field(ge=0, le=744)] = 0.0
    limit: Annotated[int, Field(ge=0, le=5000)] = 0


RotationPeriod = Literal["WEEK", "MONTH", "QUARTER"]


class CreateRotation(Schema):
    request_id: RequestId = ""
    organisation_id: Id
    # The community (or other node) the rotated grids lie under; scope checks use it.
    node_id: Id
    grid_ids: Annotated[list[Id], Field(min_length=1, max_length=200)]
    period: RotationPeriod
    start_date: Date

    @model_validator(mode="after")
    def consistent(self):
        if len(set(self.grid_ids)) != len(self.grid_ids):
            raise ValueError("grid_ids must be distinct")
        if self.period != "WEEK" and not self.start_date.endswith("-01"):
            raise ValueError("a monthly or quarterly rotation has a start_date on the first of a month")
        return self


class RotationOn(Schema):
    rotation_id: Id
    date: Date


class RecordActivity(Schema):
    request_id: RequestId = ""
    organisation_id: Id
    grid_id: Id
    date: Date
    title: Name


class RotationReport(Schema):
    date: Date
    node_id: OptionalId = ""
    behind_only: bool = False
