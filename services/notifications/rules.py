"""What the notifications service decides from data, not code: who an event tells, in which
words, and which fields each kind of partner may not see."""
import string
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CHANNEL_INBOX = "inbox"
LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"

# event type -> the fields of its `data` naming people to tell (a subject, or a list of them).
RECIPIENT_FIELDS = {
    "civicgrid.tickets.ticket.assigned.v1": ("assignee_subject",),
    "civicgrid.tickets.ticket.deadline_approaching.v1": ("assignee_subject",),
    "civicgrid.tickets.ticket.deadline_missed.v1": ("assignee_subject",),
    "civicgrid.tickets.ticket.escalated.v1": ("assignee_subject",),
    "civicgrid.tickets.ticket.resolved.v1": ("reporter_subject", "followers"),
    # A project's milestones tell the residents who raised or followed the suggestion it carries
    # out; its completion resolves the suggestion (ticket.resolved asks the reporter for feedback
    # on it) and asks each of them to rate the project.
    "civicgrid.tickets.project.milestone_updated.v1": ("reporter_subject", "followers"),
    # The publication of a meeting's decision tells each item's reporter and followers (公开).
    "civicgrid.tickets.meeting.decision_published.v1": ("reporter_subject", "followers"),
    "civicgrid.tickets.project.completed.v1": ("reporter_subject", "followers"),
    "civicgrid.volunteers.task.dispatched.v1": ("volunteer_subjects",),
    "civicgrid.volunteers.task.unfilled.v1": ("coordinators",),
    "civicgrid.notifications.webhook.paused.v1": ("contacts",),
    "civicgrid.notifications.webhook.dead_lettered.v1": ("contacts",),
}

# Staff posts that answer for a ticket at each escalation level.
LEVEL_POSTS = {"GRID": ("GRID_LEADER",), "COMMUNITY": ("COMMUNITY_STAFF",), "STREET": ("STREET_STAFF",)}
# event types that also tell the staff of the ticket's level: an approaching or missed deadline
# tells the grid leader (or the level it was escalated to), an escalation the new level's staff.
TELLS_LEVEL_STAFF = frozenset({
    "civicgrid.tickets.ticket.deadline_approaching.v1",
    "civicgrid.tickets.ticket.deadline_missed.v1",
    "civicgrid.tickets.ticket.escalated.v1",
})

# event type -> language -> (title, body); placeholders name fields of the event's data.
TEMPLATES = {
    "civicgrid.tickets.ticket.assigned.v1": {
        "zh-CN": ("新工单指派给您", "「{summary}」（{kind}，{priority}优先级）已指派给您，请及时处理。{note}"),
        "en": ("A ticket was assigned to you", "\"{summary}\" ({kind}, {priority} priority) is yours to handle. {note}"),
    },
    "civicgrid.tickets.ticket.deadline_approaching.v1": {
        "zh-CN": ("工单即将超时", "「{summary}」的{stage}时限为 {due_at}，请尽快处理。"),
        "en": ("A ticket is about to miss its deadline", "\"{summary}\" is due ({stage}) at {due_at}."),
    },
    "civicgrid.tickets.ticket.deadline_missed.v1": {
        "zh-CN": ("工单已超时", "「{summary}」已超过{stage}时限（{due_at}），当前由{level}处理。"),
        "en": ("A ticket missed its deadline",
               "\"{summary}\" missed its {stage} deadline ({due_at}); it is now handled at {level} level."),
    },
    "civicgrid.tickets.ticket.escalated.v1": {
        "zh-CN": ("工单已上报给您", "「{summary}」已上报至{level}，请处理。"),
        "en": ("A ticket was escalated to you", "\"{summary}\" was escalated to {level} level."),
    },
    "civicgrid.tickets.ticket.resolved.v1": {
        "zh-CN": ("您的诉求已办结", "您反映的「{summary}」已办结，请对处理结果进行评价。"),
        "en": ("Your request was resolved", "\"{summary}\" was resolved; please tell us how it went."),
    },
    "civicgrid.tickets.project.milestone_updated.v1": {
        "zh-CN": ("您关注的建议有新进展", "「{title}」的「{milestone_title}」已完成 {progress_percent}%。{note}"),
        "en": ("News of a suggestion you follow",
               "\"{milestone_title}\" of \"{title}\" is {progress_percent}% done. {note}"),
    },
    "civicgrid.tickets.meeting.decision_published.v1": {
        "zh-CN": ("议事会决定已公开", "您提出或关注的「{summary}」经{title}议定：{decision}。{reason}"),
        "en": ("A meeting's decision was published", "{title} decided on \"{summary}\": {decision}. {reason}"),
    },
    "civicgrid.tickets.project.completed.v1": {
        "zh-CN": ("您关注的建议已落实", "「{title}」已完工：{outcome}。欢迎对项目进行评价。"),
        "en": ("A suggestion you follow was carried out",
               "\"{title}\" is completed: {outcome}. Please rate the project."),
    },
    "civicgrid.volunteers.task.dispatched.v1": {
        "zh-CN": ("志愿任务派单", "您被派往志愿任务「{title}」。"),
        "en": ("A volunteer task for you", "You were dispatched to the volunteer task \"{title}\"."),
    },
    "civicgrid.volunteers.task.unfilled.v1": {
        "zh-CN": ("志愿任务人数不足", "志愿任务「{title}」报名截止时仅派出 {people_dispatched} 人，需要 {people_needed} 人。"),
        "en": ("A volunteer task is short of people",
               "The volunteer task \"{title}\" has {people_dispatched} of {people_needed} people."),
    },
    "civicgrid.notifications.webhook.paused.v1": {
        "zh-CN": ("Webhook 已暂停", "发往 {webhook_url} 的推送连续失败 {failures} 次，已暂停；修复后请恢复订阅 {id}。"),
        "en": ("Your webhook was paused", "Deliveries to {webhook_url} failed {failures} times in a row and are "
               "paused; resume subscription {id} once it is fixed."),
    },
    "civicgrid.notifications.webhook.dead_lettered.v1": {
        "zh-CN": ("Webhook 推送失败", "事件 {event_id} 经 {attempts} 次尝试仍未送达 {webhook_url}，可通过事件列表重新读取。"),
        "en": ("A webhook delivery failed", "Event {event_id} did not reach {webhook_url} after {attempts} attempts; "
               "read it again from ListPartnerEvents."),
    },
}

