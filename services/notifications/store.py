"""Storage of the notifications service: the event log, inbox messages, notices, polls and their
answers, partner subscriptions and the deliveries to partners."""
import time
from datetime import timedelta

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.ferretdb import DUPLICATE_KEY
from services.notifications.event_log import EventLog
from services.notifications.inbox import message_id
from services.notifications.polls import RESULTS, UNANNOUNCED
from services.settings import PollSettings, SubscriptionSettings
from services.storage import ClaimedUpdates, Listing, Records, Repository, now, read_each

SUBSCRIPTIONS = SubscriptionSettings()
POLLS = PollSettings()
# A person's messages, and those still unread, are lists (see services/storage/listings.py): a
# page of a long inbox reads its shards, and counting the unread reads only unread messages.
INBOX = Listing(lambda message: {"inbox"} if "read_time" in message else {"inbox", "unread"},
                depends_on=("read_time",), nodes_of=lambda message: [message["recipient"]])
# An inbox's unread count stops here (a screen shows "99+"): the store reads every message it
# counts, and counting 500 took 60 ms of FerretDB's time on every page of the inbox.
UNREAD_COUNTED_UP_TO = 100


class FedSubscriptions:
    """Each tenant's live subscriptions, as the intake of events reads them: from the store at most
    once per `ttl_seconds`, rather than once per event. This process forgets a tenant's on its own
    change to them; another replica's change reaches it within `ttl_seconds`, and what a new
    subscription's queue missed meanwhile is in the event log, where the partner's stream reads it.
    Green threads share it, as every worker's copy of the repository does."""

    def __init__(self, collection, ttl_seconds, clock=time.monotonic):
        self.collection, self.ttl_seconds, self.clock = collection, ttl_seconds, clock
        self.read = {}
        # Counts forgettings: a read under way while one happened may have read what was forgotten.
        self.forgettings = 0

    def of(self, tenant):
        read_at, subscriptions = self.read.get(tenant, (None, None))
        if read_at is not None and self.clock() - read_at <= self.ttl_seconds:
            return subscriptions
        forgettings, read_at = self.forgettings, self.clock()
        subscriptions = list(self.collection.find({"tenant": tenant, "retire_time": {"$exists": False}}))
        if forgettings == self.forgettings:
            self.read[tenant] = (read_at, subscriptions)
        return subscriptions

    def forget(self, tenant):
        self.read.pop(tenant, None)
        self.forgettings += 1


class LiveCounts:
    """Open polls' counts as this process last counted them, each shown for `ttl_seconds` from
    when its count began: staff watching a poll cost one count of its answers per process per
    `ttl_seconds`, however many watch, and see every answer stored before that count began. Green
    threads share it, as every worker's copy of the repository does; a few viewers whose reads
    find the counts expired at once each count (a count takes well under the time to live)."""

    KEPT_AT_MOST = 1000  # polls open and watched at once in one process: a city's few dozen

    def __init__(self, ttl_seconds, clock=time.monotonic):
        self.ttl_seconds, self.clock = ttl_seconds, clock
        self.kept = {}  # poll id -> (when its count began, counts)

    def of(self, poll_id, count):
        """The counts kept for `poll_id`, or `count()`'s when none are or they are too old."""
        began, counts = self.kept.get(poll_id, (None, None))
        if began is not None and self.clock() - began <= self.ttl_seconds:
            return counts
        began, counts = self.clock(), count()
        if len(self.kept) >= self.KEPT_AT_MOST:
            self.kept.clear()
        self.kept[poll_id] = (began, counts)
        return counts


