"""SMS behind one adapter interface: an HTTP provider in production, a local sink for `make up`
and tests that records what would have been sent. Quiet hours hold non-urgent messages."""
import json
from datetime import datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from services.notifications import rules
from services.notifications.outbound import delivered
from services.settings import SmsProviderSettings
from services.storage import now

PROVIDER = SmsProviderSettings()


class SmsAdapter(Protocol):
    def send(self, phone, text, message_id) -> bool:
        """Sends one text; True when the provider accepted it."""


class HttpSmsProvider(SmsAdapter):
    """Posts {"to", "text", "id"} as JSON to the provider; any 2xx is accepted. The id lets the
    provider drop a retry it already took."""

    def __init__(self, url, token=""):
        self.url = url
        self.token = token

    def send(self, phone, text, message_id):
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = json.dumps({"to": phone, "text": text, "id": message_id}, ensure_ascii=False).encode()
        return delivered(self.url, body, headers)


class LocalSmsSink(SmsAdapter):
    """Records each text in a collection instead of sending it, once per message id."""

    def __init__(self, collection):
        self.collection = collection

    def send(self, phone, text, message_id):
        self.collection.update_one({"_id": message_id}, {"$setOnInsert": {
            "to": phone, "text": text, "time": now()}}, upsert=True)
        return True


def adapter(sink):
    """SMS_PROVIDER_URL chooses the HTTP provider; without it texts go to the local `sink` collection."""
    if PROVIDER.url:
        return HttpSmsProvider(PROVIDER.url, PROVIDER.token)
    return LocalSmsSink(sink)


def parse_clock(value):
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def quiet_until(moment, preferences):
    """When the recipient's quiet hours end, if `moment` falls inside them; else None.
    Windows may wrap midnight (22:00-07:00)."""
    start, end = preferences.get("quiet_start"), preferences.get("quiet_end")
    if not start or not end or start == end:
        return None
    local = moment.astimezone(ZoneInfo(preferences.get("time_zone") or rules.DEFAULT_TIME_ZONE))
    start_at, end_at = parse_clock(start), parse_clock(end)
    clock = local.time().replace(second=0, microsecond=0)
    wraps = start_at > end_at
    inside = (start_at <= clock or clock < end_at) if wraps else (start_at <= clock < end_at)
    if not inside:
        return None
    ends = datetime.combine(local.date(), end_at, tzinfo=local.tzinfo)
    if ends <= local:
        ends += timedelta(days=1)
    return ends
