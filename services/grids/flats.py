"""The rules of flats, free of storage and RPC: a flat's document and its occupancy history, the
flats a bulk import asks for, and the views that count flats (a building's, a node's figures)."""
from services.errors import AlreadyExists, InvalidArgument
from services.grids.events import FlatCreated, FlatOccupancyChanged, FlatUpdated, flat_event, grids_event
from services.grids.schemas import CreateFlat
from services.storage import OUTBOX, content_id, now, public, timestamp
from services.validation import parse

# Occupancy as stored -> its key in views and figures.
OCCUPANCY_KEYS = {"VACANT": "vacant", "OWNER_OCCUPIED": "owner_occupied", "RENTED": "rented"}


def occupancy_change(occupancy, caller):
    """An entry of a flat's occupancy history."""
    return {"occupancy": occupancy, "time": now(), "changed_by": caller.subject}


def shown_flat(document, with_history=True):
    shown = public(document)
    history = shown.pop("occupancy_history", [])
    if with_history:
        shown["occupancy_history"] = [entry | {"time": timestamp(entry["time"])} for entry in history]
    return shown


def flat_fields(flat_id, command, building):
    """A new flat's fields as its events show them."""
    return command.model_dump(exclude={"request_id"}) | {"id": flat_id, "path": [*building["path"], flat_id]}


def address_taken(command):
    return AlreadyExists(f"flat {command.unit}-{command.number} already exists in this building",
                         [{"field": "number", "description": "already exists in this building and unit"}])


def changed(flat, changes, caller):
    """(the events of `changes` to `flat`, what its occupancy history gains). A change of
    occupancy is an event of its own and an entry of the history."""
    events = [flat_event(FlatUpdated, caller.tenant, public(flat) | changes, changed=sorted(changes))]
    if changes.get("occupancy", flat["occupancy"]) == flat["occupancy"]:
        return events, {}
    events.append(grids_event(FlatOccupancyChanged, caller.tenant, f"flats/{flat['_id']}", {
        "id": flat["_id"], "building_id": flat["building_id"], "path": flat["path"],
        "previous_occupancy": flat["occupancy"], "occupancy": changes["occupancy"], "changed_by": caller.subject}))
    return events, {"occupancy_history": occupancy_change(changes["occupancy"], caller)}


def update_address_taken():
    return AlreadyExists("another flat in this building has that unit and number",
                         [{"field": "flat.number", "description": "already taken"}])


# Flats ensured by address (bulk imports)

def parsed_flat(item):
    """A wanted flat as a CreateFlat command, or its first violation as the error of that item alone."""
    try:
        return parse(CreateFlat, item)
    except InvalidArgument as error:
        return {"error": error.violations[0]}


def planned_flats(caller, wanted, buildings):
    """(address -> the new flat's document, per wanted flat its address or its error). `wanted`
    holds parsed CreateFlat commands or the error of an item that did not parse; `buildings`
    maps building id -> the building, or its error. One address asked twice is one flat."""
    planned, results = {}, []
    for item in wanted:
        building = item if isinstance(item, dict) else buildings[item.building_id]
        if "error" in building:
            results.append(building)
            continue
        address = (item.building_id, item.unit, item.number)
        planned.setdefault(address, new_flat_document(caller, item, building))
        results.append(address)
    return planned, results


def new_flat_document(caller, command, building):
    """A flat to insert, its id derived from its address so the same row gives the same flat."""
    flat_id = content_id(caller.tenant, command.building_id, command.unit, command.number)
    fields = flat_fields(flat_id, command, building)
    event = flat_event(FlatCreated, caller.tenant, fields)
    return {"_id": flat_id, **{k: v for k, v in fields.items() if k != "id"},
            "occupancy_history": [occupancy_change(command.occupancy, caller)], OUTBOX: [event]}


def ensured(result, planned, inserted, found):
    """What EnsureFlats answers for one wanted flat: its error, or the flat and whether it is new."""
    if not isinstance(result, tuple):
        return result
    if planned[result]["_id"] in inserted:
        return {"flat": shown_flat(planned[result], with_history=False), "created": True}
    if result in found:
        return {"flat": shown_flat(found[result], with_history=False), "created": False}
    # Refused when written, absent when read: deleted or being written by another call meanwhile.
    return {"error": {"field": "number", "description": "the flat was being created or deleted concurrently; retry"}}


# Views

def building_view(building, flats):
    counts = {key: 0 for key in OCCUPANCY_KEYS.values()}
    for flat in flats:
        counts[OCCUPANCY_KEYS[flat["occupancy"]]] += 1
    return {"building": public(building), "occupancy": counts,
            "flats": [shown_flat(flat, with_history=False) for flat in flats]}


def node_figures(node, nodes_by_kind, flats_by_occupancy, people):
    return {
        "node_id": node["_id"], "kind": node["kind"],
        "districts": nodes_by_kind.get("DISTRICT", 0), "grids": nodes_by_kind.get("GRID", 0),
        "micro_grids": nodes_by_kind.get("MICRO_GRID", 0), "buildings": nodes_by_kind.get("BUILDING", 0),
        "flats": sum(flats_by_occupancy.values()),
        "flats_by_occupancy": {OCCUPANCY_KEYS[kind]: n for kind, n in flats_by_occupancy.items()},
        **people,
    }
