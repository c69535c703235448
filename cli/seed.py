"""The demo city `make up` loads: one synthetic community (cli/demo_city.py) put in through the
gateway, the way an operator would: the hierarchy and the vacant flats by their create calls,
the households and residents by the bulk import.

Idempotent: nodes and vacant flats are created with fixed request ids, and the import keys
every row by its content, so seeding the same size again writes nothing.
"""
from cli.demo_city import REAL, SMALL, building_name, generate, grid_name
from cli.importer import import_rows

SCALES = {"small": SMALL, "real": REAL}
CITY, STREET = "示范市", "滨河街道"
CREATE_NODE = "civicgrid.grids.v1.Grids/CreateNode"
CREATE_FLAT = "civicgrid.grids.v1.Grids/CreateFlat"
ERRORS_SHOWN = 5


def seed_demo(gateway, size=REAL, with_sensitive_tags=False, progress=None, log=print):
    """Seeds a community of `size` below the demo city and street; returns the community node
    and the import report. Sensitive tags go in only when the caller's token is granted them."""
    community = generate(size)
    create = creator(gateway)
    community_node, building_ids = create_hierarchy(create, community)
    log(f"{size.community}: {size.grids} grids, {size.buildings} buildings; "
        f"creating {len(community.vacant_flats)} vacant flats")
    create_vacant_flats(create, community, building_ids)
    log(f"importing {size.households} households, {size.people} residents")
    report = import_rows(gateway, community.import_rows(building_ids, with_sensitive_tags), progress)
    log_outcome(log, community_node, report)
    return community_node, report


def creator(gateway, prefix="demo-city"):
    """A create call with a request id fixed by `key` (under `prefix`), so a repeat returns the
    first result."""
    def create(method, key, body):
        return gateway.call(method, {"request_id": f"{prefix}/{key}", **body})
    return create


def create_hierarchy(create, community):
    """City, street, the community, its grids and their buildings; returns the community node
    and the building node ids, in the generator's building order."""
    name = community.size.community
    city = create(CREATE_NODE, "city", {"kind": "CITY", "display_name": CITY})
    street = create(CREATE_NODE, "street", {"kind": "STREET", "display_name": STREET, "parent_id": city["id"]})
    community_node = create(CREATE_NODE, name, {"kind": "COMMUNITY", "display_name": name,
                                                "parent_id": street["id"]})
    grid_ids = [create(CREATE_NODE, f"{name}/{grid_name(grid)}", {
        "kind": "GRID", "display_name": grid_name(grid), "parent_id": community_node["id"]})["id"]
        for grid in range(community.size.grids)]
    building_ids = [create(CREATE_NODE, f"{name}/{building_name(building)}", {
        "kind": "BUILDING", "display_name": building_name(building), "parent_id": grid_ids[grid]})["id"]
        for building, grid in enumerate(community.grid_of_building)]
    return community_node, building_ids


def create_vacant_flats(create, community, building_ids):
    """The import brings only flats people live in; the empty ones are created one by one."""
    for flat in community.vacant_flats:
        building = building_name(flat.building)
        create(CREATE_FLAT, f"{community.size.community}/{building}/{flat.unit}-{flat.number}", {
            "building_id": building_ids[flat.building], "unit": flat.unit, "floor": flat.floor,
            "number": flat.number, "occupancy": "VACANT"})


def log_outcome(log, community_node, report):
    log(f"demo community {community_node['display_name']} ({community_node['id']}): "
        f"{report['residents_created']} residents, {report['households_created']} households and "
        f"{report['flats_created']} occupied flats added, {report['rows_unchanged']} residents already there, "
        f"{len(report['errors'])} rows refused")
    for error in report["errors"][:ERRORS_SHOWN]:
        log(f"  row {error.get('row')}: {error.get('field')} {error.get('reason')}")
