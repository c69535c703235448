"""Every partner only what concerns it, through the real gateway, services, RabbitMQ and store: a
property company the tickets routed to it or naming it, a police post the disputes and hazards of
its area, a clinic the volunteer tasks asking for medical skills; each exactly its events, and
none of them a resident's tags or a staff note."""
import json
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import grpc
import pytest
import requests
from amqp.exceptions import AccessRefused

from services.notifications.broker import BrokerAdmin
from tests.support.errors import field_violations, rpc_error
from tests.support.hierarchy import GRIDS, build_hierarchy
from tests.support.partners import partner_connection, remove_partner_users
from tests.support.polling import eventually
from tests.support.town import PROMISES, TICKETS
from tests.support.volunteering import task

pytestmark = pytest.mark.integration

NOTIFICATIONS = "civicgrid.notifications.v1.Notifications"
CREATED, PARTY_ADDED = "civicgrid.tickets.ticket.created.v1", "civicgrid.tickets.ticket.party_added.v1"
TASK_CREATED = "civicgrid.volunteers.task.created.v1"


@pytest.fixture(scope="module", autouse=True)
def partner_users(platform):
    yield
    remove_partner_users(platform)


class Community:
    """A community with a property company and a police post in the registry, a lift category
    routed to the company, and a partner login for each."""

    def __init__(self, platform, unique):
        self.tenant = f"feeds-{unique}"
        self.operator = platform.client(tenant=self.tenant, subject="operator-1")
        self.ids = build_hierarchy(self.operator, unique)
        self.organisations = {kind: self.operator.call(f"{GRIDS}/CreateOrganisation", {
            "node_id": self.ids["COMMUNITY"], "kind": kind, "display_name": name})["id"]
            for kind, name in (("PROPERTY_COMPANY", "绿城物业"), ("POLICE_POST", "柳荫警务室"),
                               ("CLINIC", "柳荫社区卫生服务站"))}
        self.categories = {name: self.operator.call(f"{TICKETS}/CreateCategory", {
            "name": name, "promises": PROMISES, "routing": routing})["id"] for name, routing in (
            ("Lift repair", {"assignee_kind": "ORGANISATION",
                             "organisation_id": self.organisations["PROPERTY_COMPANY"]}),
            ("Neighbours", {"assignee_kind": "GRID_WORKER"}))}
        self.partners = {kind: platform.client(
            tenant=self.tenant, role="partner", scope=(self.ids["COMMUNITY"],), subject=f"{kind.lower()}-{unique}",
            grants=(f"org:{organisation}",)) for kind, organisation in self.organisations.items()}

    def subscribe(self, kind, **filters):
        return self.partners[kind].call(f"{NOTIFICATIONS}/CreatePartnerSubscription", {
            "event_types": [CREATED, PARTY_ADDED], "scope_node_ids": [self.ids["COMMUNITY"]], **filters})

    def report(self, category, kind, description):
        return self.operator.call(f"{TICKETS}/CreateTicket", {
            "kind": kind, "channel": "HOTLINE", "category_id": self.categories[category],
            "node_id": self.ids["FLAT"], "description": description})


def feed_of(partner):
    return {(event["type"], event["data"]["id"])
            for event in partner.call(f"{NOTIFICATIONS}/ListPartnerEvents", {"from_position": 0}).get("events", [])}


def test_each_kind_of_partner_gets_exactly_the_tickets_that_concern_it(platform, unique):
    community = Community(platform, unique)
    company = community.subscribe("PROPERTY_COMPANY", ours_only=True)
    police = community.subscribe("POLICE_POST", ticket_kinds=["DISPUTE", "HAZARD"])
    assert (company["partner_kind"], company["organisation_id"]) == (
        "property_company", community.organisations["PROPERTY_COMPANY"])
    assert (police["partner_kind"], police["ticket_kinds"]) == ("police_post", ["DISPUTE", "HAZARD"])

    lift = community.report("Lift repair", "REQUEST", "The lift stops between floors 5 and 6")
    dispute = community.report("Neighbours", "DISPUTE", "Noise from 502 every night")
    hazard = community.report("Neighbours", "HAZARD", "Bicycles block the fire exit")
    leak = community.report("Neighbours", "REQUEST", "Water through the ceiling")
    community.operator.call(f"{TICKETS}/AddTicketParty", {
        "id": leak["id"], "organisation_id": community.organisations["PROPERTY_COMPANY"]})

    company_wants = {(CREATED, lift["id"]), (PARTY_ADDED, leak["id"])}
    police_wants = {(CREATED, dispute["id"]), (CREATED, hazard["id"])}
    assert eventually(lambda: feed_of(community.partners["PROPERTY_COMPANY"]) == company_wants, timeout=30), \
        feed_of(community.partners["PROPERTY_COMPANY"])
    assert eventually(lambda: feed_of(community.partners["POLICE_POST"]) == police_wants, timeout=30), \
        feed_of(community.partners["POLICE_POST"])
    queued = []
    assert eventually(lambda: queued.extend(taken_from_queue(platform, company)) or len(queued) >= 2, timeout=30)
    assert {(event["type"], event["data"]["id"]) for event in queued} == company_wants


def taken_from_queue(platform, subscription):
    """What the partner's queue holds now, taken off it."""
    with partner_connection(platform, subscription) as connection:
        channel, events = connection.channel(), []
        while (message := channel.basic_get(subscription["queue"], no_ack=True)) is not None:
            events.append(json.loads(message.body))
    return events


