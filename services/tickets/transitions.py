"""What each step of a ticket changes, free of storage and RPC: a function per transition
returns the changes to the ticket and the steps that go on its timeline (and out as events).
The state a transition starts from is checked by the caller with `lifecycle.require_state`."""
from services.storage import new_id, timestamp
from services.tickets import events as contracts
from services.tickets import lifecycle, parties, timeline
from services.tickets.timeline import Step


def opened(caller, command, category, extra, reporter_subject, place, tags, moment):
    """A new ticket (fields and created event): SUBMITTED at GRID level on the first-response clock,
    its priority a step up for a vulnerable reporter, routed as its category says."""
    priority, raised_for = lifecycle.raised_priority(command.priority, tags)
    promise = lifecycle.promise_for(category, priority)
    clock = lifecycle.new_clock(promise, "FIRST_RESPONSE", "GRID", moment)
    routing = category["routing"]
    fields = {
        "id": new_id(), "kind": command.kind, "channel": command.channel, "category_id": category["_id"],
        "node_id": place["id"], "path": place["path"], "building_id": place["building_id"],
        "reporter_resident_id": command.reporter_resident_id, "reporter_subject": reporter_subject,
        "description": command.description, "extra": extra, "priority": priority,
        "priority_raised_for": raised_for, "state": "SUBMITTED", "routing": routing,
        "assignee_subject": "", "assignee_organisation_id": "", "promise": promise, "clock": clock,
        "level": "GRID", "queue_due": lifecycle.queue_due(clock), "household_ids": command.household_ids,
        "organisation_ids": [routing["organisation_id"]] if routing["organisation_id"] else [],
        "followers": [], "callback_requested": False, "feedback": None, "version": 0, "volunteer_task_ids": [],
    }
    if command.location:
        fields["location"] = command.location.model_dump()
    fields["involved"] = parties.involved(fields)
    note = f"priority raised to {priority} for {', '.join(raised_for)}" if raised_for else ""
    details = {"raised_priority": priority, "raised_for": ",".join(raised_for)} if raised_for else {}
    step = Step("created", contracts.TicketCreated, "SUBMITTED", note, details=details)
    fields["timeline"] = [timeline.entry(step, None, moment, caller.subject, caller.role)]
    return fields, timeline.event(step, fields, caller.subject, "", caller.tenant)


def written(ticket, changes, steps, moment, actor, actor_role):
    """Everything a transition writes: `changes` with the state its last step reaches and the
    parties and queue order that follow, and a timeline entry and an event per step, each from
    the state the step before left the ticket in."""
    changes = {"state": steps[-1].to_state, **changes}
    after = {**ticket, **changes}
    changes["involved"] = parties.involved(after)
    changes["queue_due"] = lifecycle.queue_due(after.get("clock"))
    entries, events, state = [], [], ticket["state"]
    for step in steps:
        entries.append(timeline.entry(step, state, moment, actor, actor_role))
        events.append(timeline.event(step, after, actor, state, ticket["tenant"]))
        state = step.to_state
    return changes, entries, events


def triaged(ticket, command, original, moment):
    """Accepted (on to the resolution clock), rejected with a reason, or a duplicate of `original`;
    either way the first response has been given."""
    changes = {"first_response_time": moment}
    if command.decision == "ACCEPT":
        changes["clock"] = lifecycle.new_clock(ticket["promise"], "RESOLUTION", ticket["level"], moment)
        return changes, [Step("triaged", contracts.TicketTriaged, "TRIAGED", command.note)]
    if command.decision == "REJECT":
        changes |= {"clock": None, "rejection_reason": command.reason}
        return changes, [Step("rejected", contracts.TicketRejected, "REJECTED", command.reason,
                              {"reason": command.reason})]
    changes |= {"clock": None, "duplicate_of": original["_id"]}
    return changes, [Step("marked_duplicate", contracts.TicketMarkedDuplicate, "DUPLICATE", command.note,
                          {"duplicate_of": original["_id"]})]


def assigned(ticket, command, caller):
    """To the worker or organisation named; with neither, as the category routes it, or else to
    the staff member assigning."""
    subject, organisation = command.assignee_subject, command.organisation_id
    if not subject and not organisation:
        organisation = ticket["routing"]["organisation_id"]
        subject = "" if organisation else caller.subject
    changes = {"assignee_subject": subject, "assignee_organisation_id": organisation}
    if organisation and organisation not in ticket["organisation_ids"]:
        changes["organisation_ids"] = [*ticket["organisation_ids"], organisation]
    note = command.note or f"assigned to {subject or organisation}"
    return changes, [Step("assigned", contracts.TicketAssigned, "ASSIGNED", note)]


def started(command):
    return {}, [Step("started", contracts.TicketStarted, "IN_PROGRESS", command.note)]


def resolved(command, moment):
    changes = {"resolution": command.resolution, "resolve_time": moment, "clock": None,
               "callback_requested": False}
    return changes, [Step("resolved", contracts.TicketResolved, "RESOLVED", command.resolution,
                          {"resolution": command.resolution})]


