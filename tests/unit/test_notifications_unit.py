"""The notifications service's rules: the pure ones by themselves, and the handlers with their
dependencies replaced (Nameko's worker_factory)."""
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from nameko.testing.services import worker_factory

from services.access import Caller
from services.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.notifications import inbox, partners, preferences, webhooks
from services.notifications.service import NotificationsService
from services.notifications.store import FedSubscriptions, LiveCounts
from services.settings import WebhookSettings

ASSIGNED = "civicgrid.tickets.ticket.assigned.v1"
PARTNER = {"subject": "clinic", "tenant": "t1", "role": "partner", "scope": ["g1"],
           "grants": ["org:o-clinic"]}
WORKER = {"subject": "w1", "tenant": "t1", "role": "grid_worker", "scope": ["g1"]}
CONFIG = WebhookSettings(backoff_seconds=1.0, max_backoff_seconds=300.0, max_attempts=3, pause_after=2)


def assignment(assignee="w1", priority="URGENT"):
    return {"id": "e1", "type": ASSIGNED, "tenant": "t1",
            "data": {"id": "t9", "kind": "REQUEST", "priority": priority, "note": "Cold radiator",
                     "assignee_subject": assignee, "path": ["c1", "g1"], "phone": "138"}}


def subscription(**extra):
    return {"_id": "s1", "tenant": "t1", "partner": "clinic", "partner_kind": "clinic", "event_types": [ASSIGNED],
            "scope_node_ids": ["g1"], "queue": "q1", "webhook_url": "http://hook", "webhook_secret": "whsec_x",
            "webhook_state": "WEBHOOK_ACTIVE", "webhook_failures": 0, **extra}


# Messages and texts

def test_a_message_is_the_same_record_however_often_it_is_written():
    assert inbox.message_id("e1", "w1", "inbox") == inbox.message_id("e1", "w1", "inbox")
    assert inbox.message_id("e1", "w1", "inbox") != inbox.message_id("e1", "w2", "inbox")


def test_event_messages_speak_each_recipients_language():
    english, chinese = inbox.event_messages(assignment(), ["w1", "w2"], {"w1": {"language": "en"}})
    assert english["title"] == "A ticket was assigned to you" and chinese["title"] == "新工单指派给您"
    assert english["urgent"] is True and english["origin"] == "e1" and english["_id"] != chinese["_id"]


def test_a_text_goes_only_to_those_who_turned_sms_on_with_a_phone():
    messages = [{"recipient": r} for r in ("a", "b", "c")]
    wanted = inbox.texts_wanted(messages, {"a": {"sms_enabled": True, "sms_phone": "1380"},
                                           "b": {"sms_enabled": True, "sms_phone": ""}, "c": {"sms_phone": "1"}})
    assert wanted == [({"recipient": "a"}, "1380")]


# Preferences

def test_preferences_show_defaults_for_what_was_never_set():
    assert preferences.view({"language": "en"}) == {
        "language": "en", "sms_enabled": False, "sms_phone": "", "quiet_start": "", "quiet_end": "",
        "time_zone": "Asia/Shanghai"}


def test_a_masked_preference_left_out_goes_back_to_its_default():
    command = SimpleNamespace(preferences={"language": "en"}, update_mask=["language", "sms_phone"])
    assert preferences.changes_of(command) == {"language": "en", "sms_phone": ""}


@pytest.mark.parametrize("shown, field", [
    ({"sms_enabled": True, "sms_phone": "", "quiet_start": "", "quiet_end": ""}, "preferences.sms_phone"),
    ({"sms_enabled": False, "sms_phone": "", "quiet_start": "22:00", "quiet_end": ""}, "preferences.quiet_end"),
])
def test_preferences_that_could_not_be_followed_are_refused(shown, field):
    with pytest.raises(InvalidArgument) as refused:
        preferences.refuse_inconsistent(shown)
    assert refused.value.violations[0]["field"] == field


