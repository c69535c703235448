"""Deliberation meetings and the projects they adopt, free of storage and RPC.

A grid or community meeting follows "four discussions, two publications" (四议两公开): proposal,
committee review, deliberation, resolution, then publication of the decision and of the outcome,
one step at a time and only forward. Its agenda is built from open suggestions below its node
and from recurring problems (one category reported again and again at one place);
each item is decided during deliberation or resolution, and the decision goes on the
suggestion's timeline. An adopted item, once the decision is published, becomes a project with
milestones; completing it resolves the suggestion, which asks its reporter for feedback."""
from datetime import datetime, timezone

from services.errors import AlreadyExists, FailedPrecondition, InvalidArgument, PermissionDenied
from services.events import envelope
from services.storage import new_id, timestamp
from services.tickets import events as contracts
from services.tickets import lifecycle, timeline
from services.tickets.timeline import Step

PROCEDURE = ("PROPOSED", "COMMITTEE_REVIEW", "DELIBERATION", "RESOLVED", "DECISION_PUBLISHED", "OUTCOME_PUBLISHED")
# The agenda is settled before the meeting deliberates.
AGENDA_OPEN = frozenset({"PROPOSED", "COMMITTEE_REVIEW"})
DECIDING = frozenset({"DELIBERATION", "RESOLVED"})
PUBLISHED = frozenset({"DECISION_PUBLISHED", "OUTCOME_PUBLISHED"})
DECISIONS = ("ADOPTED", "REJECTED", "REFERRED_UPWARD")
# Who decides beyond the convenor: staff above a grid answer for every meeting in their scope.
DECIDING_ROLES = frozenset({"city_operator", "community_staff"})
STAFF_ROLES = frozenset({"city_operator", "community_staff", "grid_worker"})
FULL_PROGRESS = 100
PHOTOS_PER_MILESTONE = 20
# A problem recurs when one category is reported this many times at one place within the window.
RECURRING_AT_LEAST = 3
RECURRING_WINDOW_MILLIS = 90 * 24 * 3600 * 1000
# The latest reports a recurring problem names, and checks for an earlier meeting's decision.
RECURRING_REPORTS_KEPT = 20


# Meetings

def new_meeting(caller, command, place, moment):
    """A PROPOSED meeting's fields and its created event; the convenor is the caller unless named."""
    fields = {
        "id": new_id(), "node_id": place["id"], "path": place["path"], "title": command.title,
        "held_at": command.held_at, "place_station_id": command.place_station_id,
        "convenor": command.convenor or caller.subject,
        "attendees": [attendee.model_dump() for attendee in command.attendees],
        "state": PROCEDURE[0], "agenda": [], "minutes": "", "version": 0,
        "steps": [{"state": PROCEDURE[0], "time": moment, "actor": caller.subject, "note": ""}],
    }
    return fields, meeting_event(contracts.MeetingCreated, fields, "", caller.subject, caller.tenant)


def next_state(meeting, from_state, unfinished=()):
    """The state one step on; FAILED_PRECONDITION when the caller saw another state, when the
    procedure is over, or when the step's condition does not hold (an agenda to deliberate on,
    every item decided before the decision is published, nothing `unfinished` before the outcome is)."""
    state = meeting["state"]
    if from_state and from_state != state:
        raise FailedPrecondition(f"the meeting is {state}, not {from_state}; read it again")
    position = PROCEDURE.index(state)
    if position == len(PROCEDURE) - 1:
        raise FailedPrecondition("the meeting has published its outcome: the procedure is over")
    following = PROCEDURE[position + 1]
    if following == "DELIBERATION" and not meeting["agenda"]:
        raise FailedPrecondition("a meeting deliberates on an agenda: add an item first")
    undecided = [item["ticket_id"] for item in meeting["agenda"] if not item["decision"]]
    if following == "DECISION_PUBLISHED" and undecided:
        raise FailedPrecondition(f"decide every item before publishing the decision; undecided: {', '.join(undecided)}")
    if following == "OUTCOME_PUBLISHED" and unfinished:
        raise FailedPrecondition(f"publish the outcome once every adopted item is carried out; under way: "
                                 f"{'; '.join(unfinished)}")
    return following


