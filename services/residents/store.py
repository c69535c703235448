"""Storage of the residents service: households, residents, visits and the PII read audit."""
from pymongo import ASCENDING

from services.storage import LIVE, Records, Repository, now


class ResidentsRepository(Repository):
    record_collections = ("households", "residents", "visits")

    def __init__(self, database):
        super().__init__(database)
        self.households = Records(database.households, "household")
        self.residents = Records(database.residents, "resident")
        self.visits = Records(database.visits, "visit")
        self.pii_reads = database.pii_reads

    def ensure_indexes(self):
        super().ensure_indexes()
        self.residents.collection.create_index(
            [("tenant", ASCENDING), ("household_id", ASCENDING)], name="members")
        self.residents.collection.create_index([("tenant", ASCENDING), ("tags", ASCENDING)], name="tags")
        self.residents.collection.create_index(
            [("tenant", ASCENDING), ("display_name", ASCENDING)], name="name_prefix")
        # The blind index is keyed per tenant, so one unique field means "once per tenant";
        # sparse because not every resident has an ID on file.
        self.residents.collection.create_index(
            "national_id_index", unique=True, sparse=True, name="national_id_once")
        self.residents.collection.create_index("phone_index", sparse=True, name="phone_lookup")
        self.households.collection.create_index(
            [("tenant", ASCENDING), ("last_visit_date", ASCENDING)], name="last_visit")
        self.visits.collection.create_index(
            [("tenant", ASCENDING), ("household_id", ASCENDING)], name="visits_of_household")
        self.visits.collection.create_index(
            [("tenant", ASCENDING), ("visit_date", ASCENDING)], name="visits_by_date")
        self.pii_reads.create_index([("tenant", ASCENDING), ("resident_id", ASCENDING)], name="reads_of_resident")

    def household_has_members(self, tenant, household_id):
        return self.residents.collection.find_one(
            {"tenant": tenant, "household_id": household_id}, {"_id": 1}) is not None

    def count_tags(self, query):
        """Residents per tag in one indexed pass over the scope ($facet is not available on FerretDB)."""
        pipeline = [{"$match": {"$and": [query, LIVE]}}, {"$project": {"tags": 1}}, {"$unwind": "$tags"},
                    {"$group": {"_id": "$tags", "count": {"$sum": 1}}}]
        return {row["_id"]: row["count"] for row in self.residents.collection.aggregate(pipeline)}

    def note_visit(self, tenant, household_id, visit_date):
        """Keeps the household's latest visit date, so "not visited since" is one indexed query."""
        self.households.collection.update_one(
            {"tenant": tenant, "_id": household_id, "$or": [
                {"last_visit_date": {"$exists": False}}, {"last_visit_date": {"$lt": visit_date}}]},
            {"$set": {"last_visit_date": visit_date}})

    def vulnerable_members(self, tenant, household_ids, vulnerable_tags, departed):
        """household id -> how many active members carry a vulnerable tag."""
        counts = {}
        for member in self.residents.collection.find(
                {"tenant": tenant, "household_id": {"$in": household_ids}, "tags": {"$in": list(vulnerable_tags)},
                 "status": {"$nin": list(departed)}}, {"household_id": 1}):
            counts[member["household_id"]] = counts.get(member["household_id"], 0) + 1
        return counts

    def households_visited_by(self, query):
        """visitor -> distinct households visited, over the visits matching `query`."""
        seen = {}
        for visit in self.visits.collection.find({"$and": [query, LIVE]}, {"visitor": 1, "household_id": 1}):
            seen.setdefault(visit["visitor"], set()).add(visit["household_id"])
        return {visitor: len(households) for visitor, households in seen.items()}

    def record_pii_reads(self, tenant, reader, role, method, reads):
        """The audit trail of full PII reads: who saw which field of whom, when and through what."""
        moment = now()
        self.pii_reads.insert_many([
            {"tenant": tenant, "reader": reader, "role": role, "resident_id": resident_id, "field": field,
             "method": method, "time": moment} for resident_id, field in reads])

    def owners_of_national_ids(self, indexes):
        """blind index -> id of the resident registered with it, in one read."""
        if not indexes:
            return {}
        return {resident["national_id_index"]: resident["_id"] for resident in self.residents.collection.find(
            {"national_id_index": {"$in": indexes}}, {"national_id_index": 1})}
