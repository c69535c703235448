"""Storage of the grids service: nodes of the hierarchy and flats."""
from pymongo import ASCENDING

from services.storage import Records, Repository


class GridsRepository(Repository):
    record_collections = ("nodes", "flats")

    def __init__(self, database):
        super().__init__(database)
        self.nodes = Records(database.nodes, "node")
        self.flats = Records(database.flats, "flat")

    def ensure_indexes(self):
        super().ensure_indexes()
        self.nodes.collection.create_index([("tenant", ASCENDING), ("parent_id", ASCENDING)], name="children")
        self.flats.collection.create_index(
            [("tenant", ASCENDING), ("building_id", ASCENDING)], name="flats_of_building")
        self.flats.collection.create_index(
            [("tenant", ASCENDING), ("building_id", ASCENDING), ("unit", ASCENDING), ("number", ASCENDING)],
            unique=True, name="flat_address")

    def has_children(self, tenant, node_id):
        return (self.nodes.collection.find_one({"tenant": tenant, "parent_id": node_id}, {"_id": 1}) is not None
                or self.flats.collection.find_one({"tenant": tenant, "building_id": node_id}, {"_id": 1}) is not None)
