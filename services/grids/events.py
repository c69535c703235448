"""Contracts of the events the grids service publishes."""
from services.events import EventData, contract


class NodeData(EventData):
    id: str
    kind: str
    display_name: str
    parent_id: str
    path: list[str]


@contract("civicgrid.grids.node.created.v1")
class NodeCreated(NodeData):
    pass


@contract("civicgrid.grids.node.updated.v1")
class NodeUpdated(NodeData):
    changed: list[str]


@contract("civicgrid.grids.node.deleted.v1")
class NodeDeleted(NodeData):
    pass


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
    pass


@contract("civicgrid.grids.flat.updated.v1")
class FlatUpdated(FlatData):
    changed: list[str]


@contract("civicgrid.grids.flat.deleted.v1")
class FlatDeleted(FlatData):
    pass


@contract("civicgrid.grids.flat.occupancy_changed.v1")
class FlatOccupancyChanged(EventData):
    id: str
    building_id: str
    path: list[str]
    previous_occupancy: str
    occupancy: str
    changed_by: str
