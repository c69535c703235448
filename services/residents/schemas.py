"""Request schemas of the residents service."""
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from services.validation import Schema

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
    if born > date.today() or born.year < 1880:
        raise ValueError("must be a real birth date, not in the future")
    return value


Tags = Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=20), AfterValidator(known_tags)]
BirthDate = Annotated[str, AfterValidator(past_date)]


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
    birth_date: BirthDate
    gender: Gender = "GENDER_UNSPECIFIED"
    tags: Tags = []


class ResidentChanges(Schema):
    display_name: Name | None = None
    relation: Relation | None = None
    birth_date: BirthDate | None = None
    gender: Gender | None = None
    tags: Tags | None = None


class UpdateResident(Schema):
    resident: dict
    update_mask: list[str]
