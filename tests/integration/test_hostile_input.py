"""Generated hostile requests across every unary method the gateway routes: whatever a client
sends, it gets an answer or a clear refusal, never INTERNAL, UNKNOWN or a blown deadline.

Each request is a plausible one (real ids of a small town) with one field made hostile, or every
field hostile, or nothing set at all; a few bodies are not protobuf at all. The generator is
seeded, so a failure reproduces with the same requests."""
import random
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor

from gateway.routes import discover_routes, snake_case
from tests.support.town import Town

pytestmark = pytest.mark.integration
SEED = 20240611
REQUESTS_PER_METHOD = 27
RAW_BODIES_PER_METHOD = 1
CONCURRENCY = 8
DEADLINE_SECONDS = 10
# Codes that mean the platform, not the request, is at fault.
FORBIDDEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED,
             grpc.StatusCode.UNAVAILABLE}
VOLUNTEERS = "civicgrid.volunteers.v1.Volunteers"
TICKETS = "civicgrid.tickets.v1.Tickets"
NOTIFICATIONS = "civicgrid.notifications.v1.Notifications"

TIMESTAMP = "google.protobuf.Timestamp"
FIELD_MASK = "google.protobuf.FieldMask"
STRUCT = "google.protobuf.Struct"
WELL_KNOWN = (TIMESTAMP, FIELD_MASK, STRUCT)
INT32_TYPES = (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32)
INT64_TYPES = (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64)
FLOAT_TYPES = (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT)

HOSTILE_STRINGS = [
    "\x00", "flat\x00301", "\x00" * 64, "x" * 100_000, "界" * 34_000, "🏙️👨‍👩‍👧‍👦🚒", "🔥" * 5_000,
    "\ufeff\u202e\u200b", "\uffff\U0010ffff\ufffe", "e\u0301\u0301\u0301", "\u0085\u2028\u2029",
    "\x7f\x1b[31m", "", " ", "\t\n\r", "$gt", '{"$ne": null}', "$where", "a.b", "_id", "../../etc/passwd",
    "'; DROP TABLE flats; --", "%s%n%x", "<script>alert(1)</script>", "-1", "9" * 40, "NaN", "null",
    "0001-01-01", "9999-12-31", "1899-12-31", "1900-01-01", "2199-12-31", "2024-02-30", "9999-12-31T23:59:59Z",
    "24:00", "99:99",
]
HOSTILE_INT32 = [-1, -(2 ** 31), 2 ** 31 - 1, 10 ** 9]
HOSTILE_INT64 = [-1, -(2 ** 63), 2 ** 63 - 1, 10 ** 15]
# A photo's bytes that are no photo, a bare magic number, and nothing.
HOSTILE_BYTES = [b"", b"\x00" * 64, b"GIF89a\x01\x00", b"\xff\xd8\xff", b"RIFF\x00\x00\x00\x00WEBP" + b"\xff" * 32]
PLAUSIBLE_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
HOSTILE_FLOATS = [float("nan"), float("inf"), float("-inf"), 1e308, -1e308, -0.0, 5e-324]
HOSTILE_ENUMS = [99, -1, 2 ** 31 - 1, 0]
YEAR_1 = -62135596800
YEAR_9999 = 253402300799
# Beyond any range, outside the accepted 1900..2200, and its very edges.
HOSTILE_TIMES = [(YEAR_1, 0), (YEAR_9999, 999_999_999), (YEAR_9999 + 1, 0), (2 ** 62, 0), (-(2 ** 62), 0),
                 (0, -1), (0, 10 ** 9), (-2208988801, 0), (7258118400, 0), (-2208988800, 0), (7258118399, 999_999_999)]
HOSTILE_MASK_PATHS = [["Abc"], ["\x00"], ["$set"], ["_id"], ["tenant"], ["path"], ["outbox"], ["a..b"], [""],
                      ["display_name", "display_name"], [f"field_{n}" for n in range(500)]]
HOSTILE_STRUCTS = [{"$set": {"tenant": "other"}}, {"a.b": 1}, {"\x00": 1}, {"room": "\x00"},
                   {"temperature": float("nan")}, {"temperature": float("inf")}, {"room": None},
                   {"temperature": 1e308}, {"room": ["kitchen"] * 1000}, {"room": "x" * 100_000}, {"k" * 100_000: 1},
                   {"": ""}]
RAW_BODIES = [b"\xff", b"\xff" * 64, b"\x0a\xff\xff\xff\xff\x0f", b"\x0a\x05ab", b"\x0a\x02\xc3\x28",
              b"\x0a\x03\xed\xa0\x80", b"\x08\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", b"\x0b", b"\x0c",
              b"\x0a\x80\x80\x80\x80\x10", b"\x0a\x00" * 20 + b"\x0a"]