# What no partner gets: notes are free text staff write for staff (a raised priority's note names
# the reporter's tags), and residents' accounts are theirs.
NEVER_TO_PARTNERS = frozenset({"note", "priority_raised_for", "reporter_subject", "reporter_resident_id",
                               "followers", "served_subject"})
# partner kind -> fields removed (at any depth) from an event's data before the partner gets it.
# A property company gets the flat and the problem, never who the person is beyond a name.
REDACTED_FIELDS = {
    "property_company": NEVER_TO_PARTNERS | {"national_id", "phone", "birth_date", "gender", "tags", "relation"},
    "police_post": NEVER_TO_PARTNERS | {"tags"},
    "clinic": NEVER_TO_PARTNERS | {"national_id", "phone"},
    "other": NEVER_TO_PARTNERS | {"national_id", "phone", "birth_date", "gender", "tags", "relation",
                                  "display_name", "description"},
}
# organisation kind in the registry (grids) -> the partner kind its subscriptions are redacted for
PARTNER_KIND_OF_ORGANISATION = {"PROPERTY_COMPANY": "property_company", "POLICE_POST": "police_post",
                                "CLINIC": "clinic"}


def partner_kind(organisation_kind):
    """The partner kind of an organisation of the registry; any other kind of organisation gets
    the strictest redaction."""
    return PARTNER_KIND_OF_ORGANISATION.get(organisation_kind, "other")


def redacted(value, hidden):
    if isinstance(value, dict):
        return {key: redacted(item, hidden) for key, item in value.items() if key not in hidden}
    if isinstance(value, list):
        return [redacted(item, hidden) for item in value]
    return value


def redact_event(event, kind):
    return {**event, "data": redacted(event.get("data") or {}, REDACTED_FIELDS.get(kind, REDACTED_FIELDS["other"]))}


def recipients_of(event):
    """The distinct subjects an event tells, in the order its data names them."""
    data = event.get("data") or {}
    found = []
    for field in RECIPIENT_FIELDS.get(event.get("type"), ()):
        value = data.get(field)
        for subject in (value if isinstance(value, list) else [value]):
            if isinstance(subject, str) and subject and subject not in found:
                found.append(subject)
    return found


def level_posts(event):
    """The staff posts an event must also reach, by the ticket's escalation level."""
    if event.get("type") not in TELLS_LEVEL_STAFF:
        return ()
    return LEVEL_POSTS.get((event.get("data") or {}).get("level"), ())


