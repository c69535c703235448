"""How the gateway's answers read on a page: local times, durations, overdue marks, occupancy
colours, figures as numbers with labels. Pure functions, tested without a browser or a gateway."""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask_babel import gettext as _, lazy_gettext as _l

OPEN_STATES = ("SUBMITTED", "TRIAGED", "ASSIGNED", "IN_PROGRESS")
STATE_NAMES = {
    "SUBMITTED": _l("Submitted"), "TRIAGED": _l("Triaged"), "REJECTED": _l("Rejected"),
    "DUPLICATE": _l("Duplicate"), "ASSIGNED": _l("Assigned"), "IN_PROGRESS": _l("In progress"),
    "RESOLVED": _l("Resolved"), "FEEDBACK": _l("Feedback given"), "CLOSED": _l("Closed"),
}
PRIORITY_NAMES = {"LOW": _l("Low"), "NORMAL": _l("Normal"), "HIGH": _l("High"), "URGENT": _l("Urgent")}
CHANNEL_NAMES = {"ON_BEHALF_OF_RESIDENT": _l("On behalf of a resident"), "HOTLINE": _l("Hotline"),
                 "STATION_WALK_IN": _l("Walk-in at the station"), "PATROL": _l("Found on patrol")}
OCCUPANCY_NAMES = {"VACANT": _l("Vacant"), "OWNER_OCCUPIED": _l("Owner-occupied"), "RENTED": _l("Rented")}
GENDER_NAMES = {"FEMALE": _l("Female"), "MALE": _l("Male")}
RELATION_NAMES = {"head": _l("Head of household"), "spouse": _l("Spouse"), "child": _l("Son or daughter"),
                  "parent": _l("Parent"), "grandparent": _l("Grandparent"), "grandchild": _l("Grandchild"),
                  "sibling": _l("Sibling"), "in_law": _l("In-law"), "tenant": _l("Tenant"), "other": _l("Other")}
KIND_NAMES = {"CITY": _l("City"), "STREET": _l("Street"), "COMMUNITY": _l("Community"),
              "DISTRICT": _l("District"), "GRID": _l("Grid"), "MICRO_GRID": _l("Micro-grid"),
              "BUILDING": _l("Building")}
TAG_NAMES = {
    "elderly": _l("Elderly"), "living_alone": _l("Living alone"), "veteran": _l("Veteran"),
    "disabled": _l("Disabled"), "special_service_family": _l("Special-care family"),
    "childbearing_age_woman": _l("Woman of childbearing age"), "fully_vaccinated": _l("Fully vaccinated"),
    "empty_nest": _l("Empty nest"), "child": _l("Child"), "community_correction": _l("Community correction"),
    "resettlement": _l("Resettled"), "mental_disability": _l("Mental disability"),
}
ACTION_NAMES = {
    "created": _l("Reported"), "triaged": _l("Accepted"), "rejected": _l("Rejected"),
    "marked_duplicate": _l("Marked duplicate"), "assigned": _l("Assigned"), "started": _l("Work started"),
    "resolved": _l("Resolved"), "feedback_given": _l("Feedback given"), "reopened": _l("Reopened"),
    "closed": _l("Closed"), "escalated": _l("Escalated"), "clock_paused": _l("Clock paused"),
    "clock_resumed": _l("Clock resumed"), "followed": _l("Followed"), "party_added": _l("Party added"),
    "deadline_approaching": _l("Deadline approaching"), "deadline_missed": _l("Deadline missed"),
    "volunteers_requested": _l("Volunteers requested"), "volunteers_dispatched": _l("Volunteers dispatched"),
    "volunteer_checked_in": _l("Volunteer checked in"), "volunteer_checked_out": _l("Volunteer checked out"),
    "volunteer_task_completed": _l("Volunteer task done"), "volunteer_feedback_given": _l("Volunteer rated"),
    "deliberated": _l("Meeting decision"),
}
DECISION_NAMES = {"ADOPTED": _l("Adopted"), "REJECTED": _l("Not adopted"), "REFERRED_UPWARD": _l("Referred upward")}
POLL_STATE_NAMES = {"DRAFT": _l("Not open yet"), "OPEN": _l("Open"), "CLOSED": _l("Closed")}
POLL_PER_NAMES = {"HOUSEHOLD": _l("One answer per household"), "RESIDENT": _l("One answer per resident")}
STAGE_NAMES = {"FIRST_RESPONSE": _l("first response"), "RESOLUTION": _l("resolution")}
# What each role may do to a ticket in each state, as the tickets service allows it; the console
# offers only these, and the gateway still decides.
STAFF_ACTIONS = {"SUBMITTED": ("triage",), "TRIAGED": ("assign",), "ASSIGNED": ("start",),
                 "IN_PROGRESS": ("resolve",)}
