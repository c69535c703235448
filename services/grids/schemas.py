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