class NotificationsRepository(Repository):
    record_collections = ("notices", "polls", "poll_answers", "subscriptions")

    def __init__(self, database):
        super().__init__(database)
        self.notices = Records(database.notices, "notice")
        # A poll's opening and closing are announced by whichever replica's timer comes first:
        # claimed updates, so that each is announced once.
        self.polls = Records(database.polls, "poll", claims=ClaimedUpdates(database.polls, database.poll_claims))
        # An answer's `_id` is the content id of (poll, household or resident): the unique `_id`
        # alone refuses a second answer, with no read before the write to race.
        self.poll_answers = Records(database.poll_answers, "poll answer")
        self.subscriptions = Records(database.subscriptions, "partner subscription")
        self.event_log = database.event_log
        self.log = EventLog(database.event_log, database.counters)
        self.inbox = database.inbox
        self.messages = Records(database.inbox, "message", listing=INBOX)
        self.fed_subscriptions = FedSubscriptions(database.subscriptions, SUBSCRIPTIONS.fed_ttl_seconds)
        self.live_counts = LiveCounts(POLLS.live_results_seconds)
        self.webhook_deliveries = database.webhook_deliveries
        self.sms_deliveries = database.sms_deliveries
        self.preferences = database.preferences
        self.sms_sink = database.sms_sink

    def ensure_indexes(self):
        super().ensure_indexes()
        self.log.ensure_indexes()
        self.inbox.create_index([("origin", ASCENDING), ("recipient", ASCENDING), ("channel", ASCENDING)],
                                unique=True, name="one_per_origin_recipient_channel")
        self.inbox.create_index([("tenant", ASCENDING), ("recipient", ASCENDING)], name="recipient")
        self.inbox.create_index([("notice_id", ASCENDING)], name="notice")
        self.polls.collection.create_index([("tenant", ASCENDING), ("node_id", ASCENDING)], name="by_node")
        self.polls.collection.create_index([(UNANNOUNCED, ASCENDING)], name="unannounced")
        self.poll_answers.collection.create_index([("poll_id", ASCENDING)], name="by_poll")
        self.messages.ensure_listing()
        self.subscriptions.collection.create_index(
            [("tenant", ASCENDING), ("event_types", ASCENDING)], name="by_type")
        self.subscriptions.collection.create_index(
            [("tenant", ASCENDING), ("partner", ASCENDING)], name="by_partner")
        for deliveries in (self.webhook_deliveries, self.sms_deliveries):
            deliveries.create_index([("state", ASCENDING), ("next_attempt_time", ASCENDING)], name="due")

    # Event log

    def append_event(self, event):
        return self.log.append(event)

    def events_after(self, tenant, position, event_types, node_ids, limit):
        return self.log.after(tenant, position, event_types, node_ids, limit)

    def purge_events_older_than(self, seconds):
        return self.log.purge_older_than(seconds)

    # Inbox

    def deliver_to_inbox(self, messages):
        """Writes messages; those already there (same origin, recipient, channel) are left alone.
        Returns how many were new."""
        if not messages:
            return 0
        try:
            return len(self.inbox.insert_many([message | INBOX.fields_of(message) for message in messages],
                                              ordered=False).inserted_ids)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != DUPLICATE_KEY for error in errors):
                raise
            return exc.details.get("nInserted", 0)

    def inbox_page(self, tenant, recipient, unread_only, page_size, page_token):
        facet = "unread" if unread_only else "inbox"
        query = {"tenant": tenant, "recipient": recipient}
        return self.messages.sampled_listed_page(recipient, facet, query, page_size, page_token)

    def unread_count(self, tenant, recipient):
        """Unread messages, counted up to UNREAD_COUNTED_UP_TO."""
        return self.inbox.count_documents({"tenant": tenant, "recipient": recipient,
                                           **INBOX.whole_list(recipient, "unread")}, limit=UNREAD_COUNTED_UP_TO)

    def mark_read(self, tenant, recipient, message_ids):
        """One write per message, by `_id`: each leaves the unread list in the same write."""
        moment = now()

        def mark(message_id):
            read = {"_id": message_id, "recipient": recipient, "read_time": moment}
            return self.inbox.update_one(
                {"_id": message_id, "tenant": tenant, "recipient": recipient, "read_time": {"$exists": False}},
                {"$set": {"read_time": moment, **INBOX.fields_of(read)}}).modified_count
        return sum(read_each(mark, set(message_ids)).values())

    def notice_counts(self, notice_id):
        return {"delivered_count": self.inbox.count_documents({"notice_id": notice_id}),
                "read_count": self.inbox.count_documents({"notice_id": notice_id, "read_time": {"$exists": True}})}

    # Polls

    def polls_addressed_below(self, tenant, node_ids):
        """The polls addressed to each of `node_ids`, one equality read per node: a resident's
        path is a handful of nodes, and FerretDB answers each from the index."""
        found = read_each(lambda node_id: self.polls.all({"tenant": tenant, "node_id": node_id}), set(node_ids))
        return [poll for polls in found.values() for poll in polls]

    def unannounced_polls(self):
        """Polls whose opening or closing is still to be announced: an indexed flag, so that the
        timer reads only those, never every poll."""
        return self.polls.all({UNANNOUNCED: True})

    def answer_poll(self, tenant, answer, events):
        """Stores the answer unless one with its key is there: (the answer, True), or (the one
        stored first, False)."""
        return self.poll_answers.create(tenant, answer["id"], answer, events)

    def remove_answer(self, answer):
        """Takes back an answer its own call stored but refused (see `answer_poll`), with the event
        queued in its write: the call failed, so nothing published it."""
        self.poll_answers.collection.delete_one({"_id": answer["_id"]})

    def live_counts_of(self, poll_id, count):
        """`count()` of an open poll, or this process's count of it, begun less than
        `POLLS.live_results_seconds` ago (see `LiveCounts`)."""
        return self.live_counts.of(poll_id, count)

    def keep_poll_results(self, poll, counted):
        """Keeps on a closed poll the counts its closing did not keep (it closed before polls kept
        them). Two readers may both count it and write: the same counts, since a closed poll takes
        no answer, so neither needs the other's claim."""
        self.polls.collection.update_one({"_id": poll["_id"], RESULTS: {"$exists": False}},
                                         {"$set": {RESULTS: counted}})

    def poll_answer(self, answer_id):
        return self.poll_answers.first({"_id": answer_id})

    def answers_to(self, tenant, poll_id):
        """Every answer of a poll, by equality on the poll, without what a tally does not read."""
        return self.poll_answers.all({"tenant": tenant, "poll_id": poll_id},
                                     {"poll_id": 1, "household_id": 1, "resident_id": 1, "answers": 1},
                                     sort=[("_id", ASCENDING)])

    # Partners

    def subscriptions_for(self, tenant, event_type):
        return [subscription for subscription in self.fed_subscriptions.of(tenant)
                if event_type in subscription["event_types"]]

    def forget_fed_subscriptions(self, tenant):
        self.fed_subscriptions.forget(tenant)

    def live_subscription(self, subscription_id):
        return self.subscriptions.first({"_id": subscription_id})

    def set_webhook_health(self, subscription_id, changes, events=()):
        """The webhook's health, and the events a change of it raises, in one write."""
        self.subscriptions.update({"_id": subscription_id}, changes, events)

    def partner_contacts(self, subscription):
        """The partner logins to tell about a subscription: every one of its organisation that
        holds a subscription, or the partner that made it."""
        organisation = subscription.get("organisation_id")
        logins = {subscription["partner"]}
        if organisation:
            logins |= {found["partner"] for found in self.subscriptions.all(
                {"tenant": subscription["tenant"], "organisation_id": organisation}, {"partner": 1})}
        return sorted(logins)

    def live_subscriptions_of(self, tenant, partner):
        return list(self.subscriptions.collection.find(
            {"tenant": tenant, "partner": partner, "retire_time": {"$exists": False}}))

    def queue_webhook(self, subscription, event):
        try:
            self.webhook_deliveries.insert_one({
                "_id": f"{event['id']}:{subscription['_id']}", "tenant": subscription["tenant"],
                "subscription_id": subscription["_id"], "event": event, "state": "QUEUED",
                "attempts": 0, "next_attempt_time": now(), "create_time": now()})
        except DuplicateKeyError:
            pass

    def queue_sms(self, message, phone):
        """At most one text per message (origin, recipient), however often it is queued."""
        try:
            self.sms_deliveries.insert_one({
                "_id": message_id(message["origin"], message["recipient"], "sms"), "tenant": message["tenant"],
                "recipient": message["recipient"], "phone": phone, "text": f"{message['title']}: {message['body']}",
                "urgent": message["urgent"], "state": "QUEUED", "attempts": 0, "next_attempt_time": now(),
                "create_time": now()})
        except DuplicateKeyError:
            pass

    def unacknowledged_webhooks(self):
        return self.webhook_deliveries.count_documents({"state": {"$in": ["QUEUED", "HELD"]}})

    def release_held_webhooks(self, subscription_id):
        """Queues again, due now, what a paused webhook held."""
        self.webhook_deliveries.update_many(
            {"subscription_id": subscription_id, "state": "HELD"},
            {"$set": {"state": "QUEUED", "next_attempt_time": now()}})

    def next_webhook_due(self, lease_seconds):
        return self.claim_due(self.webhook_deliveries, lease_seconds)

    def next_sms_due(self, lease_seconds):
        return self.claim_due(self.sms_deliveries, lease_seconds)

    def set_webhook_delivery(self, delivery_id, changes):
        self.webhook_deliveries.update_one({"_id": delivery_id}, {"$set": changes})

    def set_sms_delivery(self, delivery_id, changes):
        self.sms_deliveries.update_one({"_id": delivery_id}, {"$set": changes})

    @staticmethod
    def claim_due(deliveries, lease_seconds):
        """Takes one due delivery, pushing its next attempt out by the lease so no other sender
        takes it meanwhile."""
        moment = now()
        return deliveries.find_one_and_update(
            {"state": "QUEUED", "next_attempt_time": {"$lte": moment}},
            {"$set": {"next_attempt_time": moment + timedelta(seconds=lease_seconds)}},
            sort=[("next_attempt_time", ASCENDING)], return_document=ReturnDocument.AFTER)

    # Preferences

    @staticmethod
    def preference_key(tenant, recipient):
        return f"{tenant}/{recipient}"

    def preferences_of(self, tenant, recipients):
        found = read_each(lambda recipient: self.preferences.find_one({"_id": self.preference_key(tenant, recipient)}),
                          set(recipients))
        return {recipient: chosen for recipient, chosen in found.items() if chosen}

    def set_preferences(self, tenant, recipient, changes):
        return self.preferences.find_one_and_update(
            {"_id": self.preference_key(tenant, recipient)},
            {"$set": {**changes, "update_time": now()}, "$setOnInsert": {"tenant": tenant, "recipient": recipient}},
            upsert=True, return_document=ReturnDocument.AFTER)