def unfinished_work(meeting, suggestions, projects):
    """What keeps the outcome from being published: each adopted suggestion still open (neither
    resolved by its project nor handled as a ticket), each adopted recurring problem without a
    completed project (its reports are handled one by one anyway), and each project of the meeting
    not completed."""
    adopted = [item for item in meeting["agenda"] if item["decision"] == "ADOPTED"]
    open_ids = {ticket["_id"] for ticket in suggestions if ticket["state"] in lifecycle.OPEN_STATES}
    carried_out = {project["ticket_id"] for project in projects if project["state"] == "COMPLETED"}
    return ([item["summary"] for item in adopted if item["ticket_id"] in open_ids
             or (item.get("recurrences") and item["ticket_id"] not in carried_out)]
            + [project["title"] for project in projects if project["state"] != "COMPLETED"])


def adopted_ids(meeting):
    return [item["ticket_id"] for item in meeting["agenda"] if item["decision"] == "ADOPTED"]


def require_station_near(station, place):
    """A meeting is held at a station of its own node, above it or below it, never another community's."""
    if station["node_id"] not in place["path"] and place["id"] not in station["path"]:
        raise InvalidArgument.field("place_station_id", "is a service station of another grid or community")


def advanced(meeting, following, caller, note, moment, suggestions=()):
    """The changes that move the meeting to `following`, and their events. Publishing the decision
    tells the residents behind each item what became of it (`suggestions`: the agenda's tickets as
    they are now, whose reporter and followers are told)."""
    changes = {"state": following,
               "steps": [*meeting["steps"], {"state": following, "time": moment, "actor": caller.subject,
                                             "note": note}]}
    moved = {**meeting, **changes}
    events = [meeting_event(contracts.MeetingAdvanced, moved, meeting["state"], caller.subject, caller.tenant,
                            {"note": note})]
    if following == "DECISION_PUBLISHED":
        by_id = {ticket["_id"]: ticket for ticket in suggestions}
        events += [decision_published_event(moved, item, by_id[item["ticket_id"]], caller)
                   for item in meeting["agenda"] if item["ticket_id"] in by_id]
    return changes, events


def decision_published_event(meeting, item, ticket, caller):
    return meeting_event(contracts.MeetingDecisionPublished, meeting, meeting["state"], caller.subject, caller.tenant,
                         {"ticket_id": item["ticket_id"], "summary": item["summary"], "decision": item["decision"],
                          "reason": item["reason"], "reporter_subject": ticket["reporter_subject"],
                          "followers": ticket["followers"]})


def require_decider(caller, meeting):
    """The convenor decides, or community staff and city operators whose scope holds the meeting."""
    if caller.subject != meeting["convenor"] and caller.role not in DECIDING_ROLES:
        raise PermissionDenied("only the meeting's convenor or community staff record its decisions")


