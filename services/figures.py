"""Figures per node from per-building snapshots, fast at any level on MongoDB and FerretDB alike.

Counting the records below a city reads every one of them on FerretDB v1 (100,000 residents:
over 30 s). Counters kept with `$inc` on the city's, street's and community's documents would
drift, since FerretDB can lose concurrent updates of one document. So each service keeps, per
building, a snapshot of its own counts there, and a node's figures are the sum of the snapshots
below it: a few hundred small documents for a whole city.

A change first marks its building, then writes: a crash in between costs a recount, never a
stale snapshot. A snapshot covers a mark once it was counted `WRITE_GRACE` after it (a count
that started between a mark and its write missed that write). Reads recount the uncovered
buildings below their node first, so figures are exact as soon as a change is written; the
refresh timer recounts marked buildings in the background and clears covered marks.
"""
from collections import Counter
from datetime import timedelta

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from services.storage import combined, now, read_each

WRITE_GRACE = timedelta(seconds=30)
MARKS_PER_REFRESH = 200
FIGURES_REFRESH_SECONDS = 5


class BuildingSnapshots:
    """`count_building(tenant, building_id)` gives a building's counts as {name: number}."""

    def __init__(self, database, count_building):
        self.snapshots = database.building_figures
        self.marks = database.dirty_buildings
        self.count_building = count_building

    def ensure_indexes(self):
        for collection in (self.snapshots, self.marks):
            collection.create_index([("tenant", ASCENDING), ("path", ASCENDING)], name="scope")

    def start_counting(self, records):
        """Marks the building of every record when there is no snapshot yet: records written
        before snapshots existed are counted once, by the timer."""
        if self.snapshots.find_one({}, {"_id": 1}) or self.marks.find_one({}, {"_id": 1}):
            return
        by_tenant = {}
        for record in records.find({}, {"tenant": 1, "path": 1}):
            by_tenant.setdefault(record["tenant"], set()).add(tuple(record["path"]))
        for tenant, paths in by_tenant.items():
            self.mark(tenant, *paths)

    def mark(self, tenant, *record_paths):
        """Marks the buildings of the records at these paths (a flat's path ends building, flat)."""
        moment = now()
        for building_path in {tuple(path[:-1]) for path in record_paths if len(path) >= 2}:
            upsert(self.marks, building_path[-1], {"tenant": tenant, "path": list(building_path), "time": moment})

    def totals_below(self, scope_filter):
        """Summed counts of the buildings matching `scope_filter` (a node's path within the
        caller's scope), after recounting those whose snapshot misses a change."""
        snapshots = {s["_id"]: s for s in self.snapshots.find(scope_filter, {"counts": 1, "time": 1})}
        uncovered = [mark for mark in self.marks.find(scope_filter) if not covers(snapshots.get(mark["_id"]), mark)]
        snapshots |= self._recount(uncovered)
        totals = Counter()
        for snapshot in snapshots.values():
            totals.update(snapshot["counts"])
        return {name: n for name, n in totals.items() if n}

    def refresh(self):
        """Recounts marked buildings not counted since their mark, or whose grace has passed, and
        clears the marks their snapshot covers. The service's timer calls it."""
        marks = list(self.marks.find().limit(MARKS_PER_REFRESH))
        snapshots = read_each(lambda building_id: self.snapshots.find_one({"_id": building_id}, {"time": 1}),
                              [mark["_id"] for mark in marks])
        due = [mark for mark in marks if not covers(snapshots[mark["_id"]], mark) and (
            not counted_since(snapshots[mark["_id"]], mark) or now() - mark["time"] > WRITE_GRACE)]
        snapshots |= self._recount(due)
        for mark in marks:
            if covers(snapshots[mark["_id"]], mark):
                self.marks.delete_one({"_id": mark["_id"], "time": mark["time"]})

    def rewrite_paths_below(self, tenant, node_id, node_path):
        """Snapshots and marks follow a moved node, as records do."""
        for collection in (self.snapshots, self.marks):
            for document in collection.find(combined({"path": node_id}, {"tenant": tenant}), {"path": 1}):
                path = [*node_path, *document["path"][document["path"].index(node_id) + 1:]]
                collection.update_one({"_id": document["_id"]}, {"$set": {"path": path}})

    def _recount(self, marks):
        """{building id: its new snapshot} for the marked buildings."""
        by_building = {mark["_id"]: mark for mark in marks}
        return read_each(lambda building_id: self._recount_one(by_building[building_id]), by_building)

    def _recount_one(self, mark):
        snapshot = {"tenant": mark["tenant"], "path": mark["path"], "time": now(),
                    "counts": self.count_building(mark["tenant"], mark["_id"])}
        upsert(self.snapshots, mark["_id"], snapshot)
        return snapshot


def upsert(collection, document_id, fields):
    try:
        collection.update_one({"_id": document_id}, {"$set": fields}, upsert=True)
    except DuplicateKeyError:  # a concurrent upsert inserted it first
        collection.update_one({"_id": document_id}, {"$set": fields})


def counted_since(snapshot, mark):
    return snapshot is not None and snapshot["time"] > mark["time"]


def covers(snapshot, mark):
    return snapshot is not None and snapshot["time"] > mark["time"] + WRITE_GRACE
