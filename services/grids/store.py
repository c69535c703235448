"""Storage of the grids service: nodes of the hierarchy and flats."""
from pymongo import ASCENDING

from services.storage import LIVE, BuildingSnapshots, CountedRecords, KeptIn, Records, Repository, live, read_each

OCCUPANCY_COUNT = "occupancy:"
KIND_COUNT = "kind:"
# Nodes by kind below a node: snapshots per parent node, in collections of their own. Counting
# the nodes below a city read every one of them (5,460 in the bench's city: 1.2 s a read).
CHILDREN = KeptIn("children_figures", "dirty_parents", "children_figure_claims", "children_area_figures",
                  "touched_children_areas")
# A building has some hundreds of flats at most; this bounds a malformed one.
MAX_FLATS_IN_VIEW = 5000
BY_ID = [("_id", ASCENDING)]


class GridsRepository(Repository):
    record_collections = ("nodes", "flats", "posts", "organisations", "stations", "duties")

    def __init__(self, database):
        super().__init__(database)
        self.figures = BuildingSnapshots(database, self.count_building)
        self.node_figures = BuildingSnapshots(database, self.count_children, kept_in=CHILDREN)
        self.nodes = CountedRecords(database.nodes, "node", self.node_figures,
                                    counts_of=lambda node: {f"{KIND_COUNT}{node['kind']}": 1}, counted_fields=("kind",))
        self.flats = CountedRecords(database.flats, "flat", self.figures,
                                    counts_of=lambda flat: {f"{OCCUPANCY_COUNT}{flat['occupancy']}": 1},
                                    counted_fields=("occupancy",))
        self.posts = Records(database.posts, "post")
        self.organisations = Records(database.organisations, "organisation")
        self.stations = Records(database.stations, "station")
        # One document per rota entry rather than a list in the station: FerretDB loses
        # concurrent updates to one document.
        self.duties = Records(database.duties, "duty")

    def ensure_indexes(self):
        super().ensure_indexes()
        for figures, counted in ((self.figures, self.flats), (self.node_figures, self.nodes)):
            figures.ensure_indexes()
            figures.start_counting(counted.collection)
        self.nodes.collection.create_index([("tenant", ASCENDING), ("parent_id", ASCENDING)], name="children")
        self.flats.collection.create_index(
            [("tenant", ASCENDING), ("building_id", ASCENDING)], name="flats_of_building")
        self.flats.collection.create_index(
            [("tenant", ASCENDING), ("building_id", ASCENDING), ("unit", ASCENDING), ("number", ASCENDING)],
            unique=True, name="flat_address")
        self.nodes.collection.create_index(
            [("tenant", ASCENDING), ("path", ASCENDING), ("kind", ASCENDING)], name="kinds_below")
        self.flats.collection.create_index(
            [("tenant", ASCENDING), ("path", ASCENDING), ("occupancy", ASCENDING)], name="occupancy_below")
        for records in (self.posts, self.organisations, self.stations):
            records.collection.create_index([("tenant", ASCENDING), ("node_id", ASCENDING)], name="at_node")
        self.duties.collection.create_index([("tenant", ASCENDING), ("station_id", ASCENDING)], name="rota")

    def has_children(self, tenant, node_id):
        return (self.nodes.collection.find_one({"tenant": tenant, "parent_id": node_id}, {"_id": 1}) is not None
                or self.flats.collection.find_one({"tenant": tenant, "building_id": node_id}, {"_id": 1}) is not None)

    def children_of(self, tenant, node_id):
        return self.nodes.all({"tenant": tenant, "parent_id": node_id}, sort=BY_ID)

    def attached_at(self, records, tenant, node_id):
        """The posts, organisations or stations (`records`) held at the node itself."""
        return records.all({"tenant": tenant, "node_id": node_id}, sort=BY_ID)

    def note_merged(self, tenant, target_id, source_id):
        """The target grid remembers each grid merged into it, so a re-run of the merge finds it done."""
        return self.nodes.update({"tenant": tenant, "_id": target_id}, {}, extra={"$addToSet": {"merged_from": source_id}})

    def flats_of_building(self, tenant, building_id):
        return list(self.flats.collection.find({"tenant": tenant, "building_id": building_id, **LIVE})
                    .sort([("unit", ASCENDING), ("floor", ASCENDING), ("number", ASCENDING)])
                    .limit(MAX_FLATS_IN_VIEW))

    def count_nodes_by_kind(self, tenant, node_id):
        """The nodes below a node (itself excluded) by kind."""
        totals = self.node_figures.totals_below(tenant, node_id)
        return {name.removeprefix(KIND_COUNT): n for name, n in totals.items()}

    def count_children(self, tenant, parent_id):
        """A node's children by kind (`kind:<kind>`), for its snapshot."""
        by_kind = self._count_by(self.nodes.collection, {"tenant": tenant, "parent_id": parent_id}, "kind")
        return {f"{KIND_COUNT}{kind}": n for kind, n in by_kind.items()}

    def refresh_figures(self):
        for figures in (self.figures, self.node_figures):
            figures.refresh()

    def count_building(self, tenant, building_id):
        """A building's flats by occupancy (`occupancy:<kind>`), for its figures snapshot."""
        by_occupancy = self._count_by(self.flats.collection, {"tenant": tenant, "path": building_id}, "occupancy")
        return {f"{OCCUPANCY_COUNT}{kind}": n for kind, n in by_occupancy.items()}

    def flats_by_occupancy(self, tenant, node_id, scope):
        totals = self.figures.totals_below(tenant, node_id, scope)
        return {name.removeprefix(OCCUPANCY_COUNT): n for name, n in totals.items()}

    def rewrite_paths_below(self, tenant, node_id, node_path):
        changed = super().rewrite_paths_below(tenant, node_id, node_path)
        for figures in (self.figures, self.node_figures):
            figures.rewrite_paths_below(tenant, node_id, node_path)
        return changed

    @staticmethod
    def _count_by(collection, query, field):
        pipeline = [{"$match": live(query)}, {"$group": {"_id": f"${field}", "count": {"$sum": 1}}}]
        return {row["_id"]: row["count"] for row in collection.aggregate(pipeline)}

    def flats_at(self, tenant, expected):
        """address -> live flat, for {(building id, unit, number): the flat's expected `_id`}: read
        by that `_id`, or by address for a flat created with another id (CreateFlat)."""
        def flat_at(address):
            building_id, unit, number = address
            return (self.flats.collection.find_one({"_id": expected[address], "tenant": tenant, **LIVE})
                    or self.flats.collection.find_one(
                        {"tenant": tenant, "building_id": building_id, "unit": unit, "number": number, **LIVE}))
        return {address: flat for address, flat in read_each(flat_at, expected).items() if flat}

    def posts_on_path(self, tenant, path, kinds):
        """The posts of these kinds held at any node of `path`."""
        return list(self.posts.collection.find(
            {"tenant": tenant, "node_id": {"$in": list(path)}, "kind": {"$in": list(kinds)}, **LIVE}))

    def duties_on(self, tenant, station_id, weekday):
        return list(self.duties.collection.find(
            {"tenant": tenant, "station_id": station_id, "weekday": weekday, **LIVE}).sort("start", ASCENDING))
