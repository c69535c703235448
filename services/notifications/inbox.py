"""What lands in a person's inbox: a message per event that tells them, per notice that reaches
them and per poll of theirs that opens or publishes its results, in their language, and a text
beside it for those who asked for SMS. Free of storage and RPC."""
import hashlib

from services.notifications import rules
from services.notifications.polls import HOUSEHOLD, RESIDENT
from services.storage import now, timestamp

# Whose answers a poll counts, as a results message names them: households or people.
ANSWERING_UNIT = {HOUSEHOLD: "户", RESIDENT: "人"}


def message_id(origin, recipient, channel):
    """Deterministic, so a redelivered event or a repeated notice writes the same message again."""
    return hashlib.sha256(f"{origin}\0{recipient}\0{channel}".encode()).hexdigest()[:32]


def event_messages(event, recipients, preferences):
    """A message to each recipient of `event`, in the language their `preferences` (by recipient) name."""
    data = event.get("data") or {}
    messages = []
    for recipient in recipients:
        chosen = preferences.get(recipient, {})
        title, body = rules.render(event["type"], data, chosen.get("language", rules.DEFAULT_LANGUAGE),
                                   chosen.get("time_zone") or rules.DEFAULT_TIME_ZONE)
        messages.append({
            "_id": message_id(event["id"], recipient, rules.CHANNEL_INBOX), "tenant": event["tenant"],
            "recipient": recipient, "channel": rules.CHANNEL_INBOX, "origin": event["id"],
            "event_id": event["id"], "event_type": event["type"], "title": title, "body": body,
            "urgent": rules.is_urgent(data), "create_time": now()})
    return messages


def notice_message(tenant, notice, recipient):
    origin = f"notice:{notice['_id']}"
    return {"_id": message_id(origin, recipient, rules.CHANNEL_INBOX), "tenant": tenant,
            "recipient": recipient, "channel": rules.CHANNEL_INBOX, "origin": origin,
            "notice_id": notice["_id"], "title": notice["title"], "body": notice["body"],
            "urgent": notice["urgent"], "create_time": now()}


def poll_opened_message(poll, event, recipient):
    """Tells a resident that a poll addressed to them is open, in zh-CN (a poll is written in the
    language of its audience, as a notice is); the closing time is in the tenant's zone."""
    closes = rules.local_time(timestamp(poll["closes_at"]), rules.DEFAULT_LANGUAGE, rules.DEFAULT_TIME_ZONE)
    return _poll_message(poll, "opened", event, recipient, f"问卷调查：{poll['title']}",
                         f"{poll['description'] or poll['title']}（请于{closes}前作答）")


def poll_results_message(poll, event, leading, recipient):
    """Tells a resident that the results of a poll they were asked are published, with how many
    answered and the `leading` choice (polls.leading_choice) when there is one to name: counts,
    which every resident asked may read in the results, never who chose what."""
    answered = f"共{event['data']['answer_count']}{ANSWERING_UNIT[poll['per']]}作答"
    headline = f"，「{leading['label']}」得票最多（{leading['count']}票）" if leading else ""
    return _poll_message(poll, "results", event, recipient, f"问卷结果：{poll['title']}",
                         f"问卷已结束，{answered}{headline}。结果已公布，欢迎查看。")


def _poll_message(poll, kind, event, recipient, title, body):
    """A message of the poll's opening or closing `event`. Its id is a content id of (poll,
    `kind`, recipient), not of the event, so however often and by whichever replica it is
    written, a resident has one message of each kind."""
    origin = f"poll:{poll['_id']}:{kind}"
    return {"_id": message_id(origin, recipient, rules.CHANNEL_INBOX), "tenant": poll["tenant"],
            "recipient": recipient, "channel": rules.CHANNEL_INBOX, "origin": origin, "poll_id": poll["_id"],
            "event_id": event["id"], "event_type": event["type"], "title": title, "body": body,
            "urgent": False, "create_time": now()}


def texts_wanted(messages, preferences):
    """(message, phone) for each message whose recipient turned SMS on and gave a phone."""
    wanted = [(message, preferences.get(message["recipient"], {})) for message in messages]
    return [(message, chosen["sms_phone"]) for message, chosen in wanted
            if chosen.get("sms_enabled") and chosen.get("sms_phone")]
