"""The demo city `make up` loads: small, real-shaped, and idempotent (fixed request ids)."""

DEMO = {
    "city": "Demo City",
    "street": "Riverside Street Office",
    "community": "Willow Community",
    "grids": {
        "Grid 1": {"Building 1": 6, "Building 2": 6},
        "Grid 2": {"Building 3": 4},
        "Grid 3": {"Building 4": 4},
    },
}
HOUSEHOLDS = [
    # (flat index in its building, household, [(name, relation, birth date, gender, tags)])
    (0, "Wang family", [("Wang Guilan", "head", "1941-03-02", "FEMALE", ["elderly", "living_alone"])]),
    (1, "Li family", [("Li Ming", "head", "1980-07-15", "MALE", []),
                      ("Zhao Hong", "spouse", "1983-01-20", "FEMALE", ["childbearing_age_woman"]),
                      ("Li Xiaoyu", "child", "2016-09-01", "FEMALE", ["child"])]),
    (2, "Chen family", [("Chen Jianguo", "head", "1952-11-11", "MALE", ["elderly", "veteran"])]),
]


def seed_demo(gateway, log=print):
    def create(method, request_id, body):
        return gateway.call(method, {"request_id": f"demo-seed-{request_id}", **body})

    city = create("civicgrid.grids.v1.Grids/CreateNode", "city", {"kind": "CITY", "display_name": DEMO["city"]})
    street = create("civicgrid.grids.v1.Grids/CreateNode", "street",
                    {"kind": "STREET", "display_name": DEMO["street"], "parent_id": city["id"]})
    community = create("civicgrid.grids.v1.Grids/CreateNode", "community",
                       {"kind": "COMMUNITY", "display_name": DEMO["community"], "parent_id": street["id"]})
    residents = 0
    for grid_name, buildings in DEMO["grids"].items():
        grid = create("civicgrid.grids.v1.Grids/CreateNode", grid_name,
                      {"kind": "GRID", "display_name": grid_name, "parent_id": community["id"]})
        for building_name, flat_count in buildings.items():
            building = create("civicgrid.grids.v1.Grids/CreateNode", building_name,
                              {"kind": "BUILDING", "display_name": building_name, "parent_id": grid["id"]})
            flats = [create("civicgrid.grids.v1.Grids/CreateFlat", f"{building_name}-{n}",
                            {"building_id": building["id"], "unit": "1", "floor": n // 2 + 1,
                             "number": f"{n // 2 + 1}0{n % 2 + 1}",
                             "occupancy": "OWNER_OCCUPIED" if n < 3 else "VACANT"})
                     for n in range(flat_count)]
            residents += seed_households(create, building_name, flats)
    log(f"demo city seeded: tenant 'demo', community {community['id']}, {residents} residents")
    return community


def seed_households(create, building_name, flats):
    count = 0
    for flat_index, household_name, members in HOUSEHOLDS:
        household = create("civicgrid.residents.v1.Residents/CreateHousehold", f"{building_name}-{household_name}",
                           {"flat_id": flats[flat_index]["id"], "display_name": household_name})
        for name, relation, born, gender, tags in members:
            create("civicgrid.residents.v1.Residents/CreateResident", f"{building_name}-{name}",
                   {"household_id": household["id"], "display_name": name, "relation": relation,
                    "birth_date": born, "gender": gender, "tags": tags})
            count += 1
    return count
