"""SMS behind one adapter interface: an HTTP provider in production, a local sink for `make up`
and tests that records what would have been sent. Quiet hours hold non-urgent messages."""
import json
import os
import urllib.error
import urllib.request
from datetime import datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from services.storage import now

TIMEOUT_SECONDS = 5


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
        request = urllib.request.Request(self.url, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                return 200 <= response.status < 300
        except (urllib.error.URLError, OSError):
            return False


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
    url = os.environ.get("SMS_PROVIDER_URL")
    if url:
        return HttpSmsProvider(url, os.environ.get("SMS_PROVIDER_TOKEN", ""))
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
    local = moment.astimezone(ZoneInfo(preferences.get("time_zone") or "Asia/Shanghai"))
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
