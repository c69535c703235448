"""Building the node hierarchy the services hang everything on, and who lives and works in it."""
GRIDS = "civicgrid.grids.v1.Grids"
RESIDENTS = "civicgrid.residents.v1.Residents"


def build_hierarchy(client, unique):
    ids = {}
    parent = ""
    for kind in ("CITY", "STREET", "COMMUNITY", "GRID", "BUILDING"):
        node = client.call(f"{GRIDS}/CreateNode", {"request_id": f"{unique}-{kind}", "kind": kind,
                                                    "display_name": f"{kind.title()} {unique}",
                                                    "parent_id": parent})
        ids[kind] = parent = node["id"]
    flat = client.call(f"{GRIDS}/CreateFlat", {"request_id": f"{unique}-flat", "building_id": ids["BUILDING"],
                                               "unit": "1", "floor": 3, "number": "301",
                                               "occupancy": "OWNER_OCCUPIED"})
    ids["FLAT"] = flat["id"]
    return ids


def add_residents(operator, flat_id, unique, specs):
    household = operator.call(f"{RESIDENTS}/CreateHousehold", {
        "request_id": f"{unique}-hh-{flat_id}", "flat_id": flat_id, "display_name": "Household"})
    return [operator.call(f"{RESIDENTS}/CreateResident", {
        "request_id": f"{unique}-{flat_id}-{n}", "household_id": household["id"], "display_name": f"R{n}",
        "birth_date": "1940-01-01", "tags": tags}) for n, tags in enumerate(specs)]


def person(subject, name, phone=""):
    return {"subject": subject, "display_name": name, "phone": phone}


def assign(client, node_id, kind, holder, **fields):
    return client.call(f"{GRIDS}/AssignPost", {"node_id": node_id, "kind": kind, "holder": holder, **fields})