def deep_struct(depth):
    value = "bottom"
    for _ in range(depth):
        value = {"room": value}
    return value


HOSTILE_STRUCTS.append(deep_struct(120))


def is_map(field):
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def leaf_paths(descriptor, depth=0):
    """Every field a hostile value can go in, as paths of field descriptors; well-known types,
    maps and (past a few levels) messages are leaves."""
    paths = []
    for field in descriptor.fields:
        message = field.message_type
        if message is None or is_map(field) or message.full_name in WELL_KNOWN or depth >= 3:
            paths.append((field,))
        else:
            paths += [(field, *rest) for rest in leaf_paths(message, depth + 1)]
    return paths


def dotted(path):
    return ".".join(field.name for field in path)


class Generator:
    """Fills request messages with plausible values (real ids of the town) or hostile ones."""

    def __init__(self, rng, ids, now):
        self.rng = rng
        self.ids = ids
        self.now = now

    def plausible_request(self, message_class):
        message = message_class()
        for field in message.DESCRIPTOR.fields:
            if self.rng.random() < 0.8:
                self.fill(message, field, hostile=False)
        return message

    def hostile_request(self, message_class):
        message = message_class()
        for field in message.DESCRIPTOR.fields:
            self.fill(message, field, hostile=True)
        return message

    def with_hostile_leaf(self, message_class, path):
        """A plausible request with the field at `path` hostile; returns it and the value put there."""
        message = self.plausible_request(message_class)
        parent = message
        for field in path[:-1]:
            holder = getattr(parent, field.name)
            parent = (holder[0] if len(holder) else holder.add()) if field.is_repeated else holder
        parent.ClearField(path[-1].name)
        value = self.fill(parent, path[-1], hostile=True)
        if len(path) > 1:
            self._mask_only(message, path[1].name)
        return message, value

    @staticmethod
    def _mask_only(message, field_name):
        """An update's mask names the hostile field, so that the service takes it."""
        for field in message.DESCRIPTOR.fields:
            if field.message_type is not None and field.message_type.full_name == FIELD_MASK:
                mask = getattr(message, field.name)
                mask.Clear()
                mask.paths.append(field_name)

    def fill(self, message, field, hostile, depth=0):
        """Sets `field` of `message`; returns what was put there, for the failure report."""
        if is_map(field):
            return self._fill_map(getattr(message, field.name), field, hostile)
        if field.is_repeated:
            return self._fill_repeated(message, field, hostile, depth)
        if field.message_type is not None:
            return self._fill_message(getattr(message, field.name), hostile, depth)
        value = self.scalar(field, hostile)
        setattr(message, field.name, value)
        return value

    def _fill_repeated(self, message, field, hostile, depth):
        items = getattr(message, field.name)
        if field.message_type is not None:
            count = self.rng.choice([1, 2, 3]) if hostile else 1
            return [self._fill_message(items.add(), hostile, depth) for _ in range(count)]
        value = self.scalar(field, hostile)
        values = [value] * self.rng.choice([1, 2, 5_000]) if hostile and len(str(value)) < 40 else [value]
        items.extend(values)
        return f"{len(values)} × {value!r}"

    def _fill_map(self, entries, field, hostile):
        key = self.rng.choice(HOSTILE_STRINGS[:12]) if hostile else "elderly"
        value_field = field.message_type.fields_by_name["value"]
        if value_field.message_type is None:
            entries[key] = self.scalar(value_field, hostile)
        else:
            self._fill_message(entries[key], hostile, 0)
        return {key: "…"}

    def _fill_message(self, message, hostile, depth):
        kind = message.DESCRIPTOR.full_name
        if kind == TIMESTAMP:
            seconds, nanos = self.rng.choice(HOSTILE_TIMES) if hostile else self._soon()
            message.seconds, message.nanos = seconds, nanos
            return (seconds, nanos)
        if kind == FIELD_MASK:
            paths = self.rng.choice(HOSTILE_MASK_PATHS) if hostile else ["display_name"]
            message.paths.extend(paths)
            return paths[:3]
        if kind == STRUCT:
            value = self.rng.choice(HOSTILE_STRUCTS) if hostile else {"room": "kitchen", "temperature": 20}
            message.update(value)
            return str(value)[:80]
        if depth >= 3:
            return {}
        for subfield in message.DESCRIPTOR.fields:
            if hostile or self.rng.random() < 0.8:
                self.fill(message, subfield, hostile, depth + 1)
        return "{…}"

    def _soon(self):
        moment = self.now + timedelta(days=self.rng.randint(-30, 30))
        return int(moment.timestamp()), 0

    def scalar(self, field, hostile):
        kind = field.type
        if kind == FieldDescriptor.TYPE_STRING:
            return self.hostile_string() if hostile else self.plausible_string(field)
        if kind == FieldDescriptor.TYPE_BOOL:
            return self.rng.random() < 0.5
        if kind == FieldDescriptor.TYPE_ENUM:
            values = [value.number for value in field.enum_type.values if value.number]
            return self.rng.choice(HOSTILE_ENUMS) if hostile else self.rng.choice(values or [0])
        if kind in INT32_TYPES:
            return self.rng.choice(HOSTILE_INT32) if hostile else self.rng.randint(1, 5)
        if kind in INT64_TYPES:
            return self.rng.choice(HOSTILE_INT64) if hostile else self.rng.randint(1, 5)
        if kind in FLOAT_TYPES:
            return self.rng.choice(HOSTILE_FLOATS) if hostile else self.rng.uniform(30.0, 40.0)
        if kind == FieldDescriptor.TYPE_BYTES:
            return self.rng.choice(HOSTILE_BYTES) if hostile else PLAUSIBLE_PNG
        raise AssertionError(f"no values for {field.full_name} of type {kind}")

    def plausible_id(self, field):
        """An id of the kind the field names (`flat_id`, a Flat's `id`, GetFlatRequest's `id`)."""
        owner = snake_case(field.containing_type.name.removesuffix("Request"))
        noun = owner if field.name == "id" else field.name
        fitting = [ids for kind, ids in self.ids.items() if kind in noun]
        return self.rng.choice(self.rng.choice(fitting) if fitting else sum(self.ids.values(), []))

    def hostile_string(self):
        roll = self.rng.random()
        if roll < 0.15:
            return f"{self.rng.getrandbits(128):032x}"
        if roll < 0.25:
            return "".join(chr(self.rng.choice([self.rng.randrange(1, 0xD800), self.rng.randrange(0xE000, 0x110000)]))
                           for _ in range(self.rng.randint(1, 40)))
        return self.rng.choice(HOSTILE_STRINGS)

    def plausible_string(self, field):
        name = field.name
        if name == "id" or name.endswith(("_id", "_ids")):
            return self.plausible_id(field)
        if name == "request_id":
            return f"{self.rng.getrandbits(64):016x}"
        if name == "page_token":
            return ""
        if "date" in name or name == "expires_on":
            return "2020-02-03"
        if name in ("start", "end", "open", "close", "quiet_start", "quiet_end"):
            return self.rng.choice(["09:00", "17:30"])
        return PLAUSIBLE_STRINGS.get(name, self.rng.choice(["Hostile test", "kitchen", "elderly", "tester"]))


