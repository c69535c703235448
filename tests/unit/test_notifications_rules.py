"""The notification rules: who an event tells, in which words, and what each partner may see."""
import pytest

from services.notifications import rules
from services.notifications.catalog import load_contracts

CONTRACTS = load_contracts()

PERSON = {"id": "r1", "display_name": "Wang", "national_id": "110101194001010011", "phone": "13800000000",
          "birth_date": "1940-01-01", "gender": "FEMALE", "relation": "head", "tags": ["elderly"],
          "path": ["city", "grid", "building"]}
EVENT = {"id": "e1", "type": "civicgrid.residents.resident.registered.v1", "tenant": "t1",
         "data": {**PERSON, "household": {"members": [dict(PERSON)]}}}


@pytest.mark.parametrize("kind, hidden, kept", [
    ("property_company", {"national_id", "phone", "birth_date", "gender", "relation", "tags"},
     {"id", "display_name", "path"}),
    ("police_post", {"tags"}, {"national_id", "phone", "birth_date", "display_name"}),
    ("clinic", {"national_id", "phone"}, {"birth_date", "tags", "display_name"}),
    ("other", {"national_id", "phone", "birth_date", "display_name", "tags"}, {"id", "path"}),
])
def test_each_partner_kind_sees_only_what_it_is_entitled_to(kind, hidden, kept):
    shown = rules.redact_event(EVENT, kind)
    for data in (shown["data"], shown["data"]["household"]["members"][0]):
        assert not hidden & set(data), kind
        assert kept <= set(data), kind
    assert EVENT["data"]["national_id"], "the original event is left untouched"


def test_partner_kind_comes_from_the_organisation_s_kind_and_defaults_to_the_strictest():
    assert rules.partner_kind("POLICE_POST") == "police_post" and rules.partner_kind("CLINIC") == "clinic"
    assert rules.partner_kind("SCHOOL") == "other" and rules.partner_kind("") == "other"


def test_recipients_are_the_distinct_people_the_event_names():
    event = {"type": "civicgrid.tickets.ticket.resolved.v1",
             "data": {"reporter_subject": "r1", "followers": ["f1", "r1", "", "f2"]}}
    assert rules.recipients_of(event) == ["r1", "f1", "f2"]
    assert rules.recipients_of({"type": "civicgrid.grids.node.created.v1", "data": {"id": "n"}}) == []


@pytest.mark.parametrize("event_type", sorted(rules.RECIPIENT_FIELDS))
def test_every_rule_names_fields_its_contract_has_and_has_both_languages(event_type):
    assert event_type in CONTRACTS, "rules must follow the published contracts"
    assert set(rules.RECIPIENT_FIELDS[event_type]) <= set(CONTRACTS[event_type].model_fields)
    assert set(rules.TEMPLATES[event_type]) == set(rules.LANGUAGES)


def test_templates_render_in_both_languages_and_tolerate_missing_fields():
    data = {"id": "T-9", "summary": "3号楼电梯困人", "kind": "REQUEST", "priority": "HIGH"}
    zh = rules.render("civicgrid.tickets.ticket.assigned.v1", data, "zh-CN")
    en = rules.render("civicgrid.tickets.ticket.assigned.v1", data, "en")
    assert zh == ("新工单指派给您", "「3号楼电梯困人」（求助，高优先级）已指派给您，请及时处理。")
    assert en[0] == "A ticket was assigned to you" and "(request, high priority)" in en[1]
    assert rules.render("civicgrid.tickets.ticket.assigned.v1", data, "fr") == zh
    assert rules.render("civicgrid.tickets.ticket.assigned.v1", {}, "zh-CN")[1].startswith("「」")


def test_a_deadline_is_told_in_words_and_in_the_recipients_zone():
    data = {"summary": "楼道灯不亮", "stage": "FIRST_RESPONSE", "due_at": "2026-12-02T06:30:00Z", "level": "COMMUNITY"}
    missed = "civicgrid.tickets.ticket.deadline_missed.v1"
    assert rules.render(missed, data)[1] == "「楼道灯不亮」已超过首次响应时限（12月2日 14:30），当前由社区处理。"
    assert "(2 December 07:30)" in rules.render(missed, data, "en", "Europe/Berlin")[1]
    assert "（2026-12-02T06:30:00Z）" in rules.render(missed, data, "zh-CN", "Not/AZone")[1]


