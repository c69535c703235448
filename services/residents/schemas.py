"""Request schemas of the residents service."""
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from services.residents.pii import check_national_id, check_phone
from services.validation import Schema, calendar_day, latest_local_day

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Name = Annotated[str, Field(min_length=1, max_length=100)]
RequestId = Annotated[str, Field(max_length=100)]

PUBLIC_TAGS = frozenset({
    "elderly", "living_alone", "veteran", "disabled", "special_service_family",
    "childbearing_age_woman", "fully_vaccinated", "empty_nest", "child",
})
# Seen, set and filtered only by callers granted "sensitive_tags".
SENSITIVE_TAGS = frozenset({"community_correction", "resettlement", "mental_disability"})
SENSITIVE_GRANT = "sensitive_tags"
Relation = Literal["head", "spouse", "child", "parent", "grandparent", "grandchild", "sibling",
                   "in_law", "tenant", "other"]
Gender = Literal["FEMALE", "MALE", "GENDER_UNSPECIFIED"]
# A departed resident is kept (history, visits) but left out of lists and figures by default.
DEPARTED = ("DECEASED", "MOVED_OUT_OF_CITY")
VULNERABLE_TAGS = ("elderly", "living_alone", "disabled")


def known_tags(tags):
    unknown = sorted(set(tags) - PUBLIC_TAGS - SENSITIVE_TAGS)
    if unknown:
        raise ValueError(f"unknown tags {unknown}; known: {sorted(PUBLIC_TAGS | SENSITIVE_TAGS)}")
    return sorted(set(tags))


def past_date(value):
    try:
        born = date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date as YYYY-MM-DD") from None
    if born > latest_local_day() or born.year < 1880:
        raise ValueError("must be a real birth date, not in the future")
    return value


def past_day(value):
    day = calendar_day(value)
    if day > latest_local_day():
        raise ValueError("must not be in the future")
    return day.isoformat()


Tags = Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=20), AfterValidator(known_tags)]
BirthDate = Annotated[str, AfterValidator(past_date)]
NationalId = Annotated[str, AfterValidator(check_national_id)]
Phone = Annotated[str, Field(max_length=20), AfterValidator(check_phone)]
NamePrefix = Annotated[str, Field(max_length=100)]


class CreateHousehold(Schema):
    request_id: RequestId = ""
    flat_id: Id
    display_name: Name


class GetById(Schema):
    id: Id


class ListByNode(Schema):
    node_id: Id | Literal[""] = ""
    page_size: int = 0
    page_token: str = ""


class ListResidents(ListByNode):
    tags: Tags = []
    # Residents whose name starts with this, within the scope (e.g. a family name).
    name_prefix: NamePrefix = ""
    include_departed: bool = False


class FindResidents(Schema):
    phone: Phone | Literal[""] = ""
    national_id: NationalId | Literal[""] = ""


class HouseholdChanges(Schema):
    display_name: Name | None = None


class UpdateHousehold(Schema):
    household: dict
    update_mask: list[str]


class CreateResident(Schema):
    request_id: RequestId = ""
    household_id: Id
    display_name: Name
    relation: Relation = "other"
    # May be left out when national_id is given: the ID carries it.
    birth_date: BirthDate | Literal[""] = ""
    gender: Gender = "GENDER_UNSPECIFIED"
    tags: Tags = []
    national_id: NationalId | Literal[""] = ""
    phone: Phone | Literal[""] = ""


class ResidentChanges(Schema):
    display_name: Name | None = None
    relation: Relation | None = None
    birth_date: BirthDate | None = None
    gender: Gender | None = None
    tags: Tags | None = None
    phone: Phone | Literal[""] | None = None
    national_id: NationalId | Literal[""] | None = None


class UpdateResident(Schema):
    resident: dict
    update_mask: list[str]


class Empty(Schema):
    pass


class BindResidentAccount(Schema):
    resident_id: Id
    subject: Annotated[str, Field(min_length=1, max_length=200)]


class MoveResident(Schema):
    id: Id
    household_id: Id


class RecordDeparture(Schema):
    id: Id
    status: Literal["DECEASED", "MOVED_OUT_OF_CITY"]
    departure_date: Annotated[str, AfterValidator(past_day)]


class CountPeople(Schema):
    node_id: Id


FIND_LIMIT = 50
# Unvisited households are ranked in memory; a scope is a community or smaller in practice.
UNVISITED_SCAN_LIMIT = 20000


class LogVisit(Schema):
    request_id: RequestId = ""
    household_id: Id
    visit_date: Annotated[str, AfterValidator(past_day)]
    findings: Annotated[str, Field(max_length=2000)] = ""


class ListVisits(ListByNode):
    household_id: Id | Literal[""] = ""


class ListUnvisitedHouseholds(Schema):
    node_id: Id
    days: Annotated[int, Field(ge=1, le=3650)]
    limit: Annotated[int, Field(ge=1, le=1000)] = 100


class VisitQuotaReport(Schema):
    node_id: Id
    period_start: Annotated[str, AfterValidator(past_day)]
    period_end: Annotated[str, AfterValidator(past_day)]
    # Distinct households each visitor must visit in the period, e.g. 3 a month, 10 a week.
    quota: Annotated[int, Field(ge=1, le=10000)]
    # Visitors who must appear even with no visit (party members, community leaders).
    visitors: Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=1000)] = []


class ImportRow(Schema):
    """One CSV row of a community import: a resident, their household and its flat. Field
    names are the CSV's column names, so a row error names the column at fault."""

    row: Annotated[int, Field(ge=1)]
    building: Id
    unit: Annotated[str, Field(max_length=20)] = ""
    floor: Annotated[int, Field(ge=-10, le=200)] = 0
    flat: Annotated[str, Field(min_length=1, max_length=20)]
    occupancy: Literal["VACANT", "OWNER_OCCUPIED", "RENTED"] = "OWNER_OCCUPIED"
    household: Name
    name: Name
    relation: Relation = "other"
    birth_date: BirthDate | Literal[""] = ""
    gender: Gender = "GENDER_UNSPECIFIED"
    tags: Tags = []
    national_id: NationalId | Literal[""] = ""
    phone: Phone | Literal[""] = ""


class ImportResidents(Schema):
    rows: Annotated[list[dict], Field(min_length=1, max_length=1000)]
