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
# What hangs directly below a grid, and so moves when grids are split or merged.
GRID_CHILD_KINDS = tuple(kind for kind, parents in ALLOWED_PARENTS.items() if "GRID" in parents)
# City, street and community are fixed levels, so a community's id is third in every path below it.
COMMUNITY_DEPTH = 2


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


# Re-dividing grids.

class SplitGrid(Schema):
    # Required with new_grid_display_name: a retry finds the grid the first attempt made.
    request_id: RequestId = ""
    grid_id: Id
    child_ids: Annotated[list[Id], Field(min_length=1, max_length=500)]
    # One of the two: a new grid below the same parent, or an existing grid of the same community.
    new_grid_display_name: Name | Literal[""] = ""
    target_grid_id: Id | Literal[""] = ""


class MergeGrids(Schema):
    source_id: Id
    target_id: Id
    # Posts held at the source grid are removed with it; without this, they refuse the merge.
    retire_posts: bool = False


# Updates of what is attached to nodes. A post's kind, node and holder subject are what the post
# is (its id is made of them), so they are not updatable: RemovePost and AssignPost change them.

class PostChanges(Schema):
    holder: Person | None = None


class UpdatePost(Schema):
    post: dict
    update_mask: list[str]


class OrganisationChanges(Schema):
    kind: OrganisationKind | None = None
    display_name: Name | None = None
    address: Annotated[str, Field(max_length=300)] | None = None
    contacts: Annotated[list[Contact], Field(max_length=50)] | None = None


class UpdateOrganisation(Schema):
    organisation: dict
    update_mask: list[str]


class StationChanges(Schema):
    display_name: Name | None = None
    time_zone: Annotated[str, Field(max_length=64)] | None = None
    opening_hours: Annotated[list[OpeningHours], Field(max_length=28)] | None = None


class UpdateStation(Schema):
    station: dict
    update_mask: list[str]