def test_urgency():
    assert rules.is_urgent({"priority": "URGENT"}) and rules.is_urgent({"urgent": True})
    assert not rules.is_urgent({"priority": "HIGH"})


def test_an_event_matches_a_subscription_only_in_its_tenant_types_and_scope():
    subscription = {"tenant": "t1", "event_types": [EVENT["type"]], "scope_node_ids": ["grid"]}
    assert rules.event_matches(subscription, EVENT)
    assert not rules.event_matches({**subscription, "tenant": "t2"}, EVENT)
    assert not rules.event_matches({**subscription, "scope_node_ids": ["elsewhere"]}, EVENT)
    assert not rules.event_matches({**subscription, "event_types": ["civicgrid.x.y.z.v1"]}, EVENT)
    assert not rules.event_matches(subscription, {**EVENT, "data": {"id": "no path"}})


TICKET = {"id": "e9", "type": "civicgrid.tickets.ticket.created.v1", "tenant": "t1", "data": {
    "id": "k1", "kind": "REQUEST", "category_id": "lift", "path": ["c1", "g1"], "assignee_organisation_id": "",
    "organisation_ids": ["prop-a"], "note": "priority raised to HIGH for elderly, living_alone",
    "priority_raised_for": ["elderly", "living_alone"], "reporter_subject": "resident-li", "followers": ["f1"],
    "description": "The lift stops between floors"}}


def test_subscriptions_filter_by_ticket_kind_category_and_whether_the_ticket_is_the_partner_s():
    every = {"tenant": "t1", "event_types": [TICKET["type"]], "scope_node_ids": ["c1"]}
    assert rules.event_matches(every, TICKET)
    assert not rules.event_matches({**every, "ticket_kinds": ["DISPUTE", "HAZARD"]}, TICKET)
    assert rules.event_matches({**every, "ticket_kinds": ["REQUEST"], "category_ids": ["lift"]}, TICKET)
    assert not rules.event_matches({**every, "category_ids": ["heating"]}, TICKET)
    ours = {**every, "ours_only": True}
    assert rules.event_matches({**ours, "organisation_id": "prop-a"}, TICKET)
    assert not rules.event_matches({**ours, "organisation_id": "prop-b"}, TICKET)
    assert not rules.event_matches(ours, TICKET), "keeping to its own needs an organisation"
    routed = {**TICKET, "data": {**TICKET["data"], "organisation_ids": [], "assignee_organisation_id": "prop-b"}}
    assert rules.event_matches({**ours, "organisation_id": "prop-b"}, routed)


@pytest.mark.parametrize("kind", sorted(rules.REDACTED_FIELDS))
def test_no_partner_reads_staff_notes_tags_or_residents_accounts(kind):
    data = rules.redact_event(TICKET, kind)["data"]
    assert {"note", "priority_raised_for", "reporter_subject", "followers"}.isdisjoint(data)
    assert "elderly" not in str(data)
    assert ("description" in data) == (kind != "other")


def test_a_subscription_naming_skills_gets_the_tasks_asking_for_one_of_them():
    medical = {"id": "e10", "type": "civicgrid.volunteers.task.created.v1", "tenant": "t1",
               "data": {"id": "task1", "path": ["c1", "g1"], "skills": ["escort", "first_aid"]}}
    clinic = {"tenant": "t1", "event_types": [medical["type"]], "scope_node_ids": ["c1"]}
    assert rules.event_matches({**clinic, "skills": ["first_aid", "nursing"]}, medical)
    assert not rules.event_matches({**clinic, "skills": ["nursing"]}, medical)
    assert not rules.event_matches({**clinic, "skills": ["nursing"]}, {**medical, "data": {"path": ["c1"]}})
    assert rules.event_matches(clinic, medical)
