"""Signed webhooks in the Standard Webhooks scheme, with retries and backoff."""
import base64
import json
import secrets
from datetime import timedelta

from standardwebhooks import Webhook
from tenacity import RetryCallState, wait_exponential

from services.notifications.outbound import delivered
from services.settings import WebhookSettings
from services.storage import now

SETTINGS = WebhookSettings()


def new_secret():
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def next_attempt_after(attempts, config):
    """When to try a delivery again after its `attempts`-th failure: backoff_seconds doubled at
    each failure, up to max_backoff_seconds. Attempts can be minutes apart, so the store keeps
    them (the next attempt time of a delivery) rather than a retry loop in a worker."""
    backoff = wait_exponential(multiplier=config.backoff_seconds, max=config.max_backoff_seconds)
    failed = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})
    failed.attempt_number = attempts
    return now() + timedelta(seconds=backoff(failed))


def sent(attempts):
    """A delivery's fields once the receiver took it, at its `attempts`th attempt."""
    return {"state": "SENT", "attempts": attempts, "sent_time": now()}


def failed(attempts, config, held=False):
    """A delivery's fields after its `attempts`th attempt failed: dead once out of attempts, else
    tried again after a backoff, or `held` until its webhook is resumed."""
    if attempts >= config.max_attempts:
        state = "DEAD"
    else:
        state = "HELD" if held else "QUEUED"
    return {"state": state, "attempts": attempts, "last_failure_time": now(),
            "next_attempt_time": next_attempt_after(attempts, config)}


def health_after_failure(subscription, config):
    """A subscription's webhook fields after one more failure in a row: paused after too many."""
    failures = subscription.get("webhook_failures", 0) + 1
    paused = failures >= config.pause_after
    return {"webhook_failures": failures, "webhook_state": "WEBHOOK_PAUSED" if paused else "WEBHOOK_ACTIVE"}


def send(url, secret, event):
    """Posts the event signed with the subscription's secret; True when the receiver took it (2xx)."""
    body = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    moment = now()
    signature = Webhook(secret).sign(msg_id=event["id"], timestamp=moment, data=body)
    return delivered(url, body.encode(), {
        "Content-Type": "application/json",
        "webhook-id": event["id"],
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
    })
