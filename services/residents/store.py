"""Storage of the residents service: households, residents, visits and the PII read audit."""
from collections import Counter
import re

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from services.residents.schemas import DEPARTED, UNVISITED_SCAN_LIMIT
from services.storage import (BuildingSnapshots, KeptSizes, Listing, CountedRecords, Records, Repository, combined,
                              content_id, insert_all, live, now, read_each)


TAG_COUNT = "tag:"


def resident_lists(resident):
    """The lists an active resident is in below each node of its path: everyone, and per tag.
    Named as the figures count them, so a list's size is its figure."""
    if resident.get("status", "ACTIVE") in DEPARTED:
        return set()
    return {"residents", *(f"{TAG_COUNT}{tag}" for tag in resident["tags"])}


def resident_counts(resident):
    """What a resident counts in figures: itself and its tags, while active."""
    if resident.get("status", "ACTIVE") in DEPARTED:
        return {}
    return {"residents": 1, **{f"{TAG_COUNT}{tag}": 1 for tag in resident["tags"]}}


def work_list(node_id, tags, name_prefix, include_departed):
    """Residents below a node with all the given tags and/or a name prefix, departed left out
    unless asked for."""
    conditions = {}
    if node_id:
        conditions["path"] = node_id
    if tags:
        conditions["tags"] = {"$all": tags}
    if name_prefix:
        conditions["display_name"] = {"$regex": "^" + re.escape(name_prefix)}
    if not include_departed:
        conditions["status"] = {"$nin": list(DEPARTED)}
    return conditions