STAFF_ROLES = ("city_operator", "community_staff", "grid_worker")
TOP_LEVEL = "STREET"
ASSIGNEE_ACTIONS = ("start", "resolve")


def parsed_time(timestamp):
    """An RFC 3339 timestamp as the gateway sends it, or None for an empty one."""
    if not timestamp:
        return None
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


LOCAL_INPUT = "%Y-%m-%dT%H:%M"


def local_time(timestamp, zone):
    """`timestamp` in the tenant's time zone, to the minute; empty when there is none."""
    moment = parsed_time(timestamp)
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M") if moment else ""


def local_input(moment, zone):
    """A moment as a datetime-local field shows it, in the tenant's zone."""
    return moment.astimezone(ZoneInfo(zone)).strftime(LOCAL_INPUT)


def moment_of_local(text, zone):
    """What a datetime-local field holds (in the tenant's zone) as a moment; None when it holds
    none, which the service refuses by the field's name."""
    try:
        return datetime.strptime(text, LOCAL_INPUT).replace(tzinfo=ZoneInfo(zone))
    except ValueError:
        return None


def minutes_text(minutes):
    """A duration of whole minutes, hours and days for people: 95 → "1h 35m" (in zh-CN 1小时35分)."""
    minutes = round(minutes or 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(days)dd %(hours)dh", days=days, hours=hours)
    if hours:
        return _("%(hours)dh %(minutes)dm", hours=hours, minutes=mins)
    return _("%(minutes)dm", minutes=mins)


def is_overdue(ticket, now):
    """Open, its clock running, and past the clock's due time."""
    clock = ticket.get("clock") or {}
    due = parsed_time(clock.get("due_at"))
    return ticket.get("state") in OPEN_STATES and not clock.get("paused") and due is not None and due < now


def ticket_row(ticket, names, zone, now=None):
    """One line of a queue: what, where, how urgent, in words."""
    now = now or datetime.now(timezone.utc)
    clock = ticket.get("clock") or {}
    return {
        "id": ticket["id"],
        "category": names.category(ticket.get("category_id")),
        "place": names.place(ticket),
        "state": STATE_NAMES.get(ticket.get("state"), ticket.get("state")),
        "priority": PRIORITY_NAMES.get(ticket.get("priority"), ""),
        "urgent": ticket.get("priority") in ("HIGH", "URGENT"),
        "description": ticket.get("description", ""),
        "created": local_time(ticket.get("create_time"), zone),
        "due": local_time(clock.get("due_at"), zone) if ticket.get("state") in OPEN_STATES else "",
        "overdue": is_overdue(ticket, now),
    }


def timeline_rows(entries, zone):
    return [{"time": local_time(entry.get("time"), zone),
             "action": ACTION_NAMES.get(entry.get("action"), entry.get("action")),
             "actor": entry.get("actor", ""), "note": said(entry, zone)} for entry in entries]


def said(entry, zone):
    """What a timeline entry says: the service's own steps worded from their details in the
    reader's language, anything else as its author wrote it."""
    details = entry.get("details") or {}
    wording = WORDINGS.get((entry.get("action"), details.get("reason", "")))
    if not details or wording is None:
        return entry.get("note", "")
    return wording({**dict.fromkeys(DETAIL_NAMES, ""), **details, "due": local_time(details.get("due_at"), zone),
                    "stage": STAGE_NAMES.get(details.get("stage"), ""),
                    "level": KIND_NAMES.get(details.get("level"), ""),
                    "priority": PRIORITY_NAMES.get(details.get("raised_priority"), ""),
                    "tags": tag_names(tag for tag in details.get("raised_for", "").split(",") if tag),
                    "decision": DECISION_NAMES.get(details.get("decision"), "")})


# Details a wording may name that an older or partial entry lacks: they read empty.
DETAIL_NAMES = ("title", "people_needed", "people_dispatched", "dispatched", "hours", "rating", "satisfaction",
                "comment", "decision_reason")
# (action, reason) -> the words of a step the service took itself, from its details.
WORDINGS = {
    ("created", ""): lambda d: _("Priority raised to %(priority)s for: %(tags)s", **d),
    ("feedback_given", ""): lambda d: _("Satisfaction %(satisfaction)s/5 %(comment)s", **d).strip(),
    ("reopened", "low_satisfaction"): lambda d: _("Low satisfaction: reopened, call the resident back"),
    ("deadline_approaching", ""): lambda d: _("The %(stage)s is due at %(due)s", **d),
    ("deadline_missed", ""): lambda d: _("The %(stage)s was due at %(due)s (%(level)s level)", **d),
    ("escalated", "deadline_missed"): lambda d: _("Deadline missed: escalated to %(level)s level", **d),
    ("volunteers_requested", ""): lambda d: _("%(title)s: %(people_needed)s people needed", **d),
    ("volunteers_dispatched", ""): lambda d: _(
        "%(title)s: %(dispatched)s dispatched, %(people_dispatched)s of %(people_needed)s", **d),
    ("volunteer_checked_in", ""): lambda d: _("%(title)s: a volunteer checked in", **d),
    ("volunteer_checked_out", ""): lambda d: _("%(title)s: a volunteer checked out after %(hours)s hours", **d),
    ("volunteer_task_completed", ""): lambda d: _("%(title)s: done, %(hours)s hours served", **d),
    ("volunteer_feedback_given", ""): lambda d: _("%(title)s: rated %(rating)s/5 by the person served", **d),
    ("deliberated", ""): lambda d: _("The meeting decided: %(decision)s %(decision_reason)s", **d).strip(),
}


def actions_for(role, ticket, subject=""):
    """The actions the console offers this person on this ticket, as the tickets service allows
    them: staff the next step and what an open ticket allows (its assignee alone starts, resolves,
    pauses and resumes it), a resident feedback on a resolved ticket (the service takes it from the
    reporter only)."""
    if role == "resident":
        return ("feedback",) if ticket.get("state") == "RESOLVED" else ()
    if role not in STAFF_ROLES:
        return ()
    assignee = bool(subject) and ticket.get("assignee_subject") == subject
    actions = tuple(action for action in STAFF_ACTIONS.get(ticket.get("state"), ())
                    if assignee or action not in ASSIGNEE_ACTIONS)
    return actions + open_ticket_actions(ticket, assignee)


def open_ticket_actions(ticket, assignee):
    """What staff may do to an open ticket besides its next step: escalate it below the top
    level, pause or resume its running clock (its assignee), add a party, ask for volunteers."""
    if ticket.get("state") not in OPEN_STATES:
        return ()
    clock = ticket.get("clock") or {}
    actions = () if ticket.get("level") == TOP_LEVEL else ("escalate",)
    if clock and assignee:
        actions += ("resume",) if clock.get("paused") else ("pause",)
    return actions + ("add_party", "request_volunteers")


def message_row(message, zone):
    return {"id": message["id"], "title": message.get("title", ""), "body": message.get("body", ""),
            "urgent": message.get("urgent", False), "time": local_time(message.get("create_time"), zone),
            "unread": not message.get("read_time")}


def poll_row(poll, zone):
    """A poll as a list or its page shows it: its state and answer rule in words, its times local."""
    return {"id": poll["id"], "title": poll.get("title", ""), "state": poll.get("state", ""),
            "state_name": POLL_STATE_NAMES.get(poll.get("state"), poll.get("state", "")),
            "per": POLL_PER_NAMES.get(poll.get("per"), ""), "opens": local_time(poll.get("opens_at"), zone),
            "closes": local_time(poll.get("closes_at"), zone), "answered": poll.get("answered", False)}


def poll_results(results):
    """Each question's choices with their counts and their share of the answers, in percent."""
    answered = int(results.get("answer_count", 0))
    return {"answer_count": answered, "questions": [
        {"text": question.get("text", ""), "choices": [
            {"label": choice.get("label", ""), "count": int(choice.get("count", 0)),
             "percent": round(100 * int(choice.get("count", 0)) / answered) if answered else 0}
            for choice in question.get("choices", [])]}
        for question in results.get("questions", [])]}


def unread_text(count):
    """Unread messages as a badge reads them: the service counts up to 100."""
    return "99+" if count >= 100 else str(count)


def headline(figures):
    """A node's figures as the numbers its cards show."""
    occupancy = figures.get("flats_by_occupancy") or {}
    return {
        "buildings": int(figures.get("buildings", 0)), "flats": int(figures.get("flats", 0)),
        "households": int(figures.get("households", 0)), "residents": int(figures.get("residents", 0)),
        "grids": int(figures.get("grids", 0)),
        "occupancy": [{"key": key, "name": str(OCCUPANCY_NAMES[key]), "count": int(occupancy.get(key.lower(), 0))}
                      for key in OCCUPANCY_NAMES],
    }


def tag_bars(figures):
    """Residents per tag, most first, named: the bars of a dashboard."""
    counts = figures.get("residents_by_tag") or {}
    ranked = sorted(counts.items(), key=lambda item: (-int(item[1]), item[0]))
    return [{"tag": tag, "name": str(TAG_NAMES.get(tag, tag)), "count": int(count)} for tag, count in ranked]


def ticket_headline(figures):
    """A period's ticket figures for a dashboard: rates as percentages, durations in words."""
    first, resolution = figures.get("first_response") or {}, figures.get("resolution") or {}
    return {
        "total": int(figures.get("total", 0)),
        "completion": round(100 * float(figures.get("completion_rate", 0))),
        "first_response_p50": duration_of(first, "median_minutes"),
        "first_response_p90": duration_of(first, "p90_minutes"),
        "resolution_p50": duration_of(resolution, "median_minutes"),
        "resolution_p90": duration_of(resolution, "p90_minutes"),
        "satisfaction": round(float(figures.get("satisfaction_average", 0)), 1),
        "satisfaction_count": int(figures.get("satisfaction_count", 0)),
        "overdue": int(figures.get("overdue_count", 0)),
    }


def duration_of(figures, percentile):
    """A percentile of durations in words, or a dash when no ticket got that far."""
    return minutes_text(figures.get(percentile)) if int(figures.get("count", 0)) else "—"


def age_on(birth_date, today):
    """Whole years from an ISO birth date to `today`; None when the date is unknown."""
    if not birth_date:
        return None
    born = date.fromisoformat(birth_date)
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def this_month(today):
    """The first and last day of `today`'s month."""
    first = today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def person(resident, today):
    """Who a resident is, as any list of people shows them: name, gender, age, phone, tags."""
    return {"name": resident.get("display_name", ""), "gender": GENDER_NAMES.get(resident.get("gender"), ""),
            "age": age_on(resident.get("birth_date"), today), "phone": resident.get("phone", ""),
            "tags": tag_names(resident.get("tags", []))}


def tag_names(tags):
    return "、".join(str(TAG_NAMES.get(tag, tag)) for tag in tags)


def resident_row(resident, names, today):
    """One line of a work list: who, how old, where, which tags."""
    path = resident.get("path") or []
    return {"id": resident["id"], **person(resident, today),
            "address": names.address(path[-2], path[-1]) if len(path) >= 2 else ""}


def households_of_flat(households, residents, today):
    """The households of a flat, each with its members (head first) as the reader may see them."""
    members = {}
    for resident in residents:
        members.setdefault(resident.get("household_id"), []).append({
            **person(resident, today),
            "relation": RELATION_NAMES.get(resident.get("relation"), resident.get("relation", "")),
            "head": resident.get("relation") == "head"})
    return [{"name": household.get("display_name", ""),
             "members": sorted(members.get(household["id"], []), key=lambda member: not member["head"])}
            for household in households]


def care_row(household, names):
    """One line of the care list: a household not visited lately, and who in it is vulnerable."""
    return {"household_id": household["household_id"], "name": household.get("display_name", ""),
            "address": names.flat_address(household["flat_id"]),
            "last_visit": household.get("last_visit_date", ""),
            "vulnerable": int(household.get("vulnerable_members", 0))}


BOARD_COLUMNS = {"draft": _l("Not published"), "open": _l("Looking for people"), "dispatched": _l("People dispatched"),
                 "done": _l("Done")}


def board_column(task):
    """Where a task stands on the volunteers' board."""
    if task.get("state") == "COMPLETED":
        return "done"
    if task.get("state") == "DRAFT":
        return "draft"
    return "dispatched" if task.get("assignments") else "open"


def task_card(task, zone):
    return {"id": task["id"], "title": task.get("title", ""), "start": local_time(task.get("start_time"), zone),
            "needed": int(task.get("people_needed", 0)), "dispatched": len(task.get("assignments", [])),
            "offers": len(task.get("offers", [])), "column": board_column(task)}


def board(tasks, zone):
    """{column: cards} in the board's order, soonest first within a column."""
    cards = sorted((task_card(task, zone) for task in tasks), key=lambda card: card["start"])
    return {column: [card for card in cards if card["column"] == column] for column in BOARD_COLUMNS}


def floors_of(flats):
    """A building's flats as rows of floors, top floor first, each unit's flats left to right: how
    the building looks from the street."""
    floors = {}
    for flat in flats:
        floors.setdefault(int(flat.get("floor", 0)), []).append(flat)
    return [(floor, sorted(floors[floor], key=lambda flat: (flat.get("unit", ""), flat.get("number", ""))))
            for floor in sorted(floors, reverse=True)]


MEETING_STATES = {"PROPOSED": _l("Proposed"), "COMMITTEE_REVIEW": _l("Committee review"),
                  "DELIBERATION": _l("Deliberation"), "RESOLVED": _l("Resolved by vote"),
                  "DECISION_PUBLISHED": _l("Decision published"), "OUTCOME_PUBLISHED": _l("Outcome published")}
PROJECT_STATES = {"ACTIVE": _l("Under way"), "COMPLETED": _l("Project completed")}


def meeting_row(meeting, zone):
    """A meeting as its page lists it: when, its step of the procedure, and each item's decision."""
    return {"id": meeting["id"], "title": meeting.get("title", ""), "held_at": local_time(meeting.get("held_at"), zone),
            "state": MEETING_STATES.get(meeting.get("state"), meeting.get("state", "")),
            "minutes": meeting.get("minutes", ""),
            "items": [{"ticket_id": item["ticket_id"], "summary": item.get("summary", ""),
                       "supporters": item.get("supporters", 0),
                       "decision": DECISION_NAMES.get(item.get("decision"), ""), "reason": item.get("reason", "")}
                      for item in meeting.get("agenda", [])]}


def project_row(project):
    return {"id": project["id"], "title": project.get("title", ""), "ticket_id": project.get("ticket_id", ""),
            "state": PROJECT_STATES.get(project.get("state"), project.get("state", "")),
            "budget_line": project.get("budget_line", ""),
            "milestones": [{"title": m.get("title", ""), "progress": m.get("progress_percent", 0),
                            "note": m.get("note", "")} for m in project.get("milestones", [])]}


PROCEDURE = tuple(MEETING_STATES)
AGENDA_OPEN = ("PROPOSED", "COMMITTEE_REVIEW")
DECIDING = ("DELIBERATION", "RESOLVED")
PUBLISHED = ("DECISION_PUBLISHED", "OUTCOME_PUBLISHED")
DECIDING_ROLES = ("city_operator", "community_staff")
FULL_PROGRESS = 100


def procedure_steps(meeting, people, zone):
    """The six steps of 四议两公开 in order: each one's name, whether the meeting has taken it, is at
    it now, and who took it when (the last time, should a step have been recorded twice)."""
    taken = {step.get("state"): step for step in meeting.get("steps", [])}
    state = meeting.get("state", "")
    reached = PROCEDURE.index(state) if state in PROCEDURE else -1
    return [{"state": key, "name": MEETING_STATES[key], "done": position <= reached, "current": key == state,
             "who": person_named(taken.get(key, {}).get("actor", ""), people),
             "time": local_time(taken.get(key, {}).get("time"), zone), "note": taken.get(key, {}).get("note", "")}
            for position, key in enumerate(PROCEDURE)]


def next_step(meeting):
    """The step after the meeting's, or None once the outcome is published."""
    state = meeting.get("state", "")
    position = PROCEDURE.index(state) if state in PROCEDURE else len(PROCEDURE) - 1
    return PROCEDURE[position + 1] if position + 1 < len(PROCEDURE) else None


def person_named(subject, people):
    """A login subject as people know it: the name of the post they hold, or the subject itself."""
    return people.get(subject, subject)


def meeting_actions(meeting, role, subject):
    """What the console offers staff on a meeting at its step, as the tickets service allows it:
    the agenda while it is open, decisions (the convenor, community staff and city operators)
    while it deliberates or resolves, projects once the decision is published."""
    if role not in STAFF_ROLES:
        return frozenset()
    state = meeting.get("state", "")
    actions = {"minutes"}
    if next_step(meeting):
        actions.add("advance")
    if state in AGENDA_OPEN:
        actions.add("add_item")
    if state in DECIDING and (role in DECIDING_ROLES or subject == meeting.get("convenor")):
        actions.add("decide")
    if state in PUBLISHED:
        actions.add("start_project")
    return frozenset(actions)


def agenda_rows(meeting, people, zone, projects=()):
    """Each agenda item with its decision in words, who took it when, and its project if it has one."""
    project_of = {project["ticket_id"]: project["id"] for project in projects
                  if project.get("meeting_id") == meeting.get("id")}
    return [{"ticket_id": item["ticket_id"], "summary": item.get("summary", ""),
             "supporters": item.get("supporters", 0), "decision_key": item.get("decision", ""),
             "decision": DECISION_NAMES.get(item.get("decision"), ""), "reason": item.get("reason", ""),
             "decided_by": person_named(item.get("decided_by", ""), people),
             "decided": local_time(item.get("decide_time"), zone),
             "project_id": project_of.get(item["ticket_id"], "")}
            for item in meeting.get("agenda", [])]


def suggestion_rows(items, names, zone):
    """The suggested agenda: each open suggestion with its category, place and supporters."""
    return [{"ticket_id": item["ticket_id"], "summary": item.get("summary", ""),
             "category": names.category(item.get("category_id")), "place": names.node(item.get("node_id")),
             "supporters": item.get("supporters", 0), "created": local_time(item.get("create_time"), zone)}
            for item in items]


def recurring_rows(problems, names, zone):
    """The recurring problems an agenda may take: category, place, how often and since when,
    named by their latest report."""
    return [{"ticket_id": problem["ticket_id"], "summary": problem.get("summary", ""),
             "category": names.category(problem.get("category_id")), "place": names.node(problem.get("place_id")),
             "count": problem.get("ticket_count", 0), "first": local_time(problem.get("first_create_time"), zone),
             "last": local_time(problem.get("last_create_time"), zone)}
            for problem in problems]


def milestones_of(text):
    """A form's milestones, one per line, blank lines left out."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def project_view(project, people, zone):
    """A project's page: its state in words, each milestone's progress, and whether it may complete."""
    milestones = [{"index": index, "title": m.get("title", ""), "progress": int(m.get("progress_percent", 0)),
                   "note": m.get("note", ""), "updated": local_time(m.get("update_time"), zone),
                   "photo_ids": [photo["id"] for photo in m.get("photos", [])]}
                  for index, m in enumerate(project.get("milestones", []))]
    active = project.get("state") == "ACTIVE"
    ratings = [{"who": person_named(entry.get("subject", ""), people), "satisfaction": entry.get("satisfaction", 0),
                "comment": entry.get("comment", ""), "time": local_time(entry.get("time"), zone)}
               for entry in project.get("feedback", [])]
    return {**project_row(project), "active": active, "milestones": milestones, "ratings": ratings,
            "rating_count": project.get("feedback_count", 0),
            "average_rating": f"{project.get('average_satisfaction', 0):.1f}",
            "owner": person_named(project.get("owner", ""), people), "outcome": project.get("outcome", ""),
            "completed": local_time(project.get("complete_time"), zone),
            "created": local_time(project.get("create_time"), zone),
            "may_complete": active and all(m["progress"] >= FULL_PROGRESS for m in milestones)}