def agenda_item(meeting, ticket, recurrence=None):
    """The agenda item for `ticket`: an open suggestion below the meeting's node, or a report of a
    `recurrence` there (`recurring`); not on the agenda yet and not adopted or rejected by a
    meeting before; added while the agenda is open."""
    if meeting["state"] not in AGENDA_OPEN:
        raise FailedPrecondition(f"the agenda of a {meeting['state']} meeting is settled")
    if ticket["kind"] != "SUGGESTION" and recurrence is None:
        raise InvalidArgument.field("ticket_id", f"a meeting's agenda holds suggestions and recurring problems (one "
                                                 f"category reported {RECURRING_AT_LEAST} times at one place)")
    if meeting["node_id"] not in ticket["path"]:
        raise InvalidArgument.field("ticket_id", "the ticket is not below the meeting's grid or community")
    if recurrence is None and ticket["state"] not in lifecycle.OPEN_STATES:
        raise InvalidArgument.field("ticket_id", f"the suggestion is {ticket['state']}, not open")
    if any(item["ticket_id"] == ticket["_id"] for item in meeting["agenda"]):
        raise AlreadyExists("the suggestion is on the agenda already",
                            [{"field": "ticket_id", "description": "already on the agenda"}])
    if already_decided(ticket, meeting["node_id"]):
        raise InvalidArgument.field("ticket_id", f"a meeting {ticket['deliberation']['decision']} it already; "
                                                 "one referred upward is for a meeting above")
    related = [ticket_id for ticket_id in (recurrence or {}).get("ticket_ids", []) if ticket_id != ticket["_id"]]
    return {"ticket_id": ticket["_id"], "summary": timeline.summary_of(ticket["description"]),
            "supporters": supporters(ticket), "recurrences": (recurrence or {}).get("ticket_count", 0),
            "related_ticket_ids": related, "decision": None, "reason": "", "decided_by": "", "decide_time": None}


def already_decided(ticket, node_id=None):
    """Adopted or rejected by a meeting; or, for a meeting at `node_id`, referred upward by a meeting
    there or below it: a meeting above takes it up."""
    deliberation = ticket.get("deliberation") or {}
    if deliberation.get("decision") in ("ADOPTED", "REJECTED"):
        return True
    referrer = deliberation.get("meeting_node_id")
    return (deliberation.get("decision") == "REFERRED_UPWARD" and node_id is not None
            and at_or_below(node_id, referrer, ticket["path"]))


def at_or_below(node_id, other_id, path):
    """Whether `node_id` is `other_id` or lies below it, both on the ancestors `path` of a ticket."""
    return node_id in path and other_id in path and path.index(node_id) >= path.index(other_id)


def supporters(ticket):
    """How many residents are behind a suggestion: who raised it and who followed it."""
    return len(supporter_subjects(ticket))


def suggested(tickets, node_id):
    """Open suggestions below `node_id` no meeting adopted or rejected, most supporters first,
    then the oldest."""
    candidates = [ticket for ticket in tickets
                  if ticket["kind"] == "SUGGESTION" and ticket["state"] in lifecycle.OPEN_STATES
                  and node_id in ticket["path"] and not already_decided(ticket, node_id)]
    ordered = sorted(candidates, key=lambda ticket: (-supporters(ticket), ticket["create_time"], ticket["id"]))
    return [{"ticket_id": ticket["id"], "summary": timeline.summary_of(ticket["description"]),
             "category_id": ticket["category_id"], "node_id": ticket["node_id"], "supporters": supporters(ticket),
             "state": ticket["state"], "create_time": ticket["create_time"]} for ticket in ordered]


def recurring_below(node_id, now_millis):
    """Which queue index entries recurring problems are made of: requests, disputes and hazards
    below `node_id` reported within the window."""
    since = now_millis - RECURRING_WINDOW_MILLIS

    def matches(entry):
        return entry.kind != "SUGGESTION" and node_id in entry.path and entry.create_time >= since
    return matches


def recurring(entries):
    """The recurring problems among `entries` (`recurring_below`): reports of one category at one
    place (the building, or the node a report was filed at) RECURRING_AT_LEAST times or more, the
    most reported first, then the most recent."""
    groups = {}
    for entry in entries:
        groups.setdefault((entry.category_id, entry.building_id or entry.path[-1]), []).append(entry)
    found = [recurrence_of(category_id, place_id, sorted(group, key=lambda entry: (entry.create_time, entry.id)))
             for (category_id, place_id), group in groups.items() if len(group) >= RECURRING_AT_LEAST]
    return sorted(found, key=lambda found: (-found["ticket_count"], -found["last_millis"], found["latest_ticket_id"]))


