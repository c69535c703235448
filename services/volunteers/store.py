"""Storage of the volunteers service: volunteers, teams, tasks and the shifts that log hours.

Only one write may leave a given version of a task or shift (a claimed update, `storage.claims`), so two dispatches
or offers read at the same version cannot both add people, nor two check-outs both close a shift.
"""
from eventlet import sleep
from pymongo import ASCENDING

from services.errors import FailedPrecondition
from services.storage import LIVE, OUTBOX, ClaimedUpdates, Listing, Records, Repository, live, read_each

# What ranking reads of a volunteer: enough to score, nothing more.
RANKING_FIELDS = {"display_name": 1, "skills": 1, "certifications": 1, "availability": 1, "path": 1}
# Concurrent writers to one task (dispatches, offers, feedback, completion) lose its version to
# each other; the loser waits for the winner's write, reads the task again, checks it again and
# retries, up to this many times (about ten seconds in all).
WRITE_ATTEMPTS = 20
# Volunteers (by skill too) and tasks below a node are lists (services/storage/listings.py): a
# page of a city's 1,500 volunteers reads a few shards instead of decoding and sorting them all.
VOLUNTEER_LISTS = Listing(
    lambda volunteer: {"volunteers"} | {skill_list(skill["name"]) for skill in volunteer.get("skills", [])},
    depends_on=("skills",))
TASK_LISTS = Listing(lambda task: {"tasks"}, depends_on=())
WRITE_BACKOFF_SECONDS = 0.05


