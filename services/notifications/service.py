"""The notifications service: keeps a log of every service's events, tells people through their
inbox, sends notices and polls to an audience, and feeds partner systems their subscribed, redacted events
by queue, signed webhook and a resumable event stream."""
import logging

from kombu import Exchange, Queue, binding
from nameko.dependency_providers import Config
from nameko.messaging import Publisher
from nameko.timer import timer

from services import base
from services.access import WHOLE_TENANT, Caller
from services.commands import command
from services.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.messaging import RpcProxy, consume, event_handler
from services.notifications import (broker, catalog, inbox, metrics, partners, polls, preferences, rules, schemas,
                                    sms, webhooks)
from services.notifications.events import (SERVICE, PollClosed, PollOpened, failure_events, poll_answered,
                                           poll_closed, poll_opened)
from services.notifications.store import NotificationsRepository
from services.residents.schemas import SENSITIVE_GRANT
from services.settings import EventLogSettings
from services.storage import MongoStore, now, page_size_of, public

log = logging.getLogger(__name__)
EVENT_SOURCES = ("grids", "residents", "tickets", "volunteers", "notifications")
# One durable queue bound to every event of every source service: the consumer is generic by
# event type, so a new event type needs no code here, only rules if it should tell someone.
EVENT_LOG_QUEUE = Queue(
    "notifications.event-log", durable=True,
    bindings=[binding(Exchange(f"{source}.events", type="topic", durable=True), routing_key="#")
              for source in EVENT_SOURCES])
EVENT_LOG = EventLogSettings()
RESIDENTS_PAGE = 500
WEBHOOK_BATCH = 20
WEBHOOK_LEASE_SECONDS = 30
SMS_BATCH = 50
SMS_LEASE_SECONDS = 30
POLL_CLAIM_RELEASE_SECONDS = 60


