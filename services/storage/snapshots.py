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

Every snapshot write is a claimed update (`storage.claims`), so a recount and a change's
addition never overwrite one another: the loser keeps its mark for a later recount.

The records that are counted keep this up themselves (`CountedRecords`): a service declares what
a record counts and which fields change that, and never marks or adds by hand.

A whole tenant's figures above a building come from area sums: an area is a building's parent
node (a grid, as a rule; a snapshot names it in `area`), and the sum of the snapshots of its own
buildings (not those of a micro-grid below it, an area of its own) is kept (`area_figures`), so a
city reads some hundred areas where it read 1,290 buildings (0.5 ms each on FerretDB: 0.7 s a
read). A change first touches its areas (`touched_areas`, the time of the latest), then marks.
A sum is taken only while none of the area's buildings is marked, and holds while no change
touched the area since `WRITE_GRACE` before the sum was started: a change touched earlier has
written by then, or left its mark to a recount; one touched later is newer than the sum. Reads
check this every time, so a sum a slow reader kept after a change is never used.

Whatever a race the marks did not catch left wrong (three vacant flats of 47,324 in the bench's
city), an audit mends within an hour: each refresh marks the buildings of one of `AUDIT_SLOTS`
slots (a snapshot's `audit_slot`, an indexed hash of its id), and the marks recount them.
"""
import hashlib
import time
from datetime import datetime, timedelta
from typing import NamedTuple

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from services.queries import combined, one_of
from services.storage.bulk import read_each, rewrite_paths
from services.storage.claims import ClaimedUpdates
from services.storage.records import Records, now

WRITE_GRACE = timedelta(seconds=30)
# The timer leaves a mark this long to the change that made it: an import clears its own marks
# within a second or two, and a recount in between would be wasted.
FIRST_RECOUNT_AFTER = timedelta(seconds=10)
MARKS_PER_REFRESH = 200
FIGURES_REFRESH_SECONDS = 5
# Every snapshot is audited once an hour: one slot of them per refresh.
AUDIT_SLOTS = 3600 // FIGURES_REFRESH_SECONDS


class Marks(NamedTuple):
    time: datetime
    fresh: set  # buildings not marked before


class KeptIn(NamedTuple):
    """The collections a set of snapshots is kept in."""
    snapshots: str
    marks: str
    claims: str
    area_sums: str
    touched_areas: str


BUILDINGS = KeptIn("building_figures", "dirty_buildings", "building_figure_claims", "area_figures", "touched_areas")


class BuildingSnapshots:
    """`count_building(tenant, building_id)` gives a building's counts as {name: number}. A
    "building" is the parent of the records counted: the building of flats and people, and for
    nodes counted by kind (kept in collections of their own), any node with children."""

    def __init__(self, database, count_building, kept_in=BUILDINGS):
        self.snapshots = database[kept_in.snapshots]
        self.marks = database[kept_in.marks]
        self.writes = ClaimedUpdates(self.snapshots, database[kept_in.claims])
        self.count_building = count_building
        self.area_sums = database[kept_in.area_sums]
        self.touched_areas = database[kept_in.touched_areas]

    def ensure_indexes(self):
        for collection in (self.snapshots, self.marks, self.area_sums, self.touched_areas):
            collection.create_index([("tenant", ASCENDING), ("path", ASCENDING)], name="scope")
        self.snapshots.create_index([("tenant", ASCENDING), ("area", ASCENDING)], name="area")
        self.snapshots.create_index([("audit_slot", ASCENDING)], name="audit_slot")
        self.writes.ensure_indexes()

    def start_counting(self, records):
        """Marks the building of every record when there is no snapshot yet: records written
        before snapshots existed are counted once, by the timer; snapshots from before area sums
        and audits name their area and slot, and have their areas touched, once."""
        unplaced = list(self.snapshots.find({"audit_slot": {"$exists": False}}, {"tenant": 1, "path": 1}))
        for snapshot in unplaced:
            self.snapshots.update_one({"_id": snapshot["_id"]}, {"$set": {
                "area": area_of(snapshot["path"]), "audit_slot": audit_slot(snapshot["_id"])}})
        for tenant, areas in areas_by_tenant(unplaced).items():
            self._touch(tenant, areas.values())
        if self.snapshots.find_one({}, {"_id": 1}) or self.marks.find_one({}, {"_id": 1}):
            return
        for tenant, paths in paths_by_tenant(records.find({}, {"tenant": 1, "path": 1})).items():
            self.mark(tenant, *paths)

    def mark(self, tenant, *record_paths):
        """Touches the areas, then marks the buildings, of the records at these paths (a flat's
        path ends building, flat)."""
        return self.mark_buildings(tenant, {tuple(path[:-1]) for path in record_paths if len(path) >= 2})

    def mark_buildings(self, tenant, building_paths):
        self._touch(tenant, {path[:-1] for path in building_paths if len(path) >= 2})
        marks = Marks(now(), set())
        for building_path in building_paths:
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

    def totals_below(self, tenant, node_id, scope=None):
        """Summed counts of the buildings at or below `node_id`, limited to `scope` (the nodes a
        caller may see; None for the whole tenant, whose figures come from area sums)."""
        below = {"tenant": tenant, "path": node_id}
        if scope is not None:
            return self._buildings_total(combined(below, one_of("path", scope)))[0]
        areas = {area["_id"]: area for area in self.touched_areas.find(below)}
        if not areas:  # a building, a flat, or nothing counted yet
            return self._buildings_total(below)[0]
        marked = {area_of(mark["path"]) for mark in self.marks.find(below, {"path": 1})}
        kept = {area_sum["_id"]: area_sum for area_sum in self.area_sums.find(below, {"counts": 1, "started": 1})}
        holding = {area_id for area_id, touch in areas.items() if area_id not in marked and holds(kept.get(area_id), touch)}
        summed_again = read_each(lambda area_id: self._area_sum(areas[area_id]), set(areas) - holding)
        # The node may itself be a building, of an area above it: a grid with flats of its own,
        # or any parent of nodes counted by kind.
        at_node = self._buildings_total({"tenant": tenant, "_id": node_id})[0]
        return summed([kept[area_id]["counts"] for area_id in holding] + list(summed_again.values()) + [at_node])

    def _area_sum(self, area):
        """An area's sum from its buildings, kept when no building of it is marked."""
        started = now()
        counts, marked = self._buildings_total({"tenant": area["tenant"], "path": area["_id"]}, in_area=area["_id"])
        if not marked and started > area["time"] + WRITE_GRACE:
            kept = {"tenant": area["tenant"], "path": area["path"], "counts": counts, "started": started}
            try:
                self.area_sums.replace_one({"_id": area["_id"]}, kept, upsert=True)
            except DuplicateKeyError:  # a concurrent reader kept its sum first
                pass
        return counts

    def _buildings_total(self, scope_filter, in_area=None):
        """Summed counts of the buildings matching `scope_filter` (only those whose parent is
        `in_area`, if given), after recounting those whose snapshot may miss a change, and
        whether any of them is marked."""
        snapshot_filter = combined(scope_filter, {"area": in_area}) if in_area else scope_filter
        snapshots = {s["_id"]: s for s in self.snapshots.find(snapshot_filter, {"counts": 1, "counted": 1})}
        marks = [mark for mark in self.marks.find(scope_filter) if not in_area or area_of(mark["path"]) == in_area]
        uncovered = [mark for mark in marks if not covers(snapshots.get(mark["_id"]), mark)]
        snapshots |= {building_id: s for building_id, s in self._recount(uncovered).items() if s}
        return summed([snapshot["counts"] for snapshot in snapshots.values()]), bool(marks)

    def _touch(self, tenant, area_paths):
        moment = now()
        for area_path in area_paths:
            change = {"$set": {"tenant": tenant, "path": list(area_path), "time": moment}}
            try:
                self.touched_areas.update_one({"_id": area_path[-1]}, change, upsert=True)
            except DuplicateKeyError:  # a concurrent first touch inserted it
                self.touched_areas.update_one({"_id": area_path[-1]}, change)

    def refresh(self):
        """Marks the buildings of this moment's audit slot; recounts marked buildings not counted
        since their mark, or whose grace has passed, and clears the marks their snapshot covers.
        The service's timer calls it."""
        self.audit(int(time.time() // FIGURES_REFRESH_SECONDS) % AUDIT_SLOTS)
        marks = list(self.marks.find().limit(MARKS_PER_REFRESH))
        snapshots = read_each(lambda building_id: self.snapshots.find_one({"_id": building_id}),
                              [mark["_id"] for mark in marks])
        due = [mark for mark in marks if not covers(snapshots[mark["_id"]], mark) and recount_due(
            snapshots[mark["_id"]], mark, now() - mark["time"])]
        snapshots |= {building_id: s for building_id, s in self._recount(due).items() if s}
        for mark in marks:
            if covers(snapshots[mark["_id"]], mark):
                self.marks.delete_one({"_id": mark["_id"], "time": mark["time"]})
        self.writes.release_stale()

    def audit(self, slot):
        """Marks the buildings whose snapshots are in `slot`, for a recount."""
        for tenant, building_paths in paths_by_tenant(self.snapshots.find({"audit_slot": slot},
                                                                          {"tenant": 1, "path": 1})).items():
            self.mark_buildings(tenant, building_paths)

    def rewrite_paths_below(self, tenant, node_id, node_path):
        """Snapshots, marks and area sums follow a moved node, as records do; the areas a moved
        building left and joined, and those that moved, are touched."""
        moved = combined({"path": node_id}, {"tenant": tenant})
        areas_before = self._areas_of_buildings(moved)
        for collection in (self.marks, self.area_sums, self.touched_areas):
            # A moved building's own snapshot and mark move too: they are at the node, not only below it.
            rewrite_paths(collection, moved, node_id, node_path)
        rewrite_paths(self.snapshots, moved, node_id, node_path, lambda snapshot: {"area": area_of(snapshot["path"])})
        self._touch(tenant, (areas_before | self._areas_of_buildings(moved)).values())

    def _areas_of_buildings(self, query):
        """{area id: area path} of the snapshots and marks matching `query`."""
        found = [*self.snapshots.find(query, {"tenant": 1, "path": 1}), *self.marks.find(query, {"tenant": 1, "path": 1})]
        return {area_id: path for areas in areas_by_tenant(found).values() for area_id, path in areas.items()}

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
        written = {"tenant": tenant, "path": list(building_path), "area": area_of(building_path),
                   "audit_slot": audit_slot(building_path[-1]), "counts": counts, "counted": counted}
        stored = self.writes.write(snapshot or {"_id": building_path[-1]}, {"$set": written}, upsert=True)
        if stored and snapshot is None and area_of(building_path):
            # Its area's sum must know of it, whatever marked it (a mark made before areas were).
            self._touch(tenant, [building_path[:-1]])
        return stored


class CountedRecords(Records):
    """Records counted in their buildings' snapshots. Each create, update, retire and import marks
    the buildings it may change, writes, then adds the difference (see `BuildingSnapshots`).
    `counts_of(record)` gives what a live record counts, {name: number}; only a write touching
    `counted_fields` can change that."""

    def __init__(self, collection, what, snapshots, counts_of, counted_fields, listing=None):
        super().__init__(collection, what, listing=listing)
        self.snapshots = snapshots
        self.counts_of = counts_of
        self.counted_fields = set(counted_fields) | {"path", "retire_time"}

    def create(self, tenant, request_id, fields, events=()):
        marks = self.snapshots.mark(tenant, fields["path"])
        document, created = super().create(tenant, request_id, fields, events)
        # A repeated request adds nothing, but still clears the mark it made.
        self.snapshots.add(tenant, counted_changes((document, +1 if created else 0), counts_of=self.counts_of), marks)
        return document, created

    def update(self, query, changes, events=(), extra=None, current=None):
        touched = set(changes).union(*(fields for fields in (extra or {}).values()))
        if not touched & self.counted_fields:
            return super().update(query, changes, events, extra, current)
        before = current or self.get(query)
        marks = self.snapshots.mark(before["tenant"], before["path"], changes.get("path", before["path"]))
        document = super().update(query, changes, events, extra, current=before)
        self.snapshots.add(before["tenant"], counted_changes(
            (before, -1), (document, +1), counts_of=self.counts_of), marks)
        return document

    def insert_new(self, tenant, documents):
        marks = self.snapshots.mark(tenant, *[document["path"] for document in documents])
        inserted = super().insert_new(tenant, documents)
        self.snapshots.add(tenant, counted_changes(
            *[(document, +1) for document in documents if document["_id"] in inserted],
            counts_of=self.counts_of), marks)
        return inserted


def counted_changes(*changes, counts_of):
    """{building path: {name: +/- number}} for (record, +1 or -1) changes; a retired record
    counts nothing, but its building is named so that the change's mark is cleared."""
    counts = {}
    for record, sign in changes:
        if not building_of(record):  # a top node (a city): in no one's figures
            continue
        building = counts.setdefault(building_of(record), {})
        for name, n in ({} if "retire_time" in record else counts_of(record)).items():
            building[name] = building.get(name, 0) + sign * n
    return counts


def building_of(record):
    """A flat's, household's or resident's building: the path up to the building."""
    return tuple(record["path"][:-1])


def area_of(building_path):
    """A building's area: its parent node, if it has one."""
    return building_path[-2] if len(building_path) >= 2 else None


def paths_by_tenant(documents):
    """{tenant: {path}} of records, snapshots or marks."""
    paths = {}
    for document in documents:
        paths.setdefault(document["tenant"], set()).add(tuple(document["path"]))
    return paths


def areas_by_tenant(buildings):
    """{tenant: {area id: area path}} of buildings' snapshots or marks."""
    areas = {}
    for building in buildings:
        if area_of(building["path"]):
            areas.setdefault(building["tenant"], {})[area_of(building["path"])] = tuple(building["path"][:-1])
    return areas


def summed(all_counts):
    totals = {}
    for counts in all_counts:
        for name, n in counts.items():
            totals[name] = totals.get(name, 0) + n
    return {name: n for name, n in totals.items() if n}


def holds(area_sum, touch):
    return bool(area_sum and area_sum["started"] > touch["time"] + WRITE_GRACE)


def recount_due(snapshot, mark, age):
    counted_since = bool(snapshot and snapshot["counted"] and snapshot["counted"] > mark["time"])
    return age > WRITE_GRACE or (age > FIRST_RECOUNT_AFTER and not counted_since)


def covers(snapshot, mark):
    return bool(snapshot and snapshot["counted"] and snapshot["counted"] > mark["time"] + WRITE_GRACE)


def audit_slot(building_id):
    """The audit slot of a building's snapshot: a stable hash of its id."""
    return int.from_bytes(hashlib.blake2b(building_id.encode(), digest_size=4).digest(), "big") % AUDIT_SLOTS
