"""Contracts of the events the residents service publishes, and the events built from its records."""
from services.events import EventData, contract, envelope

SERVICE = "residents"


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


class TagChange(EventData):
    current: list[str]
    added: list[str]
    removed: list[str]


@contract("civicgrid.residents.resident.tagged.v1")
class ResidentTagged(EventData):
    """Sent with resident.updated when the tags change, for those who follow tags alone (a clinic
    following who becomes elderly or disabled). The change sits under `tags` so that partners
    from whom tags are withheld lose all of it with that one field."""
    id: str
    household_id: str
    path: list[str]
    tags: TagChange
    tagged_by: str


@contract("civicgrid.residents.resident.deleted.v1")
class ResidentDeleted(ResidentData):
    pass


@contract("civicgrid.residents.resident.moved.v1")
class ResidentMoved(EventData):
    id: str
    from_household_id: str
    to_household_id: str
    from_path: list[str]
    path: list[str]


@contract("civicgrid.residents.resident.departed.v1")
class ResidentDeparted(EventData):
    id: str
    household_id: str
    # DECEASED or MOVED_OUT_OF_CITY
    status: str
    departure_date: str
    path: list[str]


@contract("civicgrid.residents.visit.logged.v1")
class VisitLogged(EventData):
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
