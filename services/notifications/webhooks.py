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
