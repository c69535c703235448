"""Contracts of the events the residents service publishes."""
from services.events import EventData, contract


class HouseholdData(EventData):
    id: str
    flat_id: str
    display_name: str
    path: list[str]


@contract("civicgrid.residents.household.registered.v1")
class HouseholdRegistered(HouseholdData):
    pass


@contract("civicgrid.residents.household.updated.v1")
class HouseholdUpdated(HouseholdData):
    changed: list[str]


@contract("civicgrid.residents.household.deleted.v1")
class HouseholdDeleted(HouseholdData):
    pass


class ResidentData(EventData):
    id: str
    household_id: str
    display_name: str
    relation: str
    birth_date: str
    gender: str
    tags: list[str]
    path: list[str]


@contract("civicgrid.residents.resident.registered.v1")
class ResidentRegistered(ResidentData):
    pass


@contract("civicgrid.residents.resident.updated.v1")
class ResidentUpdated(ResidentData):
    changed: list[str]


@contract("civicgrid.residents.resident.deleted.v1")
class ResidentDeleted(ResidentData):
    pass