def test_a_clinic_gets_exactly_the_volunteer_tasks_that_ask_for_its_skills(platform, unique):
    community = Community(platform, unique)
    clinic = community.partners["CLINIC"].call(f"{NOTIFICATIONS}/CreatePartnerSubscription", {
        "event_types": [TASK_CREATED], "scope_node_ids": [community.ids["COMMUNITY"]],
        "skills": ["first_aid", "nursing"]})
    assert (clinic["partner_kind"], clinic["skills"]) == ("clinic", ["first_aid", "nursing"])
    start = datetime.now(timezone.utc) + timedelta(days=2)
    medical = task(community.operator, community.ids["GRID"], start, required_skills=[
        {"name": "first_aid", "min_level": 2}, {"name": "escort", "min_level": 1}])
    task(community.operator, community.ids["GRID"], start, title="Move furniture",
         required_skills=[{"name": "lifting", "min_level": 1}])
    task(community.operator, community.ids["GRID"], start, title="Tea with the elderly")
    assert eventually(lambda: feed_of(community.partners["CLINIC"]) == {(TASK_CREATED, medical["id"])}, timeout=30), \
        feed_of(community.partners["CLINIC"])


def test_a_partner_gets_no_staff_note_nor_resident_tags(platform, unique):
    community = Community(platform, unique)
    police = community.subscribe("POLICE_POST", ticket_kinds=["DISPUTE"])
    dispute = community.operator.call(f"{TICKETS}/CreateTicket", {
        "kind": "DISPUTE", "channel": "HOTLINE", "category_id": community.categories["Neighbours"],
        "node_id": community.ids["FLAT"], "description": "Shouting at night", "priority": "HIGH"})
    events = eventually(lambda: community.partners["POLICE_POST"].call(
        f"{NOTIFICATIONS}/ListPartnerEvents", {"from_position": 0}).get("events"), timeout=30)
    assert [event["data"]["id"] for event in events] == [dispute["id"]]
    assert {"note", "priority_raised_for", "reporter_subject", "followers"}.isdisjoint(events[0]["data"])
    assert police["organisation_id"] == community.organisations["POLICE_POST"]


def test_a_partner_is_an_organisation_of_the_registry(platform, unique):
    community = Community(platform, unique)
    nameless = platform.client(tenant=community.tenant, role="partner", scope=(community.ids["COMMUNITY"],),
                               subject=f"nameless-{unique}", grants=("partner_kind:police_post",))
    refused = rpc_error(lambda: nameless.call(f"{NOTIFICATIONS}/CreatePartnerSubscription", {
        "event_types": [CREATED], "scope_node_ids": [community.ids["COMMUNITY"]]}))
    assert refused.code() == grpc.StatusCode.PERMISSION_DENIED
    pretender = platform.client(tenant=community.tenant, role="partner", scope=(community.ids["COMMUNITY"],),
                                subject=f"pretender-{unique}", grants=("org:no-such-organisation",))
    denied = rpc_error(lambda: pretender.call(f"{NOTIFICATIONS}/CreatePartnerSubscription", {
        "event_types": [CREATED], "scope_node_ids": [community.ids["COMMUNITY"]]}))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    bad_kind = rpc_error(lambda: community.subscribe("POLICE_POST", ticket_kinds=["BURGLARY"]))
    assert "ticket_kinds.0" in field_violations(bad_kind)
    no_such_category = rpc_error(lambda: community.subscribe(
        "POLICE_POST", category_ids=[community.categories["Neighbours"], "nosuchcategory"]))
    assert no_such_category.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(no_such_category) == ["category_ids.1"]


def test_credentials_rotate_and_the_last_subscription_takes_queue_and_user_with_it(platform, unique):
    community = Community(platform, unique)
    first = community.subscribe("POLICE_POST", ticket_kinds=["DISPUTE"])
    second = community.subscribe("POLICE_POST", ticket_kinds=["HAZARD"])
    police = community.partners["POLICE_POST"]
    rotated = police.call(f"{NOTIFICATIONS}/RotatePartnerCredentials", {})
    assert rotated["broker_user"] == first["broker_user"] and rotated["broker_password"] != first["broker_password"]
    with pytest.raises(AccessRefused):
        with partner_connection(platform, first) as connection:
            connection.connect()
    with partner_connection(platform, {**first, **rotated}) as connection:
        assert connection.channel().basic_get(first["queue"], no_ack=True) is None

    police.call(f"{NOTIFICATIONS}/DeletePartnerSubscription", {"id": first["id"]})
    assert user_exists(platform, first["broker_user"])
    police.call(f"{NOTIFICATIONS}/DeletePartnerSubscription", {"id": second["id"]})
    assert not user_exists(platform, first["broker_user"])
    assert not queue_exists(platform, first["queue"]) and not queue_exists(platform, first["queue"] + ".dead")
    gone = rpc_error(lambda: police.call(f"{NOTIFICATIONS}/RotatePartnerCredentials", {}))
    assert gone.code() == grpc.StatusCode.NOT_FOUND


def management(platform, path):
    admin = BrokerAdmin(platform.amqp_uri)
    return requests.get(f"{admin.api}{path}", auth=admin.credentials, timeout=10)


def user_exists(platform, user):
    return management(platform, f"/users/{quote(user, safe='')}").status_code == 200


def queue_exists(platform, queue):
    vhost = quote(BrokerAdmin(platform.amqp_uri).vhost, safe="")
    return management(platform, f"/queues/{vhost}/{quote(queue, safe='')}").status_code == 200