class ResidentsRepository(Repository):
    record_collections = ("households", "residents", "visits")

    def __init__(self, database):
        super().__init__(database)
        self.figures = BuildingSnapshots(database, self.count_building)
        self.households = CountedRecords(database.households, "household", self.figures,
                                         counts_of=lambda household: {"households": 1}, counted_fields=(),
                                         listing=Listing(lambda household: {"households"}, depends_on=()))
        self.residents = CountedRecords(database.residents, "resident", self.figures,
                                        counts_of=resident_counts, counted_fields=("tags", "status", "household_id"),
                                        listing=Listing(resident_lists, depends_on=("tags", "status")))
        self.list_sizes = KeptSizes()
        # a resident's sign-in (tenant, subject) -> the resident; see ResidentsService.bind_resident_account
        self.accounts = database.accounts
        self.visits = Records(database.visits, "visit")
        self.pii_reads = database.pii_reads
        # blind index of a national ID -> the resident holding it; see claim_national_ids
        self.national_ids = database.national_ids
        # key of an import batch imported whole -> when; see ResidentsService.import_residents
        self.imported_batches = database.imported_batches

    def residents_page(self, tenant, node_id, tags, query, page_size, page_token):
        """A page of active residents below a node matching `query`, read from the list of the
        rarest of `tags` (or of everyone)."""
        sizes = self._list_sizes(tenant, node_id)
        facet = min((f"{TAG_COUNT}{tag}" for tag in tags), key=lambda name: sizes.get(name, 0), default="residents")
        return self.residents.listed_page(node_id, facet, sizes.get(facet, 0), query, page_size, page_token)

    def households_page(self, tenant, node_id, query, page_size, page_token):
        sizes = self._list_sizes(tenant, node_id)
        return self.households.listed_page(
            node_id, "households", sizes.get("households", 0), query, page_size, page_token)

    def _list_sizes(self, tenant, node_id):
        """The sizes of the lists below a node, from its figures."""
        return self.list_sizes.of((tenant, node_id),
                                  lambda: self.figures.totals_below(tenant, node_id))

    def bind_account(self, tenant, subject, resident_id):
        """Ties the sign-in `subject` to a resident of the tenant, instead of any other."""
        account = {"tenant": tenant, "subject": subject, "resident_id": resident_id, "bind_time": now()}
        key = {"_id": content_id(tenant, "account", subject)}
        try:
            self.accounts.replace_one(key, account, upsert=True)
        except DuplicateKeyError:  # a concurrent first binding inserted it; the later one wins
            self.accounts.replace_one(key, account)

    def resident_of_account(self, tenant, subject):
        """The resident the sign-in `subject` is bound to, or None."""
        account = self.accounts.find_one({"_id": content_id(tenant, "account", subject)})
        return account and self.residents.first({"tenant": tenant, "_id": account["resident_id"]})

    def ensure_indexes(self):
        super().ensure_indexes()
        self.figures.ensure_indexes()
        self.figures.start_counting(self.households.collection)
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

    def rewrite_paths_below(self, tenant, node_id, node_path):
        changed = super().rewrite_paths_below(tenant, node_id, node_path)
        self.figures.rewrite_paths_below(tenant, node_id, node_path)
        return changed

    def count_building(self, tenant, building_id):
        """A building's households, active residents and residents per tag (`tag:<name>`)."""
        below = {"tenant": tenant, "path": building_id}
        active = {**below, "status": {"$nin": list(DEPARTED)}}
        households = self.households.collection.count_documents(live(below))
        residents = self.residents.collection.count_documents(live(active))
        by_tag = {f"{TAG_COUNT}{tag}": n for tag, n in self.count_tags(active).items()}
        return {"households": households, "residents": residents, **by_tag}

    def people_below(self, tenant, node_id, scope):
        """Households, active residents and residents per tag below a node, within `scope`."""
        totals = self.figures.totals_below(tenant, node_id, scope)
        by_tag = {name.removeprefix(TAG_COUNT): n for name, n in totals.items() if name.startswith(TAG_COUNT)}
        return {"households": totals.get("households", 0), "residents": totals.get("residents", 0),
                "residents_by_tag": by_tag}

    def household_has_members(self, tenant, household_id):
        return self.residents.collection.find_one(
            {"tenant": tenant, "household_id": household_id}, {"_id": 1}) is not None

    def count_tags(self, query):
        """Residents per tag in one indexed pass over the scope ($facet is not available on FerretDB)."""
        pipeline = [{"$match": live(query)}, {"$project": {"tags": 1}}, {"$unwind": "$tags"},
                    {"$group": {"_id": "$tags", "count": {"$sum": 1}}}]
        return {row["_id"]: row["count"] for row in self.residents.collection.aggregate(pipeline)}

    def note_visit(self, tenant, household_id, visit_date):
        """Keeps the household's latest visit date, so "not visited since" is one indexed query."""
        self.households.collection.update_one(
            {"tenant": tenant, "_id": household_id, "$or": [
                {"last_visit_date": {"$exists": False}}, {"last_visit_date": {"$lt": visit_date}}]},
            {"$set": {"last_visit_date": visit_date}})

    def households_unvisited_since(self, query, cutoff):
        """The households matching `query` with no visit on or after `cutoff`, unranked."""
        return self.households.all(
            combined(query, {"$or": [{"last_visit_date": {"$exists": False}}, {"last_visit_date": {"$lt": cutoff}}]}),
            {"_id": 1, "display_name": 1, "flat_id": 1, "last_visit_date": 1, "path": 1},
            limit=UNVISITED_SCAN_LIMIT)

    def vulnerable_members(self, tenant, node_id, household_ids, vulnerable_tags, departed):
        """household id -> how many active members carry a vulnerable tag. Read tag by tag below the
        node, flat equalities the store answers from its indexes: asking for the households' members
        by `$in` made FerretDB read every resident of the tenant (10 s for a grid of a real-size
        community)."""
        wanted, members = set(household_ids), {}
        for tag in vulnerable_tags:
            query = {"tenant": tenant, "tags": tag} | ({"path": node_id} if node_id else {})
            for member in self.residents.all(query, {"household_id": 1, "status": 1}):
                if member["household_id"] in wanted and member.get("status", "ACTIVE") not in departed:
                    members[member["_id"]] = member["household_id"]
        return Counter(members.values())

    def households_visited_by(self, query):
        """visitor -> distinct households visited, over the visits matching `query`."""
        seen = {}
        for visit in self.visits.collection.find(live(query), {"visitor": 1, "household_id": 1}):
            seen.setdefault(visit["visitor"], set()).add(visit["household_id"])
        return {visitor: len(households) for visitor, households in seen.items()}

    def record_pii_reads(self, tenant, reader, role, method, reads):
        """The audit trail of full PII reads: who saw which field of whom, when and through what."""
        moment = now()
        self.pii_reads.insert_many([
            {"tenant": tenant, "reader": reader, "role": role, "resident_id": resident_id, "field": field,
             "method": method, "time": moment} for resident_id, field in reads])

    def imported_whole_before(self, batch_key):
        return self.imported_batches.find_one({"_id": batch_key}, {"_id": 1}) is not None

    def note_imported_whole(self, batch_key, tenant, rows):
        insert_all(self.imported_batches, [{"_id": batch_key, "tenant": tenant, "rows": rows, "time": now()}])

    def claim_national_ids(self, tenant, wanted):
        """Claims national IDs ({blind index: resident id}) for residents about to be written;
        returns {blind index: holder} for those another resident holds. Claims are keyed by `_id`,
        so a whole import batch is checked by one insert, where a query on the residents' unique
        index would scan them on FerretDB. A claim whose holder is gone or now carries another ID
        is taken over; the residents' unique index stays the last guard."""
        refused = insert_all(self.national_ids, [
            {"_id": index, "tenant": tenant, "resident_id": resident_id} for index, resident_id in wanted.items()])
        claims = read_each(lambda index: self.national_ids.find_one({"_id": index}), refused)
        held = {}
        for index, claim in claims.items():
            holder = claim["resident_id"]
            if holder != wanted[index] and not self._take_over_claim(index, holder, wanted[index]):
                held[index] = holder
        return held

    def _take_over_claim(self, index, holder, resident_id):
        if self.residents.collection.find_one({"_id": holder, "national_id_index": index}, {"_id": 1}):
            return False
        return self.national_ids.update_one(
            {"_id": index, "resident_id": holder}, {"$set": {"resident_id": resident_id}}).modified_count == 1