def recurrence_of(category_id, place_id, reports):
    return {"category_id": category_id, "place_id": place_id, "ticket_count": len(reports),
            "ticket_ids": [entry.id for entry in reports][-RECURRING_REPORTS_KEPT:],
            "latest_ticket_id": reports[-1].id, "first_millis": reports[0].create_time,
            "last_millis": reports[-1].create_time}


def recurrence_holding(recurrences, ticket_id):
    """The recurring problem `ticket_id` is a report of, or None."""
    return next((found for found in recurrences if ticket_id in found["ticket_ids"]), None)


def undecided_recurrences(recurrences, reports):
    """The recurring problems none of whose `reports` (ticket id -> the ticket, or None) a meeting
    adopted or rejected, as SuggestAgenda lists them: named by their latest report."""
    shown = []
    for found in recurrences:
        if any(reports.get(ticket_id) and already_decided(reports[ticket_id]) for ticket_id in found["ticket_ids"]):
            continue
        latest = reports.get(found["latest_ticket_id"]) or {"description": ""}
        shown.append({"ticket_id": found["latest_ticket_id"], "summary": timeline.summary_of(latest["description"]),
                      "category_id": found["category_id"], "place_id": found["place_id"],
                      "ticket_count": found["ticket_count"], "ticket_ids": found["ticket_ids"],
                      "first_create_time": from_millis(found["first_millis"]),
                      "last_create_time": from_millis(found["last_millis"])})
    return shown


def from_millis(millis):
    """A queue index time as the API shows it."""
    return timestamp(datetime.fromtimestamp(millis / 1000, timezone.utc))


def decided(meeting, ticket_id, decision, reason, caller, moment):
    """The changes that record the item's decision and their events, or None if the item holds
    this decision already (a repeat, which then only makes sure the suggestion's timeline has it)."""
    if meeting["state"] not in DECIDING:
        raise FailedPrecondition(f"a meeting decides during DELIBERATION or RESOLVED, not {meeting['state']}")
    item = item_of(meeting, ticket_id)
    if item["decision"] == decision and item["reason"] == reason:
        return None
    changed = {**item, "decision": decision, "reason": reason, "decided_by": caller.subject, "decide_time": moment}
    agenda = [changed if entry["ticket_id"] == ticket_id else entry for entry in meeting["agenda"]]
    return {"agenda": agenda}, [item_decided_event({**meeting, "agenda": agenda}, changed, caller)]


def item_of(meeting, ticket_id, field_name="ticket_id"):
    for item in meeting["agenda"]:
        if item["ticket_id"] == ticket_id:
            return item
    raise InvalidArgument.field(field_name, "is not on the meeting's agenda")


def item_decided_event(meeting, item, caller):
    return meeting_event(contracts.MeetingItemDecided, meeting, meeting["state"], caller.subject, caller.tenant,
                         {"ticket_id": item["ticket_id"], "summary": item["summary"], "decision": item["decision"],
                          "reason": item["reason"]})


def decision_step(ticket, meeting, item):
    """What the decision writes on the suggestion (its `deliberation` and a timeline step), or None
    if the suggestion holds it already."""
    deliberation = {"meeting_id": meeting["_id"], "meeting_node_id": meeting["node_id"], "decision": item["decision"],
                    "reason": item["reason"]}
    if ticket.get("deliberation") == deliberation:
        return None
    note = f"{meeting['title']}: {item['decision']}" + (f" ({item['reason']})" if item["reason"] else "")
    # A step's `reason` detail names why the service took it (see the timeline's details), so the
    # meeting's own words go under another name.
    details = {"meeting_id": meeting["_id"], "decision": item["decision"], "decision_reason": item["reason"]}
    step = Step("deliberated", contracts.TicketDeliberated, ticket["state"], note, deliberation, details=details)
    return {"deliberation": deliberation}, [step]


