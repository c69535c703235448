"""Contracts of the events the grids service publishes, and how its records make them."""
from typing import Annotated

from pydantic import Field

from services.events import EventData, contract, envelope

NodeKind = Annotated[str, Field(description="Kind of node: CITY, STREET, COMMUNITY, DISTRICT, GRID, MICRO_GRID "
                                            "or BUILDING.")]


class NodeData(EventData):
    id: str
    kind: NodeKind
    display_name: str
    parent_id: str
    path: list[str]


@contract("civicgrid.grids.node.created.v1")
class NodeCreated(NodeData):
    """A node of the city's hierarchy was created: a city, street, community, district, grid,
    micro-grid or building."""


@contract("civicgrid.grids.node.updated.v1")
class NodeUpdated(NodeData):
    """A node was renamed."""

    changed: list[str]


@contract("civicgrid.grids.node.deleted.v1")
class NodeDeleted(NodeData):
    """A node was deleted, or retired by a grid merge; the data is the node as it was."""


class FlatData(EventData):
    id: str
    building_id: str
    unit: str
    floor: int
    number: str
    occupancy: str
    path: list[str]


@contract("civicgrid.grids.flat.created.v1")
class FlatCreated(FlatData):
    """A flat was registered in a building."""


@contract("civicgrid.grids.flat.updated.v1")
class FlatUpdated(FlatData):
    """A flat's unit, floor, number or occupancy was corrected or changed."""

    changed: list[str]


@contract("civicgrid.grids.flat.deleted.v1")
class FlatDeleted(FlatData):
    """A flat was deleted from its building; the data is the flat as it was."""


@contract("civicgrid.grids.flat.occupancy_changed.v1")
class FlatOccupancyChanged(EventData):
    """A flat became vacant, owner-occupied or rented (sent besides flat.updated)."""

    id: str
    building_id: str
    path: list[str]
    previous_occupancy: str
    occupancy: str
    changed_by: str


@contract("civicgrid.grids.node.moved.v1")
class NodeMoved(EventData):
    """A grid moved to another community or district, or a building or micro-grid to another grid
    (grids split or merged). Records below the node carry `previous_path` as their path's prefix
    until they follow: replace it by `path` wherever the node's id appears in a path."""
    id: str
    kind: NodeKind
    display_name: str
    previous_parent_id: str
    parent_id: str
    previous_path: list[str]
    path: list[str]


class PersonData(EventData):
    subject: str
    display_name: str
    phone: str


class PostData(EventData):
    id: str
    node_id: str
    node_kind: str
    kind: str = Field(description="The post: GRID_LEADER, GRID_WORKER, BUILDING_LEADER, ROAD_LEADER, ALLEY_LEADER, "
                                  "SHOP_LEADER, COMMUNITY_STAFF or STREET_STAFF.")
    holder: PersonData
    path: list[str]


@contract("civicgrid.grids.post.assigned.v1")
class PostAssigned(PostData):
    """A person took up a staff post at a node, e.g. grid leader of a grid or building leader."""


@contract("civicgrid.grids.post.removed.v1")
class PostRemoved(PostData):
    """A person left a staff post at a node (removed, or the grid merged away)."""


@contract("civicgrid.grids.post.updated.v1")
class PostUpdated(PostData):
    """The name or phone of a post's holder was corrected."""

    changed: list[str]


class ContactData(EventData):
    display_name: str
    role: str
    phone: str
    email: str


class OrganisationData(EventData):
    id: str
    node_id: str
    kind: str = Field(description="Kind of organisation: PROPERTY_COMPANY, OWNERS_COMMITTEE, POLICE_POST, CLINIC, "
                                  "SOCIAL_ORGANISATION or SCHOOL.")
    display_name: str
    address: str
    contacts: list[ContactData]
    path: list[str]


@contract("civicgrid.grids.organisation.created.v1")
class OrganisationCreated(OrganisationData):
    """An organisation serving a street, community, district or grid was registered there."""


@contract("civicgrid.grids.organisation.updated.v1")
class OrganisationUpdated(OrganisationData):
    """An organisation's kind, name, address or contacts changed. Also sent, with `node_id` and
    `path` changed, when a merge moves the organisation from the retired grid to the one that
    absorbed it."""
    changed: list[str]


class OpeningHoursData(EventData):
    weekday: str
    open: str
    close: str


class StationData(EventData):
    id: str
    node_id: str
    display_name: str
    time_zone: str
    opening_hours: list[OpeningHoursData]
    path: list[str]


@contract("civicgrid.grids.station.created.v1")
class StationCreated(StationData):
    """A service station, where residents walk in, was opened at a community or grid."""


@contract("civicgrid.grids.station.updated.v1")
class StationUpdated(StationData):
    """A station's name, time zone or opening hours changed. Also sent, with `node_id` and `path`
    changed, when a merge moves the station (and its rota) from the retired grid to the one that
    absorbed it."""
    changed: list[str]


class DutyData(EventData):
    id: str
    station_id: str
    person: PersonData
    weekday: str
    start: str = Field(description="When the duty starts, HH:MM in the station's time zone.")
    end: str = Field(description="When the duty ends, HH:MM in the station's time zone.")
    path: list[str]


@contract("civicgrid.grids.duty.added.v1")
class DutyAdded(DutyData):
    """A person was put on a station's weekly rota."""


@contract("civicgrid.grids.duty.removed.v1")
class DutyRemoved(DutyData):
    """A duty was taken off a station's weekly rota."""


@contract("civicgrid.grids.grid.split.v1")
class GridSplit(EventData):
    """Children of grid `id` (buildings, micro-grids) now hang below grid `target_id`. Each moved
    child also has its own node.moved.v1 event: that is what records below it follow."""
    id: str
    path: list[str]
    target_id: str
    target_path: list[str]
    new_grid: bool = Field(description="True when the split made the target grid.")
    child_ids: list[str]


@contract("civicgrid.grids.grid.merged.v1")
class GridMerged(EventData):
    """Every child of grid `id` moved to grid `target_id` (each with its node.moved.v1 event), its
    organisations and stations went along, its posts were removed, and grid `id` was retired (its
    node.deleted.v1 event follows)."""
    id: str
    display_name: str
    path: list[str]
    target_id: str
    target_path: list[str]


def grids_event(contract_model, tenant, subject, data):
    """An event of the grids service, its data checked against `contract_model`."""
    return envelope("grids", contract_model.event_type, tenant, subject, data)


def node_event(contract_model, tenant, node, **extra):
    """`node` as events show it: with `id`, as `public` returns it."""
    data = {key: node[key] for key in ("id", "kind", "display_name", "parent_id", "path")}
    return grids_event(contract_model, tenant, f"nodes/{node['id']}", data | extra)


def flat_event(contract_model, tenant, flat, **extra):
    data = {key: flat[key] for key in ("id", "building_id", "unit", "floor", "number", "occupancy", "path")}
    return grids_event(contract_model, tenant, f"flats/{flat['id']}", data | extra)


def record_event(contract_model, tenant, collection, record, **extra):
    """An event of a record attached to a node (post, organisation, station, duty), carrying the
    part of the public `record` its contract names."""
    data = record | extra
    return grids_event(contract_model, tenant, f"{collection}/{record['id']}",
                       {key: data[key] for key in contract_model.model_fields})
