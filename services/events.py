"""Events on the bus: a CloudEvents envelope, the contracts of their data, and consuming each
event once. Publishing goes through the outbox (`services.outbox`), so consumers see an event at
least once and must be idempotent (`consume_once`).
"""
from cloudevents.core.spec import SPECVERSION_V1_0
from cloudevents.core.v1.event import CloudEvent
from pydantic import BaseModel, ConfigDict

from services import metrics
from services.storage import new_id, now, timestamp

# event type -> pydantic model of its `data`
CONTRACTS = {}

# field name -> what it means in every contract that has it, so that the event catalogue says it
# once. A name whose meaning depends on the event (a `kind`, a `time`) is described on the
# contract's own field instead, `Field(description=...)`, which the catalogue prefers.
# "Sign-in subject" is the `sub` of a person's token; times are RFC 3339 in UTC, dates YYYY-MM-DD.
FIELD_MEANINGS = {
    "actor": "Sign-in subject of who took the step, or `system` for a step the service takes itself "
             "(a deadline, a volunteer task's progress).",
    "address": "Postal address of the organisation.",
    "assignee_kind": "Who the category's tickets are routed to: GRID_WORKER (the workers of the ticket's grid) "
                     "or ORGANISATION (`organisation_id`).",
    "assignee_organisation_id": "Id of the organisation the ticket is assigned to; empty unless assigned to one.",
    "assignee_subject": "Sign-in subject of the worker the ticket is assigned to; empty unless assigned to a person.",
    "birth_date": "Date of birth, YYYY-MM-DD; empty if not known.",
    "building_id": "Id of the building the flat is in.",
    "callback_requested": "True when the reporter is to be called back: a low satisfaction score reopened the ticket.",
    "category_id": "Id of the ticket's category (see category.created).",
    "changed": "Names of the fields this update changed.",
    "changed_by": "Sign-in subject of who changed the flat's occupancy.",
    "child_ids": "Ids of the grid's children (buildings, micro-grids) that moved to the target grid.",
    "closing_reason": "FIXED, NOT_OUR_RESPONSIBILITY, DUPLICATE_REPORT or NO_ACTION_POSSIBLE.",
    "contacts": "People to contact at the organisation: name, role, phone and email.",
    "coordinators": "Sign-in subjects of the team's coordinators.",
    "departure_date": "Date of the death or of the move out of the city, YYYY-MM-DD.",
    "display_name": "The name people know the record by: a place's, a household's or a person's.",
    "due_at": "When the stage's promised time runs out (RFC 3339, UTC).",
    "duplicate_of": "Id of the earlier ticket this one repeats.",
    "flat_id": "Id of the flat the household lives in.",
    "floor": "Floor of the flat; negative below ground.",
    "follower": "Sign-in subject of who now follows the ticket.",
    "followers": "Sign-in subjects of the people following the ticket to hear how it goes.",
    "from_household_id": "Id of the household the resident left.",
    "from_path": "The resident's path before the move (that of the household left).",
    "gender": "FEMALE, MALE or GENDER_UNSPECIFIED.",
    "grid_id": "Id of the grid the activity took place in.",
    "grid_ids": "Ids of the grids the organisation is sent to in turn, one per period.",
    "group": "Group the category is listed under; may be empty.",
    "holder": "The person holding the post: sign-in subject, name and phone.",
    "home_node_id": "Id of the volunteer's home node; tasks near it rank them higher.",
    "household_id": "Id of the household concerned: the resident's, or the one visited.",
    "household_ids": "Ids of the households named on the ticket; each reads the ticket.",
    "id": "Id of the record the event is about; the event's `subject` ends with it.",
    "level": "Who answers for the ticket: GRID, COMMUNITY or STREET staff; a missed deadline escalates it a level.",
    "member_ids": "Ids of the volunteers in the team.",
    "node_id": "Id of the node (community, grid, building, ...) the record is attached to.",
    "node_kind": "Kind of the node the post is held at: GRID, MICRO_GRID, BUILDING, DISTRICT, COMMUNITY or STREET.",
    "note": "Staff's free text on the step (on a new ticket, why its priority was raised); never sent to partners.",
    "number": "The flat's number within its building and unit.",
    "occupancy": "How the flat is occupied: VACANT, OWNER_OCCUPIED or RENTED.",
    "offer_deadline": "When offers to serve closed (RFC 3339, UTC).",
    "opening_hours": "When the station is open: per weekday, open and close as HH:MM in its time zone.",
    "organisation_ids": "Ids of the organisations the ticket involves (routed to, assigned or added); each reads it.",
    "parent_id": "Id of the node directly above; empty for a city.",
    "path": "Ids from the city down to the node or flat where the record is, that one included (a node's own "
            "path ends with its id); partners subscribed to any of them get the event. Empty for a tenant-wide "
            "record (a ticket category).",
    "people_dispatched": "How many volunteers the task has dispatched so far, these included.",
    "people_needed": "How many volunteers the task needs.",
    "period": "How long the organisation stays at each grid: WEEK, MONTH or QUARTER.",
    "person": "Who is on duty: sign-in subject, name and phone.",
    "previous_level": "The level that answered for the ticket before the escalation.",
    "previous_occupancy": "The flat's occupancy before the change.",
    "previous_parent_id": "Id of the node the moved node was below before.",
    "previous_path": "The node's path before the move; paths below it start with it until they follow.",
    "previous_state": "The ticket's state before the step; empty for a new ticket.",
    "priority": "LOW, NORMAL, HIGH or URGENT; a step higher when the reporter is tagged elderly, living_alone "
                "or disabled.",
    "purpose": "What the team is for: MEDICAL, VETERANS, CHILDCARE, TEACHERS or OTHER.",
    "referred_to": "Who the ticket was referred to, when closed as NOT_OUR_RESPONSIBILITY.",
    "relation": "Relation to the head of the household: head, spouse, child, parent, grandparent, grandchild, "
                "sibling, in_law, tenant or other.",
    "reporter_subject": "Sign-in subject of the resident who reported the ticket; empty if none was named.",
    "resolution": "What was done, in the words of who resolved the ticket.",
    "satisfaction": "The reporter's score from 1 (worst) to 5; 2 or less reopens the ticket.",
    "stage": "Which promised time runs: FIRST_RESPONSE (until triage) or RESOLUTION (until resolved).",
    "state": "The ticket's state after the step: SUBMITTED, TRIAGED, REJECTED, DUPLICATE, ASSIGNED, IN_PROGRESS, "
             "RESOLVED, FEEDBACK or CLOSED.",
    "station_id": "Id of the service station the duty is at.",
    "tagged_by": "Sign-in subject of who changed the resident's tags.",
    "tags": "The resident's service-population tags, e.g. elderly, living_alone, disabled, veteran.",
    "target_id": "Id of the grid that took the children.",
    "target_path": "Path of the grid that took the children.",
    "task_id": "Id of the volunteer task (see the volunteers' task events).",
    "task_step": "The task's step: volunteers_requested, volunteers_dispatched, volunteer_checked_in, "
                 "volunteer_checked_out, volunteer_task_completed or volunteer_feedback_given.",
    "team_id": "Id of the volunteer team the task is for; empty if none.",
    "ticket_id": "Id of the ticket that asked for the task; empty if none.",
    "time_zone": "IANA time zone of the station's hours, e.g. Asia/Shanghai.",
    "to_household_id": "Id of the household the resident joined.",
    "unit": "The flat's unit (entrance) in its building; may be empty.",
    "visit_date": "Date of the visit, YYYY-MM-DD.",
    "visitor": "Sign-in subject of the staff member who visited.",
    "volunteer_id": "Id of the volunteer who took the step.",
    "volunteer_ids": "Ids of the volunteers this step dispatched.",
    "volunteer_subjects": "Sign-in subjects of the volunteers this step dispatched, in the order of `volunteer_ids`.",
    "weekday": "Day of the duty: MONDAY to SUNDAY.",
}