PLAUSIBLE_STRINGS = {
    "time_zone": "Asia/Shanghai", "phone": "13800138000", "sms_phone": "13800138000", "email": "a@example.com",
    "webhook_url": "https://example.com/hook", "tags": "elderly", "language": "en",
    "event_types": "civicgrid.grids.node.created.v1", "relation": "head", "subject": "tester",
}


def town_ids(town):
    """The town's ids by kind, so that plausible requests get past their lookups."""
    operator = town.operator
    ticket = town.report(operator)
    volunteer = operator.call(f"{VOLUNTEERS}/CreateVolunteer", {
        "subject": "tester", "display_name": "Hostile Helper", "home_node_id": town.ids["GRID"]})
    start = datetime.now(timezone.utc) + timedelta(days=2)
    task = operator.call(f"{VOLUNTEERS}/CreateTask", {
        "title": "Hostile clinic", "node_id": town.ids["GRID"], "start_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end_time": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"), "people_needed": 2})
    meeting, project = deliberated(town)
    poll = operator.call(f"{NOTIFICATIONS}/CreatePoll", {
        "audience": {"node_id": town.ids["BUILDING"]}, "title": "Hostile poll", "per": "HOUSEHOLD",
        "closes_at": (start + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "questions": [{"text": "Yes?", "kind": "SINGLE_CHOICE", "choices": [{"label": "yes"}, {"label": "no"}]}]})
    nodes = list(town.ids.values())
    return {"node": nodes, "parent": nodes, "grid": [town.ids["GRID"]], "building": [town.ids["BUILDING"]],
            "flat": [town.ids["FLAT"]], "household": [town.household["id"]], "resident": [town.elder["id"]],
            "category": [town.category["id"]], "ticket": [ticket["id"]], "volunteer": [volunteer["id"]],
            "task": [task["id"]], "meeting": [meeting["id"]], "project": [project["id"]],
            "poll": [poll["id"]]}


def deliberated(town):
    """A meeting past the publication of its decision, and the project of the suggestion it adopted."""
    operator = town.operator
    suggestion = town.report(operator, kind="SUGGESTION", channel="HOTLINE", description="More benches")
    meeting = operator.call(f"{TICKETS}/CreateMeeting", {
        "node_id": town.ids["GRID"], "title": "Hostile meeting", "held_at": "2026-03-01T01:00:00Z"})
    operator.call(f"{TICKETS}/AddAgendaItem", {"id": meeting["id"], "ticket_id": suggestion["id"]})
    for _ in range(2):
        operator.call(f"{TICKETS}/AdvanceMeeting", {"id": meeting["id"]})
    operator.call(f"{TICKETS}/DecideAgendaItem", {"id": meeting["id"], "ticket_id": suggestion["id"],
                                                  "decision": "ADOPTED"})
    for _ in range(2):
        meeting = operator.call(f"{TICKETS}/AdvanceMeeting", {"id": meeting["id"]})
    project = operator.call(f"{TICKETS}/CreateProject", {
        "meeting_id": meeting["id"], "ticket_id": suggestion["id"], "title": "Benches", "milestone_titles": ["Buy"]})
    return meeting, project


class Case:
    def __init__(self, route, role, body, field, value):
        self.route, self.role, self.body, self.field, self.value = route, role, body, field, value

    def __str__(self):
        return (f"{self.route.full_name} as {self.role}, {self.field} = {str(self.value)[:80]!r} "
                f"({len(self.body)} bytes)")


def cases(rng, generator, routes):
    """REQUESTS_PER_METHOD generated requests and RAW_BODIES_PER_METHOD raw bodies per method."""
    made = []
    for route in routes:
        paths = leaf_paths(route.request_class.DESCRIPTOR)
        for n in range(REQUESTS_PER_METHOD):
            role = pick_role(rng, route)
            if n == 0:
                made.append(Case(route, role, b"", "(empty request)", ""))
            elif n == 1 or not paths:
                made.append(Case(route, role, generator.hostile_request(route.request_class).SerializeToString(),
                                 "(every field)", "hostile"))
            else:
                path = paths[(n - 2) % len(paths)] if n - 2 < len(paths) else rng.choice(paths)
                message, value = generator.with_hostile_leaf(route.request_class, path)
                made.append(Case(route, role, message.SerializeToString(), dotted(path), value))
        for _ in range(RAW_BODIES_PER_METHOD):
            body = rng.choice(RAW_BODIES + [rng.randbytes(rng.randint(1, 64))])
            made.append(Case(route, pick_role(rng, route), body, "(raw body)", body))
    rng.shuffle(made)
    return made


def pick_role(rng, route):
    others = sorted(route.roles - {"city_operator"})
    return rng.choice(others) if others and rng.random() < 0.2 else "city_operator"


def tokens(platform, town):
    ids = town.ids
    claims = {
        "city_operator": dict(scope=("*",), grants=("sensitive_tags", "pii_full")),
        "community_staff": dict(scope=(ids["COMMUNITY"],)),
        "grid_worker": dict(scope=(ids["GRID"],)),
        "volunteer": dict(scope=()),
        "resident": dict(scope=(ids["FLAT"],)),
        "partner": dict(scope=(ids["COMMUNITY"],), grants=("org:clinic-of-the-hostile-town",)),
    }
    return {role: platform.token(role=role, tenant=town.tenant, subject="tester", **more)
            for role, more in claims.items()}


def send(channel, bearer, case):
    call = channel.unary_unary(case.route.full_name, request_serializer=None, response_deserializer=None)
    try:
        call(case.body, timeout=DEADLINE_SECONDS, metadata=(("authorization", f"Bearer {bearer[case.role]}"),))
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as error:
        return error.code(), error.details()


def test_no_hostile_request_is_answered_internal_unknown_or_late(platform, unique):
    town = Town(platform, unique, prefix="hostile")
    routes = sorted(discover_routes(), key=lambda route: route.full_name)
    rng = random.Random(SEED)
    generated = cases(rng, Generator(rng, town_ids(town), datetime.now(timezone.utc)), routes)
    bearer = tokens(platform, town)
    with grpc.insecure_channel(platform.address) as channel, ThreadPoolExecutor(CONCURRENCY) as pool:
        answers = list(pool.map(lambda case: send(channel, bearer, case), generated))

    codes = Counter(code.name for code, _ in answers)
    print(f"\n{len(generated)} hostile requests over {len(routes)} methods: {dict(codes)}")
    failures = [f"{code.name}: {case} → {details[:200]}"
                for case, (code, details) in zip(generated, answers) if code in FORBIDDEN]
    assert routes, "the contracts route no method"
    assert not failures, f"{len(failures)} requests answered badly:\n" + "\n".join(sorted(failures))


def test_hostile_cases_are_reproducible():
    routes = sorted(discover_routes(), key=lambda route: route.full_name)[:5]
    ids = {"node": [uuid.UUID(int=n).hex for n in range(3)]}

    def bodies():
        rng = random.Random(SEED)
        generator = Generator(rng, ids, datetime(2030, 1, 1, tzinfo=timezone.utc))
        return [case.body for case in cases(rng, generator, routes)]
    assert bodies() == bodies()