def meeting_event(contract, meeting, previous_state, actor, tenant, extra=None):
    meeting_id = meeting.get("id") or meeting["_id"]
    data = {"id": meeting_id, "title": meeting["title"], "node_id": meeting["node_id"], "path": meeting["path"],
            "held_at": timestamp(meeting["held_at"]), "place_station_id": meeting["place_station_id"],
            "convenor": meeting["convenor"], "state": meeting["state"], "previous_state": previous_state,
            "actor": actor, **(extra or {})}
    return envelope(timeline.SERVICE, contract.event_type, tenant, f"meetings/{meeting_id}", data)


# Projects

def new_project(caller, command, meeting, ticket):
    """An ACTIVE project for an item the meeting ADOPTED and has published, and its event."""
    if meeting["state"] not in PUBLISHED:
        raise FailedPrecondition("a project starts once the meeting has published its decision")
    item = item_of(meeting, ticket["_id"])
    if item["decision"] != "ADOPTED":
        raise FailedPrecondition(f"only an ADOPTED item becomes a project; this one was {item['decision']}")
    fields = {
        "id": new_id(), "ticket_id": ticket["_id"], "meeting_id": meeting["_id"], "node_id": ticket["node_id"],
        "path": ticket["path"], "title": command.title, "owner": command.owner or caller.subject,
        "budget_line": command.budget_line, "household_ids": command.household_ids, "state": "ACTIVE",
        "milestones": [{"title": title, "progress_percent": 0, "note": "", "update_time": None}
                       for title in command.milestone_titles],
        "outcome": "", "complete_time": None, "version": 0,
    }
    event = project_event(contracts.ProjectCreated, fields, ticket, caller, {
        "budget_line": command.budget_line, "milestones": list(command.milestone_titles)})
    return fields, event


def milestone_of(project, command):
    """The milestone an update names, once the update may be made: ACTIVE project, progress that
    does not go back."""
    require_active(project)
    if command.milestone_index >= len(project["milestones"]):
        raise InvalidArgument.field("milestone_index", f"the project has {len(project['milestones'])} milestones")
    milestone = project["milestones"][command.milestone_index]
    if command.progress_percent < milestone["progress_percent"]:
        raise InvalidArgument.field("progress_percent", f"must not fall below {milestone['progress_percent']}")
    return milestone


def milestone_updated(project, ticket, command, photos, caller, moment):
    """The changes that record a milestone's progress, which never goes back, with the `photos`
    (references) of this update, and their event."""
    milestone = milestone_of(project, command)
    kept = milestone.get("photos", [])
    added = [photo for photo in photos if photo["id"] not in {known["id"] for known in kept}]
    if len(kept) + len(added) > PHOTOS_PER_MILESTONE:
        raise InvalidArgument.field("photos", f"a milestone keeps at most {PHOTOS_PER_MILESTONE} photos")
    changed = {**milestone, "progress_percent": command.progress_percent, "note": command.note,
               "update_time": moment, "photos": [*kept, *added]}
    milestones = [changed if index == command.milestone_index else entry
                  for index, entry in enumerate(project["milestones"])]
    changes = {"milestones": milestones}
    event = project_event(contracts.ProjectMilestoneUpdated, {**project, **changes}, ticket, caller, {
        "milestone_index": command.milestone_index, "milestone_title": milestone["title"],
        "progress_percent": command.progress_percent, "note": command.note, "photo_count": len(added)})
    return changes, event


def completed(project, ticket, command, caller, moment):
    """The changes that complete an ACTIVE project whose milestones are all done, and their event."""
    require_active(project)
    unfinished = [m["title"] for m in project["milestones"] if m["progress_percent"] < FULL_PROGRESS]
    if unfinished:
        raise FailedPrecondition(f"milestones not done yet: {', '.join(unfinished)}")
    changes = {"state": "COMPLETED", "outcome": command.outcome, "complete_time": moment}
    event = project_event(contracts.ProjectCompleted, {**project, **changes}, ticket, caller,
                          {"outcome": command.outcome})
    return changes, event