class VolunteersRepository(Repository):
    record_collections = ("volunteers", "teams", "tasks", "shifts", "rotations", "activities")

    def __init__(self, database):
        super().__init__(database)
        self.volunteers = Records(database.volunteers, "volunteer", listing=VOLUNTEER_LISTS)
        self.teams = Records(database.teams, "team")
        self.tasks = Records(database.tasks, "task", claims=ClaimedUpdates(database.tasks, database.task_claims),
                             listing=TASK_LISTS)
        self.shifts = Records(database.shifts, "shift", claims=ClaimedUpdates(database.shifts, database.shift_claims))
        self.rotations = Records(database.rotations, "rotation")
        self.activities = Records(database.activities, "activity")

    def ensure_indexes(self):
        super().ensure_indexes()
        self.volunteers.collection.create_index(
            [("tenant", ASCENDING), ("subject", ASCENDING)], unique=True, name="volunteer_subject")
        self.volunteers.collection.create_index(
            [("tenant", ASCENDING), ("skills.name", ASCENDING)], name="volunteer_skills")
        self.teams.collection.create_index([("tenant", ASCENDING), ("member_ids", ASCENDING)], name="team_members")
        self.teams.collection.create_index(
            [("tenant", ASCENDING), ("coordinators", ASCENDING)], name="team_coordinators")
        self.tasks.collection.create_index([("tenant", ASCENDING), ("team_id", ASCENDING)], name="task_team")
        self.activities.collection.create_index(
            [("tenant", ASCENDING), ("organisation_id", ASCENDING), ("grid_id", ASCENDING), ("date", ASCENDING)],
            name="activity_rotation")
        self.tasks.collection.create_index([("tenant", ASCENDING), ("state", ASCENDING)], name="task_state")
        self.tasks.collection.create_index(
            [("state", ASCENDING), ("offer_deadline", ASCENDING)], name="task_deadline")
        self.tasks.collection.create_index(
            [("tenant", ASCENDING), ("assignments.volunteer_id", ASCENDING)], name="task_assignees")
        self.shifts.collection.create_index(
            [("tenant", ASCENDING), ("volunteer_id", ASCENDING), ("start_time", ASCENDING)], name="volunteer_shifts")
        self.shifts.collection.create_index(
            [("tenant", ASCENDING), ("end_time", ASCENDING)], name="shifts_by_end")
        self.shifts.collection.create_index([("tenant", ASCENDING), ("task_id", ASCENDING)], name="shifts_of_task")

    def volunteers_page(self, node_id, skill, query, page_size, page_token):
        """A page of the volunteers below a node (with a skill, if given) that match `query`."""
        return self.volunteers.sampled_listed_page(
            node_id, skill_list(skill) if skill else "volunteers", query, page_size, page_token)

    def tasks_page(self, node_id, query, page_size, page_token):
        return self.tasks.sampled_listed_page(node_id, "tasks", query, page_size, page_token)

    def write_task(self, task, operation, events):
        """Applies `operation` with its events if the task is still at the version it was read at;
        returns it as written, or None when another write moved it on first."""
        return self.tasks.claimed_update(task, operation, events)

    def change_task(self, task, change):
        """Writes what `change(task)` returns — (operation, events), or None for nothing to write —
        if no other write moved the task on since it was read. Else it waits, reads the task again
        and asks `change` again, which checks its rules on the task as it now is and raises when
        they no longer hold. Returns the task as it stands."""
        for attempt in range(WRITE_ATTEMPTS):
            if attempt:
                sleep(WRITE_BACKOFF_SECONDS * attempt)
                task = self.tasks.get({"tenant": task["tenant"], "_id": task["_id"]})
            wanted = change(task)
            if wanted is None:
                return task
            document = self.write_task(task, *wanted)
            if document is not None:
                return document
        raise FailedPrecondition("the task kept changing while this request ran; read it again and retry")

    def write_shift(self, shift, operation, events):
        return self.shifts.claimed_update(shift, operation, events)

    def release_stale_claims(self):
        self.tasks.claims.release_stale()
        self.shifts.claims.release_stale()

    def volunteer_of_subject(self, tenant, subject):
        return self.volunteers.collection.find_one(live({"tenant": tenant, "subject": subject}))

    def coordinates(self, tenant, team_id, subject):
        """Whether `subject` is a coordinator of the team."""
        return self.teams.first({"tenant": tenant, "_id": team_id, "coordinators": subject}, {"_id": 1}) is not None

    def coordinators_of(self, team_id):
        team = self.teams.collection.find_one({"_id": team_id}, {"coordinators": 1})
        return team["coordinators"] if team else []

    def teams_of_member(self, tenant, volunteer_id):
        return [team["_id"] for team in self.teams.collection.find(
            {"tenant": tenant, "member_ids": volunteer_id}, {"_id": 1})]

    def display_names(self, records_name, tenant, ids):
        """{id: display name} of the volunteers or teams (`records_name`) with these ids."""
        records = getattr(self, records_name)
        return {d["_id"]: d["display_name"] for d in records.collection.find(
            {"tenant": tenant, "_id": {"$in": list(ids)}}, {"display_name": 1})}

    def teams_coordinated_by(self, tenant, subject):
        return [team["_id"] for team in self.teams.collection.find(
            {"tenant": tenant, "coordinators": subject, **LIVE}, {"_id": 1})]

    def activities_in(self, tenant, organisation_id, grid_id, first_day, day_after):
        """Activities of an organisation in a grid on dates [first_day, day_after), both YYYY-MM-DD."""
        return self.activities.collection.count_documents(
            {"tenant": tenant, "organisation_id": organisation_id, "grid_id": grid_id,
             "date": {"$gte": first_day, "$lt": day_after}, **LIVE})

    def candidates(self, tenant, skill_names):
        """Volunteers holding every required skill (any level), or all of the tenant's when none is required.

        A flat filter (no `$and`), and retired records dropped in Python: FerretDB pushes a flat
        filter down to its index and runs the same query three times slower inside `$and`."""
        query = {"tenant": tenant}
        if len(skill_names) == 1:
            query["skills.name"] = skill_names[0]
        elif skill_names:
            query["skills.name"] = {"$all": list(skill_names)}
        found = self.volunteers.collection.find(query, {**RANKING_FIELDS, "retire_time": 1})
        return [volunteer for volunteer in found if "retire_time" not in volunteer]

    def volunteers_by_id(self, tenant, ids):
        return {v["_id"]: v for v in self.volunteers.collection.find(
            live({"tenant": tenant, "_id": {"$in": list(ids)}}))}

    def recent_dispatch_counts(self, tenant, since):
        """Dispatches per volunteer since a moment, across all tasks of the tenant."""
        pipeline = [
            {"$match": {"tenant": tenant, "assignments.dispatch_time": {"$gte": since}}},
            {"$unwind": "$assignments"},
            {"$match": {"assignments.dispatch_time": {"$gte": since}}},
            {"$group": {"_id": "$assignments.volunteer_id", "count": {"$sum": 1}}},
        ]
        return {row["_id"]: row["count"] for row in self.tasks.collection.aggregate(pipeline)}

    def overlapping_shift(self, tenant, volunteer_id, start, end, excluding_id):
        """Another shift of the volunteer that overlaps [start, end); `end` None means still open.

        A shift still open (no end_time) overlaps anything after its start."""
        later_than_start = [{"end_time": {"$gt": start}}, {"end_time": None}]
        conditions = [{"tenant": tenant, "volunteer_id": volunteer_id, "_id": {"$ne": excluding_id}},
                      {"$or": later_than_start}]
        if end is not None:
            conditions.append({"start_time": {"$lt": end}})
        return self.shifts.collection.find_one({"$and": conditions})

    def open_tasks(self, tenant, moment, limit):
        """Published tasks not over by `moment`, soonest first."""
        return self.tasks.collection.find(
            {"tenant": tenant, "state": "PUBLISHED", "end_time": {"$gt": moment}},
            {OUTBOX: 0}).sort("start_time", ASCENDING).limit(limit)

    def rotations_in(self, scope_filter):
        return self.rotations.all(scope_filter, {OUTBOX: 0}, sort=[("_id", ASCENDING)])

    def shift_of(self, tenant, shift_id):
        return self.shifts.collection.find_one({"tenant": tenant, "_id": shift_id})

    def checked_in(self, shift_id):
        return self.shifts.collection.find_one({"_id": shift_id}, {"_id": 1}) is not None

    def served(self, tenant, task_id):
        """Whether anyone has checked out of the task."""
        return self.shifts.collection.find_one(
            {"tenant": tenant, "task_id": task_id, "end_time": {"$ne": None}}, {"_id": 1}) is not None

    def shifts_of_task(self, tenant, task_id):
        return {s["volunteer_id"]: s for s in self.shifts.collection.find({"tenant": tenant, "task_id": task_id})}

    def shifts_of_tasks(self, tenant, task_ids):
        """{task id: {volunteer id: shift}} of these tasks, read task by task at once: FerretDB
        scans every shift for an `$in` (open tasks took 2 s)."""
        return read_each(lambda task_id: self.shifts_of_task(tenant, task_id), task_ids)

    def closed_shifts(self, query, start, end):
        """Shifts that ended in [start, end) and match `query`."""
        return list(self.shifts.collection.find(
            {"$and": [query, {"end_time": {"$gte": start, "$lt": end}}]},
            {"volunteer_id": 1, "team_ids": 1, "task_id": 1, "start_time": 1, "end_time": 1, "hours": 1,
             "path": 1}).sort("end_time", ASCENDING))

    def unfilled_past_deadline(self, moment, limit=100):
        return list(self.tasks.collection.find(
            {"state": "PUBLISHED", "offer_deadline": {"$lte": moment}, "unfilled_raised": {"$ne": True}, **LIVE}
        ).limit(limit))


def skill_list(name):
    return f"skill:{name}"