# Partners and webhooks

def test_a_partner_reads_the_events_its_subscriptions_match_redacted_for_its_kind():
    other_place = {**assignment(), "id": "e2", "data": {**assignment()["data"], "path": ["c1", "g2"]}}
    events = partners.readable_events([{"position": 1, "event": assignment()}, {"position": 2, "event": other_place}],
                                      [subscription()])
    assert [e["position"] for e in events] == [1] and "phone" not in events[0]["data"]


def test_a_subscription_is_scoped_to_its_nodes_and_its_kind_comes_from_its_organisation():
    command = SimpleNamespace(event_types=[ASSIGNED, ASSIGNED], scope_node_ids=["g2", "g1"], webhook_url="",
                              ticket_kinds=["HAZARD", "DISPUTE"], category_ids=[], skills=["first_aid"],
                              ours_only=False)
    organisation = {"id": "o-clinic", "kind": "CLINIC"}
    fields = partners.new_subscription(Caller.of(PARTNER), command, organisation, "q1", "reader", "")
    assert fields["scope_node_ids"] == fields["path"] == ["g1", "g2"] and fields["event_types"] == [ASSIGNED]
    assert (fields["partner_kind"], fields["webhook_state"]) == ("clinic", "WEBHOOK_NONE")
    assert (fields["ticket_kinds"], fields["organisation_id"]) == (["DISPUTE", "HAZARD"], "o-clinic")
    assert "webhook_secret" not in partners.view({**fields, "_id": "s1"})


def test_a_partner_acts_for_the_organisation_its_token_names():
    assert partners.organisation_named(Caller.of(PARTNER)) == "o-clinic"
    with pytest.raises(PermissionDenied):
        partners.organisation_named(Caller.of({**PARTNER, "grants": ["partner_kind:clinic"]}))


def test_a_failing_webhook_is_held_once_paused_and_dead_once_out_of_attempts():
    assert webhooks.health_after_failure(subscription(webhook_failures=1), CONFIG) == {
        "webhook_failures": 2, "webhook_state": "WEBHOOK_PAUSED"}
    assert webhooks.failed(1, CONFIG)["state"] == "QUEUED"
    assert webhooks.failed(2, CONFIG, held=True)["state"] == "HELD"
    assert webhooks.failed(3, CONFIG, held=True)["state"] == "DEAD"
    assert webhooks.sent(2)["state"] == "SENT"


# Handlers

def test_only_partners_list_subscriptions():
    service = worker_factory(NotificationsService)
    with pytest.raises(PermissionDenied):
        service.list_partner_subscriptions(WORKER, {})
    service.store.subscriptions.page.assert_not_called()


def test_a_subscription_with_a_bad_webhook_url_names_the_field_and_writes_nothing():
    service = worker_factory(NotificationsService)
    with pytest.raises(InvalidArgument) as refused:
        service.create_partner_subscription(PARTNER, {"event_types": [ASSIGNED], "scope_node_ids": ["g1"],
                                                      "webhook_url": "ftp://nowhere"})
    assert refused.value.violations[0]["field"] == "webhook_url"
    service.store.subscriptions.create.assert_not_called()


def test_another_partners_subscription_is_not_found():
    service = worker_factory(NotificationsService)
    service.store.subscriptions.get.return_value = subscription(partner="police")
    with pytest.raises(NotFound):
        service.delete_partner_subscription(PARTNER, {"id": "s1"})
    service.store.subscriptions.retire.assert_not_called()


def test_a_subscription_without_a_webhook_has_nothing_to_resume():
    service = worker_factory(NotificationsService)
    service.store.subscriptions.get.return_value = subscription(webhook_state="WEBHOOK_NONE")
    with pytest.raises(InvalidArgument) as refused:
        service.resume_partner_subscription(PARTNER, {"id": "s1"})
    assert refused.value.violations[0]["field"] == "id"
    service.store.release_held_webhooks.assert_not_called()