def feedback_given(project, ticket, caller, command, moment):
    """The changes that record a supporter's rating of a completed project, and their event; None
    when the caller gave this very rating already (a repeat). The comment stays on the project: a
    resident's words are not sent to partners."""
    if caller.subject not in supporter_subjects(ticket):
        raise PermissionDenied("only the residents who raised or followed the suggestion rate its project")
    if project["state"] != "COMPLETED":
        raise FailedPrecondition(f"a project is rated once completed; this one is {project['state']}")
    given = [entry for entry in project.get("feedback", []) if entry["subject"] == caller.subject]
    if given:
        if (given[0]["satisfaction"], given[0]["comment"]) == (command.satisfaction, command.comment):
            return None
        raise AlreadyExists("you rated this project already", [{"field": "id", "description": "rated already"}])
    entry = {"subject": caller.subject, "satisfaction": command.satisfaction, "comment": command.comment,
             "time": moment}
    changes = {"feedback": [*project.get("feedback", []), entry]}
    event = project_event(contracts.ProjectFeedbackGiven, {**project, **changes}, ticket, caller,
                          {"satisfaction": command.satisfaction})
    return changes, event


def supporter_subjects(ticket):
    return {ticket["reporter_subject"], *ticket["followers"]} - {""}


def require_active(project):
    if project["state"] != "ACTIVE":
        raise FailedPrecondition(f"the project is {project['state']}")


def completion_step(ticket, project, moment):
    """What a completed project writes on its suggestion: resolved, as a handled ticket is, so its
    reporter is asked for feedback; None if the suggestion is no longer open."""
    if ticket["state"] not in lifecycle.OPEN_STATES:
        return None
    resolution = f"{project['title']}: {project['outcome']}" if project["outcome"] else project["title"]
    changes = {"resolution": resolution, "resolve_time": moment, "clock": None, "callback_requested": False}
    return changes, [Step("resolved", contracts.TicketResolved, "RESOLVED", resolution, {"resolution": resolution},
                          details={"project_id": project["_id"]})]


def project_event(contract, project, ticket, caller, extra):
    """A project's event names the suggestion's reporter and followers as they are now: they are
    the residents told of its progress."""
    project_id = project.get("id") or project["_id"]
    data = {"id": project_id, "title": project["title"], "ticket_id": project["ticket_id"],
            "meeting_id": project["meeting_id"], "node_id": project["node_id"], "path": project["path"],
            "owner": project["owner"], "state": project["state"], "reporter_subject": ticket["reporter_subject"],
            "followers": ticket["followers"], "actor": caller.subject, **extra}
    return envelope(timeline.SERVICE, contract.event_type, caller.tenant, f"projects/{project_id}", data)


# What a reader sees (两公开: residents read what a meeting published)

def published_to(meeting, home_path):
    """Whether a resident living at `home_path` reads the meeting: one of their own grid or
    community, once its decision is published."""
    return meeting["node_id"] in home_path and meeting["state"] in PUBLISHED


def meeting_as_read(meeting, caller):
    """A resident reads who attended by name and kind only."""
    if caller.role != "resident":
        return meeting
    return {**meeting, "attendees": [{key: value for key, value in attendee.items() if key != "person_id"}
                                     for attendee in meeting["attendees"]]}


def project_as_read(project, caller):
    """The project with a summary of its ratings. Only staff read residents' ratings one by one;
    a resident reads their own, and neither the households the project touches; a partner none."""
    ratings = [entry["satisfaction"] for entry in project.get("feedback", [])]
    summary = {"feedback_count": len(ratings),
               "average_satisfaction": round(sum(ratings) / len(ratings), 2) if ratings else 0}
    if caller.role in STAFF_ROLES:
        return {**project, **summary}
    own = [entry for entry in project.get("feedback", []) if entry["subject"] == caller.subject]
    households = {"household_ids": []} if caller.role == "resident" else {}
    return {**project, **summary, **households, "feedback": own}
