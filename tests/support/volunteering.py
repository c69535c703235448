"""A tenant's volunteers and their tasks."""
from datetime import date, datetime, timedelta, timezone

GRIDS = "civicgrid.grids.v1.Grids"
VOLUNTEERS = "civicgrid.volunteers.v1.Volunteers"


def rfc3339(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def next_weekday(weekday):
    """The next date (from tomorrow) falling on `weekday` (0 = Monday), at midnight UTC."""
    day = date.today() + timedelta(days=1)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def hierarchy(client, unique):
    """city → street → community → grid → two buildings; returns ids by name."""
    ids, parent = {}, ""
    for kind in ("CITY", "STREET", "COMMUNITY", "GRID", "BUILDING"):
        parent = ids[kind] = client.call(f"{GRIDS}/CreateNode", {
            "kind": kind, "display_name": f"{kind} {unique}", "parent_id": parent})["id"]
    ids["OTHER_BUILDING"] = client.call(f"{GRIDS}/CreateNode", {
        "kind": "BUILDING", "display_name": "B2", "parent_id": ids["GRID"]})["id"]
    ids["OTHER_GRID"] = client.call(f"{GRIDS}/CreateNode", {
        "kind": "GRID", "display_name": "G2", "parent_id": ids["COMMUNITY"]})["id"]
    return ids


def volunteer(client, unique, name, node_id, skills=(), certifications=(), availability=()):
    return client.call(f"{VOLUNTEERS}/CreateVolunteer", {
        "request_id": f"{unique}-{name}", "subject": f"{unique}-{name}", "display_name": name,
        "home_node_id": node_id, "skills": [{"name": n, "level": lvl} for n, lvl in skills],
        "certifications": [{"name": n, "expires_on": d} for n, d in certifications],
        "availability": list(availability)})


def task(client, node_id, start, hours=2, **extra):
    return client.call(f"{VOLUNTEERS}/CreateTask", {
        "title": "Free clinic", "node_id": node_id, "start_time": rfc3339(start),
        "end_time": rfc3339(start + timedelta(hours=hours)), "people_needed": 2, **extra})