class NotificationsService(base.CivicService):
    name = "notifications"
    store = MongoStore(NotificationsRepository)
    config = Config()
    grids = RpcProxy("grids")
    residents = RpcProxy("residents")
    tickets = RpcProxy("tickets")
    partner_feed = Publisher(exchange=broker.PARTNERS_EXCHANGE)

    # Events in

    @consume(EVENT_LOG_QUEUE)
    def take_event(self, event):
        """Every step is idempotent by event id, so a redelivery repeats nothing that was done."""
        if not isinstance(event, dict) or not all(isinstance(event.get(key), str) and event.get(key)
                                                  for key in ("id", "type", "tenant")):
            log.warning("dropping a message that is not an event envelope: %.200r", event)
            return
        self.store.append_event(event)
        self._tell_recipients(event)
        self._feed_partners(event)

    @timer(interval=60)
    def purge_event_log(self):
        self.store.purge_events_older_than(EVENT_LOG.retention_seconds)

    # Inbox

    @command(schemas.ListInbox)
    def list_inbox(self, caller, command):
        messages, token = self.store.inbox_page(
            caller.tenant, caller.subject, command.unread_only, command.page_size, command.page_token)
        return {"messages": [public(m) for m in messages], "next_page_token": token,
                "unread_count": self.store.unread_count(caller.tenant, caller.subject)}

    @command(schemas.MarkRead)
    def mark_read(self, caller, command):
        marked = self.store.mark_read(caller.tenant, caller.subject, command.message_ids)
        return {"marked": marked, "unread_count": self.store.unread_count(caller.tenant, caller.subject)}

    @command(schemas.Empty)
    def get_notification_preferences(self, caller, command):
        return preferences.view(self._preferences_of(caller))

    @command(schemas.UpdatePreferences)
    def update_notification_preferences(self, caller, command):
        changes = preferences.changes_of(command)
        preferences.refuse_inconsistent(preferences.view(self._preferences_of(caller)) | changes)
        return preferences.view(self.store.set_preferences(caller.tenant, caller.subject, changes))

    # Notices

    @command(schemas.CreateNotice)
    def create_notice(self, caller, command):
        node = self._node(caller, command.audience.node_id, "audience.node_id")
        audience = command.audience.model_dump()
        # Found before the notice is stored, so that an audience the residents service refuses
        # (unknown tags, sensitive ones without the grant) leaves no notice behind.
        recipients = self._audience(caller, audience)
        fields = {"audience": audience, "title": command.title, "body": command.body,
                  "urgent": command.urgent, "path": node["path"], "author": caller.subject}
        notice, _ = self.store.notices.create(caller.tenant, command.request_id, fields)
        # A repeated request delivers again, to the first request's audience: messages are unique
        # per notice and recipient, so this only fills in what a failure the first time left out.
        if notice["audience"] != audience:
            recipients = self._audience(caller, notice["audience"])
        self._deliver([inbox.notice_message(caller.tenant, notice, r) for r in recipients])
        notice = self.store.notices.update({"tenant": caller.tenant, "_id": notice["_id"]},
                                           {"recipient_count": len(recipients)})
        return self._notice_view(notice)

    @command(schemas.GetById)
    def get_notice(self, caller, command):
        return self._notice_view(self.store.notices.get_in_scope(caller, command.id))

    # Polls

    @command(schemas.CreatePoll)
    def create_poll(self, caller, command):
        moment = now()
        opens_at = command.opens_at or moment
        # A repeat returns the first poll, even once its times have passed.
        if not command.request_id or not self.store.polls.first({"tenant": caller.tenant,
                                                                  "request_id": command.request_id}):
            polls.refuse_bad_times(opens_at, command.closes_at, moment)
        node = self._node(caller, command.audience.node_id, "audience.node_id")
        audience = command.audience.model_dump()
        # Found before the poll is stored, as a notice's: an audience the residents service
        # refuses leaves no poll behind. Residents are told of the poll by its opening's event
        # (`tell_poll_opened`), even one that opens now: before it opens it is not found for them.
        recipients = self._audience(caller, audience)
        fields = {"audience": audience, "node_id": audience["node_id"], "path": node["path"], "title": command.title,
                  "description": command.description,
                  "questions": polls.numbered_questions([question.model_dump() for question in command.questions]),
                  "per": command.per, "public": command.public, "opens_at": opens_at, "closes_at": command.closes_at,
                  "created_by": caller.subject, "recipient_count": len(recipients), "opened_announced": False,
                  polls.UNANNOUNCED: True}
        poll, _ = self.store.polls.create(caller.tenant, command.request_id, fields)
        return polls.view(self._announce(poll, moment) or poll, now())

    @command(schemas.GetById)
    def get_poll(self, caller, command):
        if caller.role == "resident":
            resident = self._registered_resident(caller)
            poll = self._poll_for_resident(caller, resident, command.id)
            return self._resident_view(poll, resident)
        return polls.view(self.store.polls.get_in_scope(caller, command.id), now())

    @command(schemas.ListPolls)
    def list_polls(self, caller, command):
        if caller.role == "resident":
            return self._polls_for_resident(caller, command)
        if command.node_id:
            self._node(caller, command.node_id, "node_id")
            query = {"tenant": caller.tenant, "path": command.node_id}
        else:
            query = caller.scoped()
        documents, token = self.store.polls.page(query, command.page_size, command.page_token)
        moment = now()
        return {"polls": [polls.view(poll, moment) for poll in documents], "next_page_token": token}

    @command(schemas.AnswerPoll)
    def answer_poll(self, caller, command):
        """Takes an answer while the poll is open. The closing's counts are kept once, from the
        answers stored by then, so an answer checked open but stored after the closing must not be
        taken silently: once stored, the poll is read again (`_refuse_if_closed_meanwhile`)."""
        resident = self._registered_resident(caller)
        poll = self._poll_for_resident(caller, resident, command.id)
        polls.refuse_unless_open(poll, now())
        answers = polls.checked_answers(poll, [answer.model_dump() for answer in command.answers])
        answer = polls.answer_document(poll, resident, answers)
        stored, created = self.store.answer_poll(caller.tenant, answer, [poll_answered(poll, answer)])
        if not created and not polls.same_answer(stored, resident["resident_id"], answers):
            raise AlreadyExists("your household has answered this poll already" if poll["per"] == polls.HOUSEHOLD
                                else "you have answered this poll already")
        if created:
            self._refuse_if_closed_meanwhile(poll, stored)
        return public(stored)

    @command(schemas.GetById)
    def close_poll(self, caller, command):
        poll = self.store.polls.get_in_scope(caller, command.id)
        moment = now()
        if polls.state_at(poll, moment) != polls.OPEN:
            raise FailedPrecondition("only an open poll can be closed")
        # Closed now, refusing answers from now on; its closing is announced, with the counts it
        # keeps, by the timer once `polls.CLOSING_GRACE` has passed (see `answer_poll`).
        closed = self.store.polls.claimed_update(poll, {"$set": {"closes_at": moment}})
        if closed is None:
            raise FailedPrecondition("the poll changed while this request ran; read it again and retry")
        return polls.view(closed, now())

    @command(schemas.GetById)
    def get_poll_results(self, caller, command):
        if caller.role == "resident":
            poll = self._poll_for_resident(caller, self._registered_resident(caller), command.id)
        else:
            poll = self.store.polls.get_in_scope(caller, command.id)
        moment = now()
        polls.refuse_results_unless_visible(caller.role, poll, moment)
        if poll["public"]:
            # Who chose what is every answer, read on each call: counted from them until the
            # closing keeps the counts, since the store decodes them anyway.
            ballots = self.store.answers_to(caller.tenant, poll["_id"])
            return polls.results(poll, polls.kept_results(poll) or polls.tally(poll, ballots), moment, ballots)
        return polls.results(poll, self._poll_counts(poll, moment), moment)

    @timer(interval=2)
    def announce_polls(self):
        """Announces the polls that opened or closed since the last look, each once."""
        moment = now()
        for poll in self.store.unannounced_polls():
            self._announce(poll, moment)

    @event_handler(SERVICE, PollOpened.event_type)
    def tell_poll_opened(self, event):
        """Tells the poll's audience they may answer it now; unless it closed before this ran,
        when its results are all there is to tell."""
        poll = self.store.polls.get({"tenant": event["tenant"], "_id": event["data"]["id"]})
        if polls.state_at(poll, now()) == polls.OPEN:
            self._tell_poll_audience(poll, lambda resident: inbox.poll_opened_message(poll, event, resident))

    @event_handler(SERVICE, PollClosed.event_type)
    def tell_poll_results(self, event):
        """Tells the poll's audience its results are published, naming the leading choice when
        one question has one, as counted at the closing."""
        poll = self.store.polls.get({"tenant": event["tenant"], "_id": event["data"]["id"]})
        leading = polls.leading_choice(poll, event["data"]["results"])
        self._tell_poll_audience(poll, lambda resident: inbox.poll_results_message(poll, event, leading, resident))

    @timer(interval=POLL_CLAIM_RELEASE_SECONDS)
    def release_stale_poll_claims(self):
        """Frees the versions of polls whose claiming write never came (a crash in between), and
        drops the claims of those written: a poll's announcements claim only a few."""
        self.store.polls.claims.release_stale()

    # Partner subscriptions

    @command(schemas.CreatePartnerSubscription)
    def create_partner_subscription(self, caller, command):
        partners.refuse_unless_partner(caller)
        organisation = self._partner_organisation(caller)
        for index, node_id in enumerate(command.scope_node_ids):
            self._node(caller, node_id, f"scope_node_ids.{index}")
        for index, category_id in enumerate(command.category_ids):
            self._category(caller, category_id, f"category_ids.{index}")
        queue = broker.partner_queue_name(caller.tenant, caller.subject)
        broker_user, broker_password = self._partner_reader(queue)
        webhook_secret = webhooks.new_secret() if command.webhook_url else ""
        fields = partners.new_subscription(caller, command, organisation, queue, broker_user, webhook_secret)
        subscription, created = self.store.subscriptions.create(caller.tenant, command.request_id, fields)
        self.store.forget_fed_subscriptions(caller.tenant)
        shown = partners.view(subscription)
        if created:
            shown |= {"webhook_secret": subscription["webhook_secret"], "broker_password": broker_password}
        return shown

    @command(schemas.ListPartnerSubscriptions)
    def list_partner_subscriptions(self, caller, command):
        partners.refuse_unless_partner(caller)
        documents, token = self.store.subscriptions.page(
            {"tenant": caller.tenant, "partner": caller.subject}, command.page_size, command.page_token)
        return {"subscriptions": [partners.view(d) for d in documents], "next_page_token": token}

    @command(schemas.GetById)
    def delete_partner_subscription(self, caller, command):
        subscription = self._subscription(caller, command.id)
        self.store.subscriptions.retire({"_id": subscription["_id"]}, [])
        self.store.forget_fed_subscriptions(caller.tenant)
        if not self.store.live_subscriptions_of(caller.tenant, caller.subject):
            self._remove_partner_reader(subscription)
        return partners.view(subscription)

    @command(schemas.Empty)
    def rotate_partner_credentials(self, caller, command):
        partners.refuse_unless_partner(caller)
        subscriptions = self.store.live_subscriptions_of(caller.tenant, caller.subject)
        if not subscriptions:
            raise NotFound("no partner subscription: the broker user comes with the first one")
        broker_user = subscriptions[0]["broker_user"]
        password = broker.BrokerAdmin(self.config["AMQP_URI"]).rotate_password(broker_user)
        return {"broker_user": broker_user, "broker_password": password}

    @command(schemas.GetById)
    def resume_partner_subscription(self, caller, command):
        subscription = self._subscription(caller, command.id)
        partners.refuse_resume_without_webhook(subscription)
        subscription = self.store.subscriptions.update(
            {"_id": subscription["_id"]}, {"webhook_state": "WEBHOOK_ACTIVE", "webhook_failures": 0})
        self.store.release_held_webhooks(subscription["_id"])
        return partners.view(subscription)

    @command(schemas.ListPartnerEvents)
    def list_partner_events(self, caller, command):
        """Events after `from_position` that one of the partner's subscriptions matches, redacted
        for the partner; `next_position` is where the scan stopped, so paging never skips one."""
        partners.refuse_unless_partner(caller)
        subscriptions = self.store.live_subscriptions_of(caller.tenant, caller.subject)
        if not subscriptions:
            return {"events": [], "next_position": command.from_position}
        event_types = {t for s in subscriptions for t in s["event_types"]}
        node_ids = {n for s in subscriptions for n in s["scope_node_ids"]}
        entries = self.store.events_after(caller.tenant, command.from_position, event_types, node_ids,
                                          page_size_of(command.page_size))
        return {"events": partners.readable_events(entries, subscriptions),
                "next_position": entries[-1]["position"] if entries else command.from_position}

    @command(schemas.Empty)
    def list_event_types(self, caller, command):
        return {"event_types": catalog.catalog()}

    # Deliveries out

    @timer(interval=1)
    def deliver_webhooks(self):
        config = webhooks.SETTINGS
        metrics.PARTNER_DELIVERIES_UNACKNOWLEDGED.set(self.store.unacknowledged_webhooks())
        for _ in range(WEBHOOK_BATCH):
            delivery = self.store.next_webhook_due(WEBHOOK_LEASE_SECONDS)
            if delivery is None:
                return
            self._attempt_webhook(delivery, config)

    @timer(interval=1)
    def deliver_sms(self):
        config = webhooks.SETTINGS
        sender = sms.adapter(self.store.sms_sink)
        for _ in range(SMS_BATCH):
            delivery = self.store.next_sms_due(SMS_LEASE_SECONDS)
            if delivery is None:
                return
            self._attempt_sms(sender, delivery, config)

    def _attempt_webhook(self, delivery, config):
        """Posts one delivery, unless its subscription was deleted (cancelled) or its webhook paused
        (held); failures in a row pause the webhook."""
        subscription = self.store.live_subscription(delivery["subscription_id"])
        if subscription is None:
            self.store.set_webhook_delivery(delivery["_id"], {"state": "CANCELLED"})
            return
        if subscription["webhook_state"] != "WEBHOOK_ACTIVE":
            self.store.set_webhook_delivery(delivery["_id"], {"state": "HELD"})
            return
        attempts = delivery["attempts"] + 1
        if webhooks.send(subscription["webhook_url"], subscription["webhook_secret"], delivery["event"]):
            self.store.set_webhook_delivery(delivery["_id"], webhooks.sent(attempts))
            self.store.set_webhook_health(subscription["_id"], {"webhook_failures": 0})
            return
        metrics.PARTNER_DELIVERIES_FAILED.labels("webhook").inc()
        health = webhooks.health_after_failure(subscription, config)
        outcome = webhooks.failed(attempts, config, held=health["webhook_state"] == "WEBHOOK_PAUSED")
        raised = failure_events(subscription, lambda: self.store.partner_contacts(subscription), health, outcome,
                                delivery)
        self.store.set_webhook_health(subscription["_id"], health, raised)
        self.store.set_webhook_delivery(delivery["_id"], outcome)

    def _attempt_sms(self, sender, delivery, config):
        """Sends one text, unless the recipient's quiet hours hold it (urgent texts are never held)."""
        chosen = self.store.preferences_of(delivery["tenant"], [delivery["recipient"]]).get(delivery["recipient"], {})
        held_until = None if delivery["urgent"] else sms.quiet_until(now(), chosen)
        if held_until is not None:
            self.store.set_sms_delivery(delivery["_id"], {"next_attempt_time": held_until})
            return
        attempts = delivery["attempts"] + 1
        if sender.send(delivery["phone"], delivery["text"], delivery["_id"]):
            self.store.set_sms_delivery(delivery["_id"], webhooks.sent(attempts))
        else:
            self.store.set_sms_delivery(delivery["_id"], webhooks.failed(attempts, config))

    # Telling people

    def _tell_recipients(self, event):
        recipients = rules.recipients_of(event)
        recipients += [s for s in self._level_staff(event) if s not in recipients]
        if recipients:
            chosen = self.store.preferences_of(event["tenant"], recipients)
            self._deliver(inbox.event_messages(event, recipients, chosen), chosen)

    def _deliver(self, messages, chosen=None):
        """Writes inbox messages and queues a text for each recipient who asked for SMS; `chosen`
        is the recipients' preferences, when already read."""
        self.store.deliver_to_inbox(messages)
        if not messages:
            return
        if chosen is None:
            chosen = self.store.preferences_of(messages[0]["tenant"], [m["recipient"] for m in messages])
        for message, phone in inbox.texts_wanted(messages, chosen):
            self.store.queue_sms(message, phone)

    def _preferences_of(self, caller):
        return self.store.preferences_of(caller.tenant, [caller.subject]).get(caller.subject, {})

    def _feed_partners(self, event):
        for queue, subscriptions in partners.by_queue(self.store.subscriptions_for(event["tenant"], event["type"]),
                                                      event).items():
            shown = rules.redact_event(event, subscriptions[0]["partner_kind"])
            # At least once: a redelivered event is fed again, and partners drop the repeat by its
            # CloudEvents id.
            self.partner_feed(shown, routing_key=queue)
            for subscription in subscriptions:
                if subscription["webhook_url"]:
                    self.store.queue_webhook(subscription, shown)

    def _announce(self, poll, moment):
        """Writes the events of the poll's opening and closing that are due, in one claimed write
        (another replica's timer may be at the same poll); the poll as written, or None when it
        moved on meanwhile (or nothing was due). Those events tell its audience (`tell_poll_opened`,
        `tell_poll_results`)."""
        due = polls.announcements_due(poll, moment)
        if not due:
            return None
        events = [poll_opened(poll)] if polls.OPEN in due else []
        changes = {"opened_announced": True}
        if polls.CLOSED in due:
            # Kept on the poll, its results from now on: no answer is taken after this count.
            counted = self._count_answers(poll)
            events.append(poll_closed(poll, counted))
            changes |= {polls.UNANNOUNCED: False, polls.RESULTS: counted}
        return self.store.polls.claimed_update(poll, {"$set": changes}, events)

    def _refuse_if_closed_meanwhile(self, poll, answer):
        """Refuses (FAILED_PRECONDITION) and removes an answer just stored if the poll, read again,
        has closed since it was checked (ClosePoll, or `closes_at` passing, while this call ran).

        Read again still open: the poll closes later, and its counts are taken later still
        (`polls.CLOSING_GRACE` after, by replicas whose clocks agree far closer than that), so
        they count this answer. Read closed: the answer may have
        been stored after the closing; it is removed within milliseconds, well inside the grace,
        before the counting reads the answers. So the kept counts are exactly the answers whose
        calls succeeded, unless a call stalls for longer than the grace between this read and the
        removal (the store's own operation timeout is 8 s)."""
        try:
            polls.refuse_unless_open(self.store.polls.get({"tenant": poll["tenant"], "_id": poll["_id"]}), now())
        except FailedPrecondition:
            self.store.remove_answer(answer)
            raise

    def _poll_counts(self, poll, moment):
        """Kept at the poll's closing. While it is open, counted at most once per
        `PollSettings.live_results_seconds` in this process (see `store.LiveCounts`). Closed but
        its closing not announced yet (the grace, a few seconds before the audience is told),
        counted on each read, so that whoever closed it sees the final counts. Closed before
        closings kept counts: counted once, and kept."""
        kept = polls.kept_results(poll)
        if kept:
            return kept
        if polls.state_at(poll, moment) == polls.OPEN:
            return self.store.live_counts_of(poll["_id"], lambda: self._count_answers(poll))
        counted = self._count_answers(poll)
        if polls.closing_announced(poll, moment):
            self.store.keep_poll_results(poll, counted)
        return counted

    def _count_answers(self, poll):
        return polls.tally(poll, self.store.answers_to(poll["tenant"], poll["_id"]))

    def _tell_poll_audience(self, poll, message_to):
        """Writes `message_to(resident)` to each resident the poll is addressed to now.

        Told from the poll's own events rather than by the call or timer that opened or closed it:
        those events are queued in the poll's claimed write and the outbox and broker deliver them
        at least once, so a crash between the write and the telling loses no message. The
        messages' ids are content ids of (poll, kind, resident), so a second delivery (a retry, the
        relay publishing again, a replica's) only fills in what the first left out.

        The audience is asked of the residents service now, not kept from the poll's creation: who
        moved in since is told, who moved out or departed is not. It is asked as the service
        itself, granted sensitive tags, since the audience was checked against its author's
        grants when the poll was created."""
        system = Caller(subject=SERVICE, tenant=poll["tenant"], role="system", scope=(WHOLE_TENANT,),
                        grants=(SENSITIVE_GRANT,))
        self._deliver([message_to(resident) for resident in self._residents_in(system, poll["audience"])])

    def _registered_resident(self, caller):
        """The registry's resident the caller's sign-in is bound to: id, household, path and tags.
        PERMISSION_DENIED when none is, or the sign-in claims another household."""
        found = self.residents.account_household(caller.model_dump(), {})
        if not found["resident_id"]:
            raise PermissionDenied("your sign-in is not bound to a resident of the registry")
        if caller.household_id and caller.household_id != found["household_id"]:
            raise PermissionDenied("your sign-in names a household the registry does not place you in")
        return found

    def _poll_for_resident(self, caller, resident, poll_id):
        poll = self.store.polls.get({"tenant": caller.tenant, "_id": poll_id})
        polls.require_addressed(poll, resident, now())
        return poll

    def _resident_view(self, poll, resident):
        answered = self.store.poll_answer(polls.answer_key(poll, resident)) is not None
        return polls.view(poll, now()) | {"answered": answered}

    def _polls_for_resident(self, caller, command):
        """Every poll addressed to the resident that has opened, newest first: one read per node
        of their path, few enough to need no pages."""
        resident = self._registered_resident(caller)
        moment = now()
        addressed = [poll for poll in self.store.polls_addressed_below(caller.tenant, resident["path"])
                     if polls.addressed_to(poll, resident) and polls.state_at(poll, moment) != polls.DRAFT]
        addressed.sort(key=lambda poll: (poll["opens_at"], poll["_id"]), reverse=True)
        return {"polls": [self._resident_view(poll, resident) for poll in addressed]}

    def _notice_view(self, notice):
        return public(notice) | self.store.notice_counts(notice["_id"])

    def _subscription(self, caller, subscription_id):
        """One of the calling partner's own subscriptions; another partner's is not found."""
        partners.refuse_unless_partner(caller)
        subscription = self.store.subscriptions.get({"tenant": caller.tenant, "_id": subscription_id})
        if subscription["partner"] != caller.subject:
            raise NotFound("partner subscription not found")
        return subscription

    def _partner_organisation(self, caller):
        """The organisation of the registry the partner's token names; PERMISSION_DENIED when it
        names none, or one the registry does not hold in the partner's scope."""
        organisation_id = partners.organisation_named(caller)
        try:
            return self.grids.get_organisation(caller.model_dump(), {"id": organisation_id})
        except NotFound:
            raise PermissionDenied("your token names an organisation the registry does not hold") from None

    def _remove_partner_reader(self, subscription):
        """The partner's last subscription went: its broker user and its queues go with it."""
        amqp_uri = self.config["AMQP_URI"]
        broker.BrokerAdmin(amqp_uri).delete_user(subscription["broker_user"])
        broker.delete_partner_queues(amqp_uri, subscription["queue"])

    def _partner_reader(self, queue):
        """(user, password) of the broker user that may read only `queue`, declared if need be."""
        amqp_uri = self.config["AMQP_URI"]
        broker.declare_partner_queue(amqp_uri, queue)
        admin = broker.BrokerAdmin(amqp_uri)
        broker_user = admin.reader_name(queue)
        return broker_user, admin.ensure_reader(broker_user, queue)

    # Other services

    def _level_staff(self, event):
        posts = rules.level_posts(event)
        if not posts:
            return []
        system = {"subject": "notifications", "tenant": event["tenant"], "role": "system", "scope": ["*"]}
        try:
            found = self.grids.staff_for(system, {"node_id": event["data"]["node_id"], "posts": list(posts)})
        except NotFound:
            return []
        return [holder["subject"] for entry in found["staff"] for holder in entry["holders"]]

    def _node(self, caller, node_id, field):
        try:
            return self.grids.get_node(caller.model_dump(), {"id": node_id})
        except NotFound:
            raise NotFound("node not found", [{"field": field, "description": "no such node in scope"}]) from None

    def _category(self, caller, category_id, field):
        try:
            return self.tickets.get_category(caller.model_dump(), {"id": category_id})
        except NotFound:
            raise InvalidArgument.field(field, "is not a ticket category of this tenant") from None

    def _audience(self, caller, audience):
        """The ids of the residents in `audience`; a refusal of it names the audience's field."""
        try:
            return self._residents_in(caller, audience)
        except (InvalidArgument, PermissionDenied) as refusal:
            # The residents service names its own request's fields, `tags` first in its message.
            violations = [{**violation, "field": f"audience.{violation['field']}"} for violation in refusal.violations]
            raise type(refusal)(f"audience.{refusal.message}", violations) from None

    def _residents_in(self, caller, audience):
        recipients, token = [], ""
        while True:
            page = self.residents.list_residents(caller.model_dump(), {
                "node_id": audience["node_id"], "tags": audience["tags"], "page_size": RESIDENTS_PAGE,
                "page_token": token})
            recipients += [resident["id"] for resident in page["residents"]]
            token = page["next_page_token"]
            if not token:
                return recipients
