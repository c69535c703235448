"""Contracts of the events the residents service publishes, and the events built from its records."""
from pydantic import Field

from services.events import EventData, contract, envelope

SERVICE = "residents"


class HouseholdData(EventData):
    id: str
    flat_id: str
    display_name: str
    path: list[str]


@contract("civicgrid.residents.household.registered.v1")
class HouseholdRegistered(HouseholdData):
    """A household was registered as living in a flat."""


@contract("civicgrid.residents.household.updated.v1")
class HouseholdUpdated(HouseholdData):
    """A household's name changed."""

    changed: list[str]


@contract("civicgrid.residents.household.deleted.v1")
class HouseholdDeleted(HouseholdData):
    """A household was deleted from the register; the data is the household as it was."""


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
    """A resident was registered in a household."""


@contract("civicgrid.residents.resident.updated.v1")
class ResidentUpdated(ResidentData):
    """A resident's details changed (`changed` names them; a new phone or ID number itself never
    appears in an event)."""

    changed: list[str]


class TagChange(EventData):
    current: list[str]
    added: list[str]
    removed: list[str]


@contract("civicgrid.residents.resident.tagged.v1")
class ResidentTagged(EventData):
    """A resident's tags changed. Sent with resident.updated, for those who follow tags alone (a
    clinic following who becomes elderly or disabled). The change sits under `tags` so that
    partners from whom tags are withheld lose all of it with that one field."""
    id: str
    household_id: str
    path: list[str]
    tags: TagChange = Field(description="The resident's tags now (`current`), and those `added` and `removed`.")
    tagged_by: str


@contract("civicgrid.residents.resident.deleted.v1")
class ResidentDeleted(ResidentData):
    """A resident was deleted from the register; the data is the resident as they were."""


@contract("civicgrid.residents.resident.moved.v1")
class ResidentMoved(EventData):
    """A resident moved from one household to another within the city."""

    id: str
    from_household_id: str
    to_household_id: str
    from_path: list[str]
    path: list[str]


@contract("civicgrid.residents.resident.departed.v1")
class ResidentDeparted(EventData):
    """A resident died or moved out of the city; they are kept on record but left out of lists and
    figures."""

    id: str
    household_id: str
    status: str = Field(description="Why the resident left: DECEASED or MOVED_OUT_OF_CITY.")
    departure_date: str
    path: list[str]


@contract("civicgrid.residents.visit.logged.v1")
class VisitLogged(EventData):
    """A staff member logged a home visit to a household."""

    id: str
    household_id: str
    visitor: str
    visit_date: str
    path: list[str]


def household_event(contract_model, tenant, household, **extra):
    """A household event from the household's fields (`id`, not `_id`)."""
    data = {key: household[key] for key in HouseholdData.model_fields}
    return envelope(SERVICE, contract_model.event_type, tenant, f"households/{household['id']}", data | extra)


def resident_event(contract_model, tenant, resident, **extra):
    """A resident event from the resident's fields (`id`, not `_id`); their PII never enters one."""
    data = {key: resident[key] for key in ResidentData.model_fields}
    return envelope(SERVICE, contract_model.event_type, tenant, f"residents/{resident['id']}", data | extra)


def resident_tagged(tenant, resident, tags, tagged_by):
    """`resident` as stored, `tags` what they become."""
    return envelope(SERVICE, ResidentTagged.event_type, tenant, f"residents/{resident['_id']}", {
        "id": resident["_id"], "household_id": resident["household_id"], "path": resident["path"],
        "tags": {"current": tags, "added": sorted(set(tags) - set(resident["tags"])),
                 "removed": sorted(set(resident["tags"]) - set(tags))},
        "tagged_by": tagged_by})


def resident_moved(tenant, resident, target):
    return envelope(SERVICE, ResidentMoved.event_type, tenant, f"residents/{resident['_id']}", {
        "id": resident["_id"], "from_household_id": resident["household_id"],
        "to_household_id": target["_id"], "from_path": resident["path"], "path": target["path"]})


def resident_departed(tenant, resident, departure):
    return envelope(SERVICE, ResidentDeparted.event_type, tenant, f"residents/{resident['_id']}", {
        "id": resident["_id"], "household_id": resident["household_id"], "path": resident["path"],
        **departure})


def visit_logged(tenant, visit):
    return envelope(SERVICE, VisitLogged.event_type, tenant, f"visits/{visit['id']}",
                    {key: visit[key] for key in VisitLogged.model_fields})