# The words for the values of enum fields a message shows, by language.
VALUE_NAMES = {
    "zh-CN": {
        "kind": {"REQUEST": "求助", "SUGGESTION": "建议", "DISPUTE": "纠纷", "HAZARD": "隐患"},
        "priority": {"LOW": "低", "NORMAL": "普通", "HIGH": "高", "URGENT": "紧急"},
        "stage": {"FIRST_RESPONSE": "首次响应", "RESOLUTION": "办结"},
        "level": {"GRID": "网格", "COMMUNITY": "社区", "STREET": "街道"},
        "decision": {"ADOPTED": "通过", "REJECTED": "未通过", "REFERRED_UPWARD": "提交上级议事会"},
    },
    "en": {
        "kind": {"REQUEST": "request", "SUGGESTION": "suggestion", "DISPUTE": "dispute", "HAZARD": "hazard"},
        "priority": {"LOW": "low", "NORMAL": "normal", "HIGH": "high", "URGENT": "urgent"},
        "stage": {"FIRST_RESPONSE": "first response", "RESOLUTION": "resolution"},
        "level": {"GRID": "grid", "COMMUNITY": "community", "STREET": "street"},
        "decision": {"ADOPTED": "adopted", "REJECTED": "rejected", "REFERRED_UPWARD": "referred upward"},
    },
}
# Fields holding an RFC 3339 time, shown in the recipient's zone.
TIME_FIELDS = ("due_at",)
DEFAULT_TIME_ZONE = "Asia/Shanghai"
TIME_FORMATS = {"zh-CN": "{month}月{day}日 {clock}", "en": "{day} {month_name} {clock}"}


class _Lenient(dict):
    def __missing__(self, key):
        return ""


def render(event_type, data, language=DEFAULT_LANGUAGE, time_zone=DEFAULT_TIME_ZONE):
    """(title, body) of an event's message, with enum values in words and times in `time_zone`;
    fields the event lacks render empty."""
    texts = TEMPLATES[event_type]
    language = language if language in texts else DEFAULT_LANGUAGE
    title, body = texts[language]
    values = _Lenient({key: shown_value(key, value, language, time_zone)
                       for key, value in data.items() if isinstance(value, (str, int, float))})
    formatter = string.Formatter()
    return formatter.vformat(title, (), values), formatter.vformat(body, (), values)


def shown_value(field, value, language, time_zone):
    if field in TIME_FIELDS and isinstance(value, str):
        return local_time(value, language, time_zone)
    return VALUE_NAMES[language].get(field, {}).get(value, value)


def local_time(rfc3339, language, time_zone):
    try:
        moment = datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).astimezone(ZoneInfo(time_zone))
    except (ValueError, ZoneInfoNotFoundError):
        return rfc3339
    return TIME_FORMATS[language].format(month=moment.month, day=moment.day, month_name=moment.strftime("%B"),
                                         clock=moment.strftime("%H:%M"))


def is_urgent(data):
    return bool(data.get("urgent")) or data.get("priority") == "URGENT"


def event_matches(subscription, event):
    """Same tenant, a subscribed type, the event's path passes through the subscription's scope,
    and what it is about passes the subscription's filters."""
    if event.get("tenant") != subscription["tenant"] or event.get("type") not in subscription["event_types"]:
        return False
    data = event.get("data") or {}
    path = data.get("path") or []
    return (isinstance(path, list) and bool(set(path) & set(subscription["scope_node_ids"]))
            and passes_filters(subscription, data))


def passes_filters(subscription, data):
    """A ticket of a kind and category the subscription names (if it names any), a volunteer task
    asking for one of the skills it names (if any), and routed to the partner's organisation or
    naming it as a party when the subscription keeps to its own."""
    kinds, categories = subscription.get("ticket_kinds") or (), subscription.get("category_ids") or ()
    if (kinds and data.get("kind") not in kinds) or (categories and data.get("category_id") not in categories):
        return False
    skills = subscription.get("skills") or ()
    if skills and set(skills).isdisjoint(data.get("skills") or ()):
        return False
    if not subscription.get("ours_only"):
        return True
    organisation = subscription.get("organisation_id")
    return bool(organisation) and (data.get("assignee_organisation_id") == organisation
                                   or organisation in (data.get("organisation_ids") or ()))
