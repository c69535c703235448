"""Figures per node from per-building snapshots, fast at any level on MongoDB and FerretDB alike.

Counting the records below a city reads every one of them on FerretDB v1 (100,000 residents:
over 30 s). Counters kept with `$inc` on the city's, street's and community's documents would
drift, since FerretDB can lose concurrent updates of one document. So each service keeps, per
building, a snapshot of its own counts there, and a node's figures are the sum of the snapshots
below it: some thousands of small documents for a whole city.

A change first marks its building, then writes, then adds itself to the building's snapshot
and clears the mark it made: a crash in between costs a recount, never a stale snapshot. A
recount covers a mark when it started `WRITE_GRACE` after it (one that started between a mark
and its write missed the write). Reads recount the uncovered buildings below their node first,
so figures are exact as soon as a change is written; a timer recounts in the background and
clears covered marks.

Every snapshot write claims the version it read with a unique insert (FerretDB can lose one of
two concurrent conditional updates), so a recount and an import's addition never overwrite one
another: the loser keeps its mark for a later recount.
"""
from datetime import datetime, timedelta
from typing import NamedTuple

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from services.storage import combined, insert_all, now, read_each, rewrite_paths

WRITE_GRACE = timedelta(seconds=30)
# The timer leaves a mark this long to the change that made it: an import clears its own marks
# within a second or two, and a recount in between would be wasted.
FIRST_RECOUNT_AFTER = timedelta(seconds=10)
MARKS_PER_REFRESH = 200
FIGURES_REFRESH_SECONDS = 5
CLAIMS_KEPT = timedelta(hours=1)


class Marks(NamedTuple):
    time: datetime
    fresh: set  # buildings not marked before


class BuildingSnapshots:
    """`count_building(tenant, building_id)` gives a building's counts as {name: number}."""

    def __init__(self, database, count_building):
        self.snapshots = database.building_figures
        self.marks = database.dirty_buildings
        self.claims = database.building_figure_claims
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
        marks = Marks(now(), set())
        for building_path in {tuple(path[:-1]) for path in record_paths if len(path) >= 2}:
            change = {"$set": {"tenant": tenant, "path": list(building_path), "time": marks.time}}
            try:
                if self.marks.update_one({"_id": building_path[-1]}, change, upsert=True).upserted_id:
                    marks.fresh.add(building_path[-1])
            except DuplicateKeyError:  # a concurrent first mark inserted it
                self.marks.update_one({"_id": building_path[-1]}, change)
        return marks

    def add(self, tenant, counts_by_building, marks):
        """Adds a written change ({building path: {name: +/- number}}) to the snapshots, and
        clears the marks it made. A snapshot recounted since the change's mark may hold the
        change already: it is left, marked, to the recount after the grace; and a building
        marked before keeps that mark for the change that made it."""
        def add_to(building_path):
            snapshot = self.snapshots.find_one({"_id": building_path[-1]})
            if snapshot and snapshot["counted"] and snapshot["counted"] >= marks.time:
                return
            counts = dict(snapshot["counts"]) if snapshot else {}
            for name, n in counts_by_building[building_path].items():
                counts[name] = counts.get(name, 0) + n
            written = self._write(tenant, building_path, snapshot, counts, counted=snapshot and snapshot["counted"])
            if written and building_path[-1] in marks.fresh:
                self.marks.delete_one({"_id": building_path[-1], "time": marks.time})
        read_each(add_to, counts_by_building)

    def totals_below(self, scope_filter):
        """Summed counts of the buildings matching `scope_filter` (a node's path within the
        caller's scope), after recounting those whose snapshot may miss a change."""
        snapshots = {s["_id"]: s for s in self.snapshots.find(scope_filter, {"counts": 1, "counted": 1})}
        uncovered = [mark for mark in self.marks.find(scope_filter) if not covers(snapshots.get(mark["_id"]), mark)]
        snapshots |= {building_id: s for building_id, s in self._recount(uncovered).items() if s}
        totals = {}
        for snapshot in snapshots.values():
            for name, n in snapshot["counts"].items():
                totals[name] = totals.get(name, 0) + n
        return {name: n for name, n in totals.items() if n}

    def refresh(self):
        """Recounts marked buildings not counted since their mark, or whose grace has passed, and
        clears the marks their snapshot covers. The service's timer calls it."""
        marks = list(self.marks.find().limit(MARKS_PER_REFRESH))
        snapshots = read_each(lambda building_id: self.snapshots.find_one({"_id": building_id}),
                              [mark["_id"] for mark in marks])
        due = [mark for mark in marks if not covers(snapshots[mark["_id"]], mark) and recount_due(
            snapshots[mark["_id"]], mark, now() - mark["time"])]
        snapshots |= {building_id: s for building_id, s in self._recount(due).items() if s}
        for mark in marks:
            if covers(snapshots[mark["_id"]], mark):
                self.marks.delete_one({"_id": mark["_id"], "time": mark["time"]})
        self.claims.delete_many({"time": {"$lt": now() - CLAIMS_KEPT}})

    def rewrite_paths_below(self, tenant, node_id, node_path):
        """Snapshots and marks follow a moved node, as records do."""
        for collection in (self.snapshots, self.marks):
            # A moved building's own snapshot moves too: it is at the node, not only below it.
            rewrite_paths(collection, combined({"path": node_id}, {"tenant": tenant}), node_id, node_path)

    def _recount(self, marks):
        """{building id: its new snapshot, or None where another writer came first}."""
        by_building = {mark["_id"]: mark for mark in marks}
        return read_each(lambda building_id: self._recount_one(by_building[building_id]), by_building)

    def _recount_one(self, mark):
        snapshot = self.snapshots.find_one({"_id": mark["_id"]})
        started = now()
        counts = self.count_building(mark["tenant"], mark["_id"])
        return self._write(mark["tenant"], mark["path"], snapshot, counts, counted=started)

    def _write(self, tenant, building_path, snapshot, counts, counted):
        """Writes the snapshot that follows `snapshot` (read before), if no other writer took its
        version; returns what it wrote, or None."""
        version = snapshot["version"] if snapshot else 0
        if insert_all(self.claims, [{"_id": f"{building_path[-1]}:{version}", "time": now()}]):
            return None
        written = {"tenant": tenant, "path": list(building_path), "counts": counts, "version": version + 1,
                   "counted": counted}
        self.snapshots.update_one({"_id": building_path[-1]}, {"$set": written}, upsert=True)
        return written


def building_of(record):
    """A flat's, household's or resident's building: the path up to the building."""
    return tuple(record["path"][:-1])


def recount_due(snapshot, mark, age):
    counted_since = bool(snapshot and snapshot["counted"] and snapshot["counted"] > mark["time"])
    return age > WRITE_GRACE or (age > FIRST_RECOUNT_AFTER and not counted_since)


def covers(snapshot, mark):
    return bool(snapshot and snapshot["counted"] and snapshot["counted"] > mark["time"] + WRITE_GRACE)
