"""Storage of the residents service: households and residents."""
from pymongo import ASCENDING

from services.storage import Records, Repository


class ResidentsRepository(Repository):
    record_collections = ("households", "residents")

    def __init__(self, database):
        super().__init__(database)
        self.households = Records(database.households, "household")
        self.residents = Records(database.residents, "resident")

    def ensure_indexes(self):
        super().ensure_indexes()
        self.residents.collection.create_index(
            [("tenant", ASCENDING), ("household_id", ASCENDING)], name="members")
        self.residents.collection.create_index([("tenant", ASCENDING), ("tags", ASCENDING)], name="tags")

    def household_has_members(self, tenant, household_id):
        return self.residents.collection.find_one(
            {"tenant": tenant, "household_id": household_id}, {"_id": 1}) is not None