def clock_paused(ticket, command, moment):
    clock = lifecycle.paused_clock(ticket.get("clock"), command.reason, moment)
    return {"clock": clock}, [Step("clock_paused", contracts.TicketClockPaused, ticket["state"], command.reason)]


def clock_resumed(ticket, command, moment):
    clock = lifecycle.resumed_clock(ticket.get("clock"), moment)
    return {"clock": clock}, [Step("clock_resumed", contracts.TicketClockResumed, ticket["state"], command.note)]


def escalated(ticket, command, moment):
    clock = lifecycle.escalated_clock(ticket, moment)
    return {"clock": clock, "level": clock["level"]}, [
        Step("escalated", contracts.TicketEscalated, ticket["state"], command.reason,
             {"previous_level": ticket["level"]})]


def feedback_given(ticket, command, moment):
    """The reporter's score; a low one reopens the ticket with a call back requested."""
    feedback = {"satisfaction": command.satisfaction, "comment": command.comment, "time": moment}
    steps = [Step("feedback_given", contracts.TicketFeedbackGiven, "FEEDBACK",
                  f"{command.satisfaction}/5 {command.comment}".strip(),
                  {"satisfaction": command.satisfaction, "comment": command.comment},
                  details={"satisfaction": command.satisfaction, "comment": command.comment})]
    changes = {"feedback": feedback}
    if command.satisfaction <= lifecycle.LOW_SATISFACTION:
        changes |= reopening(ticket, moment) | {"callback_requested": True}
        steps.append(Step("reopened", contracts.TicketReopened, changes["state"],
                          "low satisfaction: reopened, call the resident back", {"callback_requested": True},
                          details={"reason": "low_satisfaction"}))
    return changes, steps


def closed(ticket, command, moment):
    lifecycle.require_closing_reason(ticket, command.closing_reason)
    changes = {"closing_reason": command.closing_reason, "referred_to": command.referred_to,
               "close_time": moment, "clock": None}
    return changes, [Step("closed", contracts.TicketClosed, "CLOSED", command.note,
                          {"closing_reason": command.closing_reason, "referred_to": command.referred_to})]


def reopened(ticket, command, moment):
    changes = reopening(ticket, moment)
    return changes, [Step("reopened", contracts.TicketReopened, changes["state"], command.reason,
                          {"callback_requested": ticket.get("callback_requested", False)})]


def reopening(ticket, moment):
    """Back to the assignee (or triage, if there was none) with a fresh resolution clock."""
    state = "ASSIGNED" if ticket["assignee_subject"] or ticket["assignee_organisation_id"] else "TRIAGED"
    clock = lifecycle.new_clock(ticket["promise"], "RESOLUTION", ticket["level"], moment)
    return {"state": state, "clock": clock, "closing_reason": None, "referred_to": "", "close_time": None}


def followed(ticket, follower):
    """The follower added, or None if they follow it already."""
    if follower in ticket["followers"]:
        return None
    return {"followers": [*ticket["followers"], follower]}, [
        Step("followed", contracts.TicketFollowed, ticket["state"], "", {"follower": follower})]


def party_added(ticket, command):
    """The household or organisation added, or None if it is involved already."""
    listed, party = parties.party_of(command)
    if party in ticket[listed]:
        return None
    return {listed: [*ticket[listed], party]}, [
        Step("party_added", contracts.TicketPartyAdded, ticket["state"],
             command.note or f"{listed[:-4]} {party} involved")]


def approaching_deadline(ticket):
    """Announces, once, that the running stage is in the last part of its promised time."""
    clock = {**ticket["clock"], "approaching_notified": True}
    return {"clock": clock}, [Step("deadline_approaching", contracts.TicketDeadlineApproaching, ticket["state"],
                                   f"{clock['stage']} due at {timestamp(clock['due_at'])}", deadline_data(clock),
                                   details=deadline_data(clock))]


def missed_deadline(ticket, moment):
    """Marks the missed stage and, below STREET, escalates a level with a new clock."""
    clock = {**ticket["clock"], "missed_notified": True}
    steps = [Step("deadline_missed", contracts.TicketDeadlineMissed, ticket["state"],
                  f"{clock['stage']} was due at {timestamp(clock['due_at'])} at {clock['level']} level",
                  deadline_data(clock), details=deadline_data(clock) | {"level": clock["level"]})]
    changes = {"clock": clock}
    if clock["level"] != lifecycle.LEVELS[-1]:
        escalated_clock = lifecycle.escalated_clock(ticket, moment)
        changes = {"clock": escalated_clock, "level": escalated_clock["level"]}
        steps.append(Step("escalated", contracts.TicketEscalated, ticket["state"],
                          f"deadline missed: escalated to {escalated_clock['level']}",
                          {"previous_level": clock["level"]},
                          details={"reason": "deadline_missed", "level": escalated_clock["level"]}))
    return changes, steps


def deadline_data(clock):
    return {"stage": clock["stage"], "due_at": timestamp(clock["due_at"])}