def test_sms_without_a_phone_is_refused_and_nothing_stored():
    service = worker_factory(NotificationsService)
    service.store.preferences_of.return_value = {}
    with pytest.raises(InvalidArgument) as refused:
        service.update_notification_preferences(WORKER, {"preferences": {"sms_enabled": True}})
    assert refused.value.violations[0]["field"] == "preferences.sms_phone"
    service.store.set_preferences.assert_not_called()


def test_an_event_tells_its_recipient_and_queues_the_text_they_asked_for():
    service = worker_factory(NotificationsService)
    service.store.preferences_of.return_value = {"w1": {"sms_enabled": True, "sms_phone": "1380"}}
    service.store.subscriptions_for.return_value = []
    service.take_event(assignment())
    [messages] = service.store.deliver_to_inbox.call_args.args
    assert [(m["recipient"], m["event_id"]) for m in messages] == [("w1", "e1")]
    service.store.queue_sms.assert_called_once_with(messages[0], "1380")


def stored_poll(**extra):
    return {"_id": "p1", "tenant": "t1", "title": "养犬公约征求意见", "description": "请每户表达意见",
            "audience": {"node_id": "b1", "tags": ["elderly"]}, "per": "HOUSEHOLD",
            "opens_at": datetime(2026, 3, 1, 0, tzinfo=timezone.utc),
            "closes_at": datetime(2199, 3, 8, 10, tzinfo=timezone.utc),
            "questions": [{"id": "q1", "text": "是否同意？", "kind": "SINGLE_CHOICE",
                           "choices": [{"id": "c1", "label": "同意"}, {"id": "c2", "label": "反对"}]}], **extra}


def poll_event(kind, event_id="e1", **data):
    return {"id": event_id, "type": f"civicgrid.notifications.poll.{kind}.v1", "tenant": "t1",
            "data": {"id": "p1", **data}}


CLOSED_COUNTS = {"answer_count": 3, "results": [{"question_id": "q1", "text": "是否同意？", "choices": [
    {"choice_id": "c1", "label": "同意", "count": 2}, {"choice_id": "c2", "label": "反对", "count": 1}]}]}


def test_a_poll_s_messages_are_one_per_resident_and_kind_whichever_event_delivers_them():
    opened = inbox.poll_opened_message(stored_poll(), poll_event("opened"), "r1")
    assert inbox.poll_opened_message(stored_poll(), poll_event("opened", event_id="e9"), "r1")["_id"] == opened["_id"]
    results = inbox.poll_results_message(stored_poll(), poll_event("closed", **CLOSED_COUNTS), None, "r1")
    to_another = inbox.poll_opened_message(stored_poll(), poll_event("opened"), "r2")
    assert len({opened["_id"], results["_id"], to_another["_id"]}) == 3
    assert (opened["poll_id"], opened["event_type"], opened["title"]) == (
        "p1", "civicgrid.notifications.poll.opened.v1", "问卷调查：养犬公约征求意见")
    assert opened["body"] == "请每户表达意见（请于3月8日 18:00前作答）"


def test_a_results_message_says_how_many_answered_and_the_leading_choice_but_no_ballot():
    leading = {"choice_id": "c1", "label": "同意", "count": 2}
    named = inbox.poll_results_message(stored_poll(), poll_event("closed", **CLOSED_COUNTS), leading, "r1")
    assert (named["title"], named["body"]) == ("问卷结果：养犬公约征求意见",
                                               "问卷已结束，共3户作答，「同意」得票最多（2票）。结果已公布，欢迎查看。")
    per_resident = inbox.poll_results_message(stored_poll(per="RESIDENT"), poll_event("closed", **CLOSED_COUNTS),
                                              None, "r1")
    assert per_resident["body"] == "问卷已结束，共3人作答。结果已公布，欢迎查看。"