class EventData(BaseModel):
    model_config = ConfigDict(extra="forbid")


def contract(event_type):
    """Registers the data model of an event type; every published event is checked against it."""
    def register(model):
        CONTRACTS[event_type] = model
        model.event_type = event_type
        return model
    return register


class Envelope(BaseModel):
    """CloudEvents 1.0 attributes, plus the `tenant` extension every consumer filters on."""

    model_config = ConfigDict(extra="forbid")

    specversion: str
    id: str
    source: str
    type: str
    time: str
    subject: str
    tenant: str
    datacontenttype: str
    data: dict


def envelope(service, event_type, tenant, subject, data):
    """Builds an event in the CloudEvents structured JSON form: the SDK checks the attributes
    (the `tenant` extension's name included), the registered contract checks `data`. `time` is
    written as every civicgrid time is (storage.timestamp), whole seconds included."""
    checked = CONTRACTS[event_type].model_validate(data).model_dump(mode="json")
    event = CloudEvent({
        "specversion": SPECVERSION_V1_0,
        "id": new_id(),
        "source": f"/civicgrid/{service}",
        "type": event_type,
        "time": now(),
        "subject": subject,
        "tenant": tenant,
        "datacontenttype": "application/json",
    }, checked)
    return {**event.get_attributes(), "time": timestamp(event.get_time()), "data": event.get_data()}


def consume_once(repository, service, event, handle):
    """Runs `handle(event)` until it has succeeded once for this event id. The mark is written
    after the handler, so a consumer killed mid-handler leaves none and the redelivery runs the
    handler again: handlers are idempotent by event id, and the mark only spares them the work."""
    if repository.was_handled(event["id"]):
        metrics.EVENTS_CONSUMED.labels(service, event["type"], "duplicate").inc()
        metrics.REDELIVERIES.labels(service, event["type"]).inc()
        return
    try:
        handle(event)
    except Exception:
        metrics.EVENTS_CONSUMED.labels(service, event["type"], "error").inc()
        raise
    repository.mark_handled(event["id"])
    metrics.EVENTS_CONSUMED.labels(service, event["type"], "ok").inc()
