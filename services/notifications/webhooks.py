"""Signed webhooks in the Standard Webhooks scheme, with retries and backoff."""
import base64
import json
import os
import secrets
import urllib.error
import urllib.request
from datetime import timedelta

from standardwebhooks import Webhook

from services.storage import now

TIMEOUT_SECONDS = 5


def new_secret():
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def settings():
    return {
        "backoff_seconds": float(os.environ.get("WEBHOOK_BACKOFF_SECONDS", "1")),
        "max_backoff_seconds": float(os.environ.get("WEBHOOK_MAX_BACKOFF_SECONDS", "300")),
        # After this many attempts a delivery is dead-lettered.
        "max_attempts": int(os.environ.get("WEBHOOK_MAX_ATTEMPTS", "8")),
        # After this many failures in a row the subscription's webhook is paused.
        "pause_after": int(os.environ.get("WEBHOOK_PAUSE_AFTER", "5")),
    }


def next_attempt_after(attempts, config):
    delay = min(config["backoff_seconds"] * 2 ** (attempts - 1), config["max_backoff_seconds"])
    return now() + timedelta(seconds=delay)


def sent(attempts):
    """A delivery's fields once the receiver took it, at its `attempts`th attempt."""
    return {"state": "SENT", "attempts": attempts, "sent_time": now()}


def failed(attempts, config, held=False):
    """A delivery's fields after its `attempts`th attempt failed: dead once out of attempts, else
    tried again after a backoff, or `held` until its webhook is resumed."""
    if attempts >= config["max_attempts"]:
        state = "DEAD"
    else:
        state = "HELD" if held else "QUEUED"
    return {"state": state, "attempts": attempts, "last_failure_time": now(),
            "next_attempt_time": next_attempt_after(attempts, config)}


def health_after_failure(subscription, config):
    """A subscription's webhook fields after one more failure in a row: paused after too many."""
    failures = subscription.get("webhook_failures", 0) + 1
    paused = failures >= config["pause_after"]
    return {"webhook_failures": failures, "webhook_state": "WEBHOOK_PAUSED" if paused else "WEBHOOK_ACTIVE"}


def send(url, secret, event):
    """Posts the event signed with the subscription's secret; True when the receiver took it (2xx)."""
    body = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    moment = now()
    signature = Webhook(secret).sign(msg_id=event["id"], timestamp=moment, data=body)
    request = urllib.request.Request(url, data=body.encode(), method="POST", headers={
        "Content-Type": "application/json",
        "webhook-id": event["id"],
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
    })
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False