def test_a_poll_is_told_from_its_events_to_the_audience_found_then_and_a_redelivery_adds_nothing():
    service = worker_factory(NotificationsService)
    service.store.polls.get.return_value = stored_poll()
    service.residents.list_residents.return_value = {"residents": [{"id": "r1"}, {"id": "r2"}],
                                                     "next_page_token": ""}
    service.store.preferences_of.return_value = {}
    for _ in range(2):
        service.tell_poll_results(poll_event("closed", **CLOSED_COUNTS))
    first, again = [call.args[0] for call in service.store.deliver_to_inbox.call_args_list]
    assert [m["_id"] for m in first] == [m["_id"] for m in again] and [m["recipient"] for m in first] == ["r1", "r2"]
    assert "「同意」得票最多（2票）" in first[0]["body"]
    asked_as, audience = service.residents.list_residents.call_args.args
    assert (asked_as["role"], asked_as["scope"], asked_as["grants"]) == ("system", ("*",), ("sensitive_tags",))
    assert (audience["node_id"], audience["tags"]) == ("b1", ["elderly"])


def test_an_opening_handled_after_the_poll_closed_tells_nothing():
    service = worker_factory(NotificationsService)
    service.store.polls.get.return_value = stored_poll(closes_at=datetime(2026, 3, 2, tzinfo=timezone.utc))
    service.tell_poll_opened(poll_event("opened"))
    service.residents.list_residents.assert_not_called()
    service.store.deliver_to_inbox.assert_not_called()


RESIDENT = {"subject": "r1", "tenant": "t1", "role": "resident", "scope": [], "household_id": "h1"}
ANSWER = {"id": "p1", "answers": [{"question_id": "q1", "choice_ids": ["c1"]}]}


def answering_service(poll_read_again):
    """The service as a resident's AnswerPoll finds the poll open, stores the answer, and then
    reads the poll again as `poll_read_again`."""
    service = worker_factory(NotificationsService)
    service.residents.account_household.return_value = {"resident_id": "r1", "household_id": "h1",
                                                        "path": ["b1", "f1", "h1"], "tags": ["elderly"]}
    open_poll = stored_poll(node_id="b1", path=["b1"], public=False)
    service.store.polls.get.side_effect = [open_poll, open_poll | poll_read_again]
    service.store.answer_poll.side_effect = lambda tenant, answer, events: ({"_id": answer["id"], **answer}, True)
    return service


def test_an_answer_stored_after_the_poll_closed_meanwhile_is_removed_and_refused():
    closed_meanwhile = answering_service({"closes_at": datetime(2026, 3, 2, tzinfo=timezone.utc)})
    with pytest.raises(FailedPrecondition):
        closed_meanwhile.answer_poll(RESIDENT, ANSWER)
    [removed] = closed_meanwhile.store.remove_answer.call_args.args
    assert removed["household_id"] == "h1"

    still_open = answering_service({})
    assert still_open.answer_poll(RESIDENT, ANSWER)["household_id"] == "h1"
    still_open.store.remove_answer.assert_not_called()


def test_a_message_that_is_no_event_is_dropped():
    service = worker_factory(NotificationsService)
    service.take_event({"id": "e1", "type": ASSIGNED})
    service.store.append_event.assert_not_called()


