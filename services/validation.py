"""Turns request dicts into schema objects, or InvalidArgument naming every field at fault."""
import re
from datetime import date, datetime, timedelta, timezone

from google.protobuf.field_mask_pb2 import FieldMask
from pydantic import BaseModel, ConfigDict, ValidationError

from services.errors import InvalidArgument

# The times a request may name: nothing a city records lies outside them, and date arithmetic
# within them stays clear of datetime's limits (years 1 and 9999). The gateway holds every
# google.protobuf.Timestamp to them; schemas hold dates to them with `calendar_day`.
EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)


class Schema(BaseModel):
    """Base for request schemas: unknown keys are refused and strings are never coerced,
    so `{"$gt": ""}` where a string belongs is an error, not a query operator."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


def latest_local_day(now=None):
    """The latest calendar day it is anywhere (UTC+14). Dates come as the caller's local day and
    the services do not know the tenant's zone, so a day counts as begun once it has begun
    somewhere: a visit made at 07:00 in Shanghai is still "yesterday" in UTC."""
    return ((now or datetime.now(timezone.utc)) + timedelta(hours=14)).date()


def calendar_day(value):
    """The date in `value` (YYYY-MM-DD), if from EARLIEST to before LATEST; for validators."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date as YYYY-MM-DD") from None
    if not EARLIEST.date() <= day < LATEST.date():
        raise ValueError(f"must be a date from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d}")
    return day


def moment(value):
    """google.protobuf.Timestamp in its JSON form, as the gateway passes it; becomes a datetime."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an RFC 3339 timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def field_path(location):
    """`a.b.0.c` from a pydantic error location, leaving out the names pydantic gives to
    union members and validators (`constrained-str`, `literal['']`...)."""
    parts = [str(part) for part in location if isinstance(part, int) or FIELD_NAME.match(str(part))]
    return ".".join(parts) or "request"


def parse(schema, data):
    try:
        return schema.model_validate(data if data is not None else {})
    except ValidationError as exc:
        violations = []
        for error in exc.errors():
            field = (".".join(map(str, error["loc"])) if error["type"] == "extra_forbidden"
                     else field_path(error["loc"]))
            violation = {"field": field, "description": error["msg"]}
            if violation["field"] not in {v["field"] for v in violations}:
                violations.append(violation)
        summary = "; ".join(f"{v['field']}: {v['description']}" for v in violations)
        raise InvalidArgument(summary, violations) from None


def masked_changes(schema, resource, update_mask, resource_field):
    """The fields an Update call changes: those named in `update_mask` (or, with no mask,
    every updatable field the client set), validated by `schema`.

    Returns (resource id, {field: new value}).
    """
    resource = resource or {}
    resource_id = resource.get("id")
    if not isinstance(resource_id, str) or not resource_id:
        raise InvalidArgument.field(f"{resource_field}.id", "is required")
    paths = update_paths(update_mask, resource, set(schema.model_fields))
    try:
        changes = parse(schema, {path: resource.get(path, _default_of(schema, path)) for path in paths})
    except InvalidArgument as exc:
        violations = [{**v, "field": f"{resource_field}.{v['field']}"} for v in exc.violations]
        raise InvalidArgument("; ".join(f"{v['field']}: {v['description']}" for v in violations),
                              violations) from None
    return resource_id, changes.model_dump(include=set(paths))


def update_paths(update_mask, resource, updatable):
    """The fields an Update call names, in FieldMask's canonical form (each once, sorted, none
    under another): the mask's paths or, with no mask, every updatable field the client set.

    Checked here against the schema, not at the gateway against the resource's descriptor
    (`FieldMask.IsValidForDescriptor`): not every field of a resource may be updated, and only
    the service knows which. Masks are field-level, as services replace whole fields, so each
    path must be an updatable field's name."""
    named = FieldMask(paths=list(update_mask) or [key for key in resource if key in updatable])
    canonical = FieldMask()
    canonical.CanonicalFormFromMask(named)
    unknown = [path for path in canonical.paths if path not in updatable]
    if unknown:
        raise InvalidArgument.field(
            "update_mask", f"cannot update {', '.join(unknown)}; updatable: {', '.join(sorted(updatable))}")
    if not canonical.paths:
        raise InvalidArgument.field("update_mask", "names no field to update")
    return list(canonical.paths)


def _default_of(schema, path):
    """Proto3 leaves zero values out of the JSON form; a masked field that is absent was cleared."""
    annotation = str(schema.model_fields[path].annotation)
    if "list" in annotation:
        return []
    if "int" in annotation:
        return 0
    return ""
