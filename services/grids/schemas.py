"""Request schemas of the grids service."""
from typing import Annotated, Literal

from pydantic import Field

from services.validation import Schema

NodeKind = Literal["CITY", "STREET", "COMMUNITY", "DISTRICT", "GRID", "MICRO_GRID", "BUILDING"]
Occupancy = Literal["VACANT", "OWNER_OCCUPIED", "RENTED"]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
RequestId = Annotated[str, Field(max_length=100)]

# Which kind of node may hang below which: district and micro-grid are optional levels.
ALLOWED_PARENTS = {
    "CITY": (),
    "STREET": ("CITY",),
    "COMMUNITY": ("STREET",),
    "DISTRICT": ("COMMUNITY",),
    "GRID": ("COMMUNITY", "DISTRICT"),
    "MICRO_GRID": ("GRID",),
    "BUILDING": ("GRID", "MICRO_GRID"),
}


class CreateNode(Schema):
    request_id: RequestId = ""
    kind: NodeKind
    display_name: Name
    parent_id: Id | Literal[""] = ""


class GetById(Schema):
    id: Id


class ListNodes(Schema):
    parent_id: Id | Literal[""] = ""
    page_size: int = 0
    page_token: str = ""


class NodeChanges(Schema):
    display_name: Name | None = None


class UpdateNode(Schema):
    node: dict
    update_mask: list[str]


class CreateFlat(Schema):
    request_id: RequestId = ""
    building_id: Id
    unit: Annotated[str, Field(max_length=20)] = ""
    floor: Annotated[int, Field(ge=-10, le=200)] = 0
    number: Annotated[str, Field(min_length=1, max_length=20)]
    occupancy: Occupancy = "VACANT"


class ListFlats(Schema):
    building_id: Id
    page_size: int = 0
    page_token: str = ""


class FlatChanges(Schema):
    unit: Annotated[str, Field(max_length=20)] | None = None
    floor: Annotated[int, Field(ge=-10, le=200)] | None = None
    number: Annotated[str, Field(min_length=1, max_length=20)] | None = None
    occupancy: Occupancy | None = None


class UpdateFlat(Schema):
    flat: dict
    update_mask: list[str]


class GetBuildingView(Schema):
    building_id: Id


class GetNodeFigures(Schema):
    node_id: Id


class EnsureFlats(Schema):
    flats: Annotated[list[dict], Field(max_length=1000)]


# Staff posts, organisations and service stations at nodes.

PostKind = Literal["GRID_LEADER", "GRID_WORKER", "BUILDING_LEADER", "ROAD_LEADER", "ALLEY_LEADER", "SHOP_LEADER",
                   "COMMUNITY_STAFF", "STREET_STAFF"]
# The node kinds each post is held at; the "five leaders" of roads, alleys and shops serve a grid
# or, where a community names them once for all its grids, the community or district.
POST_NODE_KINDS = {
    "GRID_LEADER": ("GRID",),
    "GRID_WORKER": ("GRID", "MICRO_GRID"),
    "BUILDING_LEADER": ("BUILDING",),
    "ROAD_LEADER": ("GRID", "DISTRICT", "COMMUNITY"),
    "ALLEY_LEADER": ("GRID", "DISTRICT", "COMMUNITY"),
    "SHOP_LEADER": ("GRID", "DISTRICT", "COMMUNITY"),
    "COMMUNITY_STAFF": ("COMMUNITY",),
    "STREET_STAFF": ("STREET",),
}
# Posts a node has at most one holder of.
SOLE_POSTS = ("GRID_LEADER",)
OrganisationKind = Literal["PROPERTY_COMPANY", "OWNERS_COMMITTEE", "POLICE_POST", "CLINIC", "SOCIAL_ORGANISATION",
                           "SCHOOL"]
ORGANISATION_NODE_KINDS = ("STREET", "COMMUNITY", "DISTRICT", "GRID")
STATION_NODE_KINDS = ("COMMUNITY", "GRID")
Weekday = Literal["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
Phone = Annotated[str, Field(max_length=20, pattern=r"^$|^\+?[0-9][0-9 -]{2,19}$")]
ClockTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")]


class Person(Schema):
    subject: Annotated[str, Field(min_length=1, max_length=200)]
    display_name: Name
    phone: Phone = ""


class AssignPost(Schema):
    request_id: RequestId = ""
    node_id: Id
    kind: PostKind
    holder: Person


class ListPosts(Schema):
    node_id: Id
    # Posts at the node and every node below it, not only at the node itself.
    include_descendants: bool = False
    holder_subject: Annotated[str, Field(max_length=200)] = ""
    page_size: int = 0
    page_token: str = ""


class StaffFor(Schema):
    node_id: Id
    posts: Annotated[list[PostKind], Field(min_length=1, max_length=len(POST_NODE_KINDS))]


class Contact(Schema):
    display_name: Name
    role: Annotated[str, Field(max_length=100)] = ""
    phone: Phone = ""
    email: Annotated[str, Field(max_length=200, pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")] = ""


class CreateOrganisation(Schema):
    request_id: RequestId = ""
    node_id: Id
    kind: OrganisationKind
    display_name: Name
    address: Annotated[str, Field(max_length=300)] = ""
    contacts: Annotated[list[Contact], Field(max_length=50)] = []


class ListAttached(Schema):
    node_id: Id
    include_descendants: bool = False
    page_size: int = 0
    page_token: str = ""


class OpeningHours(Schema):
    weekday: Weekday
    open: ClockTime
    close: ClockTime


class CreateStation(Schema):
    request_id: RequestId = ""
    node_id: Id
    display_name: Name
    time_zone: Annotated[str, Field(max_length=64)] = "Asia/Shanghai"
    opening_hours: Annotated[list[OpeningHours], Field(max_length=28)] = []


class AddDuty(Schema):
    request_id: RequestId = ""
    station_id: Id
    person: Person
    weekday: Weekday
    start: ClockTime
    end: ClockTime


class ListDuties(Schema):
    station_id: Id
    page_size: int = 0
    page_token: str = ""


class GetStationOnDuty(Schema):
    station_id: Id
    at: str = ""


class MoveNode(Schema):
    id: Id
    parent_id: Id