def test_a_failed_webhook_pauses_its_subscription_and_holds_the_delivery(monkeypatch):
    monkeypatch.setattr(webhooks, "send", lambda url, secret, event: False)
    monkeypatch.setattr(webhooks, "SETTINGS", CONFIG)
    service = worker_factory(NotificationsService)
    service.store.live_subscription.return_value = subscription(webhook_failures=1)
    service.store.partner_contacts.return_value = ["clinic", "clinic-night-desk"]
    service.store.next_webhook_due.side_effect = [{"_id": "d1", "subscription_id": "s1", "attempts": 1,
                                                   "event": assignment()}, None]
    service.deliver_webhooks()
    subscription_id, health, raised = service.store.set_webhook_health.call_args.args
    assert (subscription_id, health) == ("s1", {"webhook_failures": 2, "webhook_state": "WEBHOOK_PAUSED"})
    assert [event["type"] for event in raised] == ["civicgrid.notifications.webhook.paused.v1"]
    assert raised[0]["data"]["contacts"] == ["clinic", "clinic-night-desk"] and raised[0]["data"]["failures"] == 2
    delivery_id, changes = service.store.set_webhook_delivery.call_args.args
    assert delivery_id == "d1" and (changes["state"], changes["attempts"]) == ("HELD", 2)



def test_a_failure_that_raises_nothing_does_not_look_up_the_partner_s_contacts(monkeypatch):
    monkeypatch.setattr(webhooks, "send", lambda url, secret, event: False)
    monkeypatch.setattr(webhooks, "SETTINGS", CONFIG)
    service = worker_factory(NotificationsService)
    service.store.live_subscription.return_value = subscription(webhook_failures=0)
    service.store.next_webhook_due.side_effect = [{"_id": "d1", "subscription_id": "s1", "attempts": 0,
                                                   "event": assignment()}, None]
    service.deliver_webhooks()
    assert service.store.set_webhook_health.call_args.args == (
        "s1", {"webhook_failures": 1, "webhook_state": "WEBHOOK_ACTIVE"}, [])
    service.store.partner_contacts.assert_not_called()

class CountedSubscriptions:
    """A subscriptions collection that counts its reads, and may change while one is under way."""

    def __init__(self, documents, during_read=None):
        self.documents, self.during_read, self.reads = documents, during_read, 0

    def find(self, query):
        self.reads += 1
        found = [d for d in self.documents if d["tenant"] == query["tenant"] and "retire_time" not in d]
        if self.during_read:
            self.during_read()
        return found


def test_fed_subscriptions_are_read_once_per_ttl_and_forgotten_at_once():
    clock = SimpleNamespace(now=0.0)
    collection = CountedSubscriptions([subscription()])
    fed = FedSubscriptions(collection, ttl_seconds=2, clock=lambda: clock.now)
    assert [s["_id"] for s in fed.of("t1")] == ["s1"]
    clock.now = 1.9
    assert fed.of("t1") and fed.of("t1") and collection.reads == 1
    clock.now = 2.5
    fed.of("t1")
    assert collection.reads == 2
    collection.documents.append(subscription(_id="s2"))
    fed.forget("t1")
    assert [s["_id"] for s in fed.of("t1")] == ["s1", "s2"] and collection.reads == 3
    assert fed.of("other") == [] and collection.reads == 4


def test_fed_subscriptions_do_not_keep_a_read_that_a_forgetting_overtook():
    fed = None
    collection = CountedSubscriptions([subscription()], during_read=lambda: fed.forget("t1"))
    fed = FedSubscriptions(collection, ttl_seconds=60)
    fed.of("t1")
    collection.during_read = None
    fed.of("t1")
    assert collection.reads == 2
    fed.of("t1")
    assert collection.reads == 2


def test_an_open_poll_is_counted_once_per_ttl_from_when_its_count_began():
    clock = SimpleNamespace(now=0.0)
    counts = []

    def count(answers):
        def counting():
            counts.append(answers)
            clock.now += 0.5  # counting takes time: the counts are as old as when it began
            return {"answer_count": answers}
        return counting
    live = LiveCounts(ttl_seconds=5, clock=lambda: clock.now)
    assert live.of("p1", count(1)) == {"answer_count": 1}
    clock.now = 5.0
    assert live.of("p1", count(2)) == {"answer_count": 1} and live.of("p2", count(7)) == {"answer_count": 7}
    clock.now = 5.1
    assert live.of("p1", count(3)) == {"answer_count": 3} and counts == [1, 7, 3]
