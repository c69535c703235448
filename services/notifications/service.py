"""The notifications service: keeps a log of every service's events, tells people through their
inbox, sends notices to an audience, and feeds partner systems their subscribed, redacted events
by queue, signed webhook and a resumable event stream."""
import logging

from kombu import Exchange, Queue, binding
from nameko.dependency_providers import Config
from nameko.messaging import Publisher
from nameko.timer import timer

from services import base
from services.access import Caller
from services.errors import InvalidArgument, NotFound, PermissionDenied
from services.messaging import RpcProxy, consume, rpc
from services.notifications import broker, catalog, metrics, rules, schemas, sms, webhooks
from services.notifications.store import NotificationsRepository, message_id
from services.settings import EventLogSettings
from services.storage import MongoStore, now, page_size_of, public, timestamp
from services.validation import parse

log = logging.getLogger(__name__)
EVENT_SOURCES = ("grids", "residents", "tickets", "volunteers")
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


class NotificationsService(base.CivicService):
    name = "notifications"
    store = MongoStore(NotificationsRepository)
    config = Config()
    grids = RpcProxy("grids")
    residents = RpcProxy("residents")
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

    @rpc
    def list_inbox(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.ListInbox, request)
        query = {"tenant": caller.tenant, "recipient": caller.subject}
        if command.unread_only:
            query["read_time"] = {"$exists": False}
        messages, token = self.store.inbox_page(query, command.page_size, command.page_token)
        return {"messages": [public(m) for m in messages], "next_page_token": token,
                "unread_count": self.store.unread_count(caller.tenant, caller.subject)}

    @rpc
    def mark_read(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.MarkRead, request)
        marked = self.store.mark_read(caller.tenant, caller.subject, command.message_ids)
        return {"marked": marked, "unread_count": self.store.unread_count(caller.tenant, caller.subject)}

    @rpc
    def get_notification_preferences(self, caller, request):
        caller = Caller.of(caller)
        parse(schemas.Empty, request)
        found = self.store.preferences_of(caller.tenant, [caller.subject]).get(caller.subject, {})
        return self._preferences_view(found)

    @rpc
    def update_notification_preferences(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.UpdatePreferences, request)
        updatable = set(schemas.PreferenceChanges.model_fields)
        paths = command.update_mask or [key for key in command.preferences if key in updatable]
        unknown = sorted(set(paths) - updatable)
        if unknown:
            raise InvalidArgument.field("update_mask", f"cannot update {', '.join(unknown)}; "
                                                       f"updatable: {', '.join(sorted(updatable))}")
        if not paths:
            raise InvalidArgument.field("update_mask", "names no field to update")
        try:
            changes = parse(schemas.PreferenceChanges, {
                path: command.preferences.get(path, schemas.PREFERENCE_DEFAULTS[path]) for path in paths})
        except InvalidArgument as exc:
            violations = [{**v, "field": f"preferences.{v['field']}"} for v in exc.violations]
            raise InvalidArgument("; ".join(f"{v['field']}: {v['description']}" for v in violations),
                                  violations) from None
        merged = self._preferences_view(
            self.store.preferences_of(caller.tenant, [caller.subject]).get(caller.subject, {})
        ) | changes.model_dump(exclude_unset=True)
        if merged["sms_enabled"] and not merged["sms_phone"]:
            raise InvalidArgument.field("preferences.sms_phone", "is required when sms_enabled")
        if bool(merged["quiet_start"]) != bool(merged["quiet_end"]):
            raise InvalidArgument.field("preferences.quiet_end", "quiet hours need both a start and an end")
        stored = self.store.set_preferences(caller.tenant, caller.subject, changes.model_dump(exclude_unset=True))
        return self._preferences_view(stored)

    # Notices

    @rpc
    def create_notice(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.CreateNotice, request)
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
        self._deliver([self._notice_message(caller.tenant, notice, r) for r in recipients])
        notice = self.store.notices.update({"tenant": caller.tenant, "_id": notice["_id"]},
                                           {"recipient_count": len(recipients)})
        return self._notice_view(notice)

    @rpc
    def get_notice(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.GetById, request)
        notice = self.store.notices.get_in_scope(caller, command.id)
        return self._notice_view(notice)

    # Partner subscriptions

    @rpc
    def create_partner_subscription(self, caller, request):
        caller = self._partner(caller)
        command = parse(schemas.CreatePartnerSubscription, request)
        for index, node_id in enumerate(command.scope_node_ids):
            self._node(caller, node_id, f"scope_node_ids.{index}")
        queue = broker.partner_queue_name(caller.tenant, caller.subject)
        amqp_uri = self.config["AMQP_URI"]
        broker.declare_partner_queue(amqp_uri, queue)
        admin = broker.BrokerAdmin(amqp_uri)
        broker_user = admin.reader_name(queue)
        broker_password = admin.ensure_reader(broker_user, queue)
        webhook_secret = webhooks.new_secret() if command.webhook_url else ""
        fields = {"partner": caller.subject, "partner_kind": rules.partner_kind(caller.grants),
                  "event_types": sorted(set(command.event_types)),
                  "scope_node_ids": sorted(set(command.scope_node_ids)), "path": sorted(set(command.scope_node_ids)),
                  "queue": queue, "broker_user": broker_user, "webhook_url": command.webhook_url,
                  "webhook_secret": webhook_secret, "webhook_failures": 0,
                  "webhook_state": "WEBHOOK_ACTIVE" if command.webhook_url else "WEBHOOK_NONE"}
        subscription, created = self.store.subscriptions.create(caller.tenant, command.request_id, fields)
        shown = self._subscription_view(subscription)
        if created:
            shown["webhook_secret"] = subscription["webhook_secret"]
            shown["broker_password"] = broker_password
        return shown

    @rpc
    def list_partner_subscriptions(self, caller, request):
        caller = self._partner(caller)
        command = parse(schemas.ListPartnerSubscriptions, request)
        documents, token = self.store.subscriptions.page(
            {"tenant": caller.tenant, "partner": caller.subject}, command.page_size, command.page_token)
        return {"subscriptions": [self._subscription_view(d) for d in documents], "next_page_token": token}

    @rpc
    def delete_partner_subscription(self, caller, request):
        caller = self._partner(caller)
        subscription = self._subscription(caller, parse(schemas.GetById, request).id)
        self.store.subscriptions.retire({"_id": subscription["_id"]}, [])
        return self._subscription_view(subscription)

    @rpc
    def resume_partner_subscription(self, caller, request):
        caller = self._partner(caller)
        subscription = self._subscription(caller, parse(schemas.GetById, request).id)
        if subscription["webhook_state"] == "WEBHOOK_NONE":
            raise InvalidArgument.field("id", "this subscription has no webhook to resume")
        subscription = self.store.subscriptions.update(
            {"_id": subscription["_id"]}, {"webhook_state": "WEBHOOK_ACTIVE", "webhook_failures": 0})
        self.store.webhook_deliveries.update_many(
            {"subscription_id": subscription["_id"], "state": "HELD"},
            {"$set": {"state": "QUEUED", "next_attempt_time": now()}})
        return self._subscription_view(subscription)

    @rpc
    def list_partner_events(self, caller, request):
        """Events after `from_position` that one of the partner's subscriptions matches, redacted
        for the partner; `next_position` is where the scan stopped, so paging never skips one."""
        caller = self._partner(caller)
        command = parse(schemas.ListPartnerEvents, request)
        subscriptions = self.store.live_subscriptions_of(caller.tenant, caller.subject)
        if not subscriptions:
            return {"events": [], "next_position": command.from_position}
        event_types = {t for s in subscriptions for t in s["event_types"]}
        node_ids = {n for s in subscriptions for n in s["scope_node_ids"]}
        entries = self.store.events_after(caller.tenant, command.from_position, event_types, node_ids,
                                          page_size_of(command.page_size))
        events = []
        for entry in entries:
            matching = [s for s in subscriptions if rules.event_matches(s, entry["event"])]
            if matching:
                events.append({"position": entry["position"],
                               **rules.redact_event(entry["event"], matching[0]["partner_kind"])})
        next_position = entries[-1]["position"] if entries else command.from_position
        return {"events": events, "next_position": next_position}

    @rpc
    def list_event_types(self, caller, request):
        Caller.of(caller)
        parse(schemas.Empty, request)
        return {"event_types": catalog.catalog()}

    # Webhooks out

    @timer(interval=1)
    def deliver_webhooks(self):
        config = webhooks.SETTINGS
        metrics.PARTNER_DELIVERIES_UNACKNOWLEDGED.set(self.store.webhook_deliveries.count_documents(
            {"state": {"$in": ["QUEUED", "HELD"]}}))
        for _ in range(WEBHOOK_BATCH):
            delivery = self.store.claim_due(self.store.webhook_deliveries, WEBHOOK_LEASE_SECONDS)
            if delivery is None:
                return
            self._attempt_webhook(delivery, config)

    @timer(interval=1)
    def deliver_sms(self):
        config = webhooks.SETTINGS
        sender = sms.adapter(self.store.database)
        for _ in range(SMS_BATCH):
            delivery = self.store.claim_due(self.store.sms_deliveries, SMS_LEASE_SECONDS)
            if delivery is None:
                return
            self._attempt_sms(sender, delivery, config)

    # Helpers

    def _attempt_sms(self, sender, delivery, config):
        deliveries = self.store.sms_deliveries
        preferences = self.store.preferences_of(delivery["tenant"], [delivery["recipient"]]).get(
            delivery["recipient"], {})
        held_until = None if delivery["urgent"] else sms.quiet_until(now(), preferences)
        if held_until is not None:
            deliveries.update_one({"_id": delivery["_id"]}, {"$set": {"next_attempt_time": held_until}})
            return
        attempts = delivery["attempts"] + 1
        if sender.send(delivery["phone"], delivery["text"], delivery["_id"]):
            deliveries.update_one({"_id": delivery["_id"]},
                                  {"$set": {"state": "SENT", "attempts": attempts, "sent_time": now()}})
            return
        deliveries.update_one({"_id": delivery["_id"]}, {"$set": {
            "state": "DEAD" if attempts >= config.max_attempts else "QUEUED", "attempts": attempts,
            "last_failure_time": now(), "next_attempt_time": webhooks.next_attempt_after(attempts, config)}})

    def _deliver(self, messages):
        """Writes inbox messages and queues a text for each recipient who asked for SMS."""
        self.store.deliver_to_inbox(messages)
        if not messages:
            return
        preferences = self.store.preferences_of(messages[0]["tenant"], [m["recipient"] for m in messages])
        for message in messages:
            wanted = preferences.get(message["recipient"], {})
            if wanted.get("sms_enabled") and wanted.get("sms_phone"):
                self.store.queue_sms(message, wanted["sms_phone"])

    @staticmethod
    def _preferences_view(stored):
        shown = {key: stored.get(key, default) for key, default in schemas.PREFERENCE_DEFAULTS.items()}
        if stored.get("update_time"):
            shown["update_time"] = timestamp(stored["update_time"])
        return shown

    def _tell_recipients(self, event):
        recipients = rules.recipients_of(event)
        recipients += [s for s in self._level_staff(event) if s not in recipients]
        if not recipients:
            return
        data = event.get("data") or {}
        preferences = self.store.preferences_of(event["tenant"], recipients)
        messages = []
        for recipient in recipients:
            language = preferences.get(recipient, {}).get("language", rules.DEFAULT_LANGUAGE)
            title, body = rules.render(event["type"], data, language)
            messages.append({
                "_id": message_id(event["id"], recipient, rules.CHANNEL_INBOX), "tenant": event["tenant"],
                "recipient": recipient, "channel": rules.CHANNEL_INBOX, "origin": event["id"],
                "event_id": event["id"], "event_type": event["type"], "title": title, "body": body,
                "urgent": rules.is_urgent(data), "create_time": now()})
        self._deliver(messages)

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

    def _feed_partners(self, event):
        by_queue = {}
        for subscription in self.store.subscriptions_for(event["tenant"], event["type"]):
            if rules.event_matches(subscription, event):
                by_queue.setdefault(subscription["queue"], []).append(subscription)
        for queue, subscriptions in by_queue.items():
            shown = rules.redact_event(event, subscriptions[0]["partner_kind"])
            # Marked after the publish: a crash in between sends it again (partners drop the repeat
            # by its CloudEvents id) rather than never.
            if not self.store.partner_delivered(event["id"], queue):
                self.partner_feed(shown, routing_key=queue)
                self.store.mark_partner_delivered(event["id"], queue)
            for subscription in subscriptions:
                if subscription["webhook_url"]:
                    self.store.queue_webhook(subscription, shown)

    def _attempt_webhook(self, delivery, config):
        deliveries = self.store.webhook_deliveries
        subscription = self.store.subscriptions.collection.find_one(
            {"_id": delivery["subscription_id"], "retire_time": {"$exists": False}})
        if subscription is None:
            deliveries.update_one({"_id": delivery["_id"]}, {"$set": {"state": "CANCELLED"}})
            return
        if subscription["webhook_state"] != "WEBHOOK_ACTIVE":
            deliveries.update_one({"_id": delivery["_id"]}, {"$set": {"state": "HELD"}})
            return
        attempts = delivery["attempts"] + 1
        if webhooks.send(subscription["webhook_url"], subscription["webhook_secret"], delivery["event"]):
            deliveries.update_one({"_id": delivery["_id"]},
                                  {"$set": {"state": "SENT", "attempts": attempts, "sent_time": now()}})
            self.store.subscriptions.collection.update_one(
                {"_id": subscription["_id"]}, {"$set": {"webhook_failures": 0}})
            return
        metrics.PARTNER_DELIVERIES_FAILED.labels("webhook").inc()
        failures = subscription.get("webhook_failures", 0) + 1
        paused = failures >= config.pause_after
        self.store.subscriptions.collection.update_one({"_id": subscription["_id"]}, {"$set": {
            "webhook_failures": failures,
            "webhook_state": "WEBHOOK_PAUSED" if paused else "WEBHOOK_ACTIVE"}})
        if attempts >= config.max_attempts:
            state = "DEAD"
        else:
            state = "HELD" if paused else "QUEUED"
        deliveries.update_one({"_id": delivery["_id"]}, {"$set": {
            "state": state, "attempts": attempts, "last_failure_time": now(),
            "next_attempt_time": webhooks.next_attempt_after(attempts, config)}})

    def _node(self, caller, node_id, field):
        try:
            return self.grids.get_node(caller.model_dump(), {"id": node_id})
        except NotFound:
            raise NotFound("node not found", [{"field": field, "description": "no such node in scope"}]) from None

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

    @staticmethod
    def _notice_message(tenant, notice, recipient):
        origin = f"notice:{notice['_id']}"
        return {"_id": message_id(origin, recipient, rules.CHANNEL_INBOX), "tenant": tenant,
                "recipient": recipient, "channel": rules.CHANNEL_INBOX, "origin": origin,
                "notice_id": notice["_id"], "title": notice["title"], "body": notice["body"],
                "urgent": notice["urgent"], "create_time": now()}

    def _notice_view(self, notice):
        return public(notice) | self.store.notice_counts(notice["_id"])

    @staticmethod
    def _partner(caller):
        caller = Caller.of(caller)
        if caller.role != "partner":
            raise PermissionDenied("only partners have partner subscriptions")
        return caller

    def _subscription(self, caller, subscription_id):
        subscription = self.store.subscriptions.get({"tenant": caller.tenant, "_id": subscription_id})
        if subscription["partner"] != caller.subject:
            raise NotFound("partner subscription not found")
        return subscription

    @staticmethod
    def _subscription_view(subscription):
        shown = public(subscription)
        shown.pop("webhook_secret", None)
        return shown
