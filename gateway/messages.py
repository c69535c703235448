"""Between request bodies, gRPC messages and the dicts the services take.

Every request is checked here, once, for what no field of any contract may hold, so that no
service has to, and a bad value is refused naming its field instead of failing deep down:
- a body that is not protobuf (grpc would answer it INTERNAL);
- NUL characters in strings (FerretDB's PostgreSQL backend refuses to store or even match them);
- times outside EARLIEST..LATEST (see services/validation.py): a year-9999 time overflows the
  date arithmetic services do on it, and one beyond has no JSON form at all;
- numbers in a google.protobuf.Struct that are not finite (JSON, and so the services, have none).
"""
import math
from datetime import datetime
from functools import lru_cache

from google.protobuf import json_format
from google.protobuf.message import DecodeError

from gateway.errors import Refusal
from services.validation import EARLIEST, LATEST

TIME_RANGE = f"must be a time from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d} (UTC)"
MAX_NANOS = 999_999_999
NO_NUL = "must not contain NUL characters"
TIMESTAMP = "google.protobuf.Timestamp"
STRUCT = "google.protobuf.Struct"


def decoded(request_class, body):
    """The request message in `body`, or INVALID_ARGUMENT when it is not one or holds what no
    request may (see `problems`)."""
    try:
        request = request_class.FromString(body)
    except DecodeError:
        raise Refusal("INVALID_ARGUMENT", f"the request is not a valid {request_class.DESCRIPTOR.full_name} "
                                          "in protobuf encoding") from None
    violations = [{"field": field, "description": description} for field, description in problems(request)]
    if violations:
        raise Refusal("INVALID_ARGUMENT", "; ".join(f"{v['field']}: {v['description']}" for v in violations),
                      violations)
    return request


def as_dict(request, masks):
    """The request as the services take it: proto field names, and each FieldMask (named in
    `masks`) as its list of paths, which the services check against what they can update."""
    paths = {mask: list(getattr(request, mask).paths) for mask in masks}
    for mask in masks:
        # The JSON form of a FieldMask fails on paths that are not snake_case: a client error
        # the services name better.
        request.ClearField(mask)
    return json_format.MessageToDict(request, preserving_proto_field_name=True) | paths


def built(result, message_class):
    """A service's answer as a message: `json_format.ParseDict`, but with each time parsed by
    `datetime.fromisoformat` and set on the built message. Protobuf parses a time by strptime,
    which took a quarter of the gateway's time on a page of 50 tickets."""
    times = []
    _take_times(result, message_class.DESCRIPTOR, (), times)
    message = json_format.ParseDict(result, message_class(), ignore_unknown_fields=True)
    for path, moment in times:
        _field_at(message, path).FromDatetime(moment)
    return message


def _take_times(values, descriptor, path, times):
    """Moves every time in `values` (a message's dict) that fromisoformat reads to `times`, as
    (path in the message, datetime)."""
    times_of, messages_of = _time_and_message_fields(descriptor)
    for key, name in times_of:
        value = values.get(key)
        if isinstance(value, str):
            try:
                times.append(((*path, (name, None)), datetime.fromisoformat(value)))
            except ValueError:
                continue  # left to ParseDict, which names what is wrong with it
            del values[key]
    for key, name, field in messages_of:
        value = values.get(key)
        if isinstance(value, dict):
            _take_times(value, field.message_type, (*path, (name, None)), times)
        elif isinstance(value, list) and field.is_repeated:
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    _take_times(item, field.message_type, (*path, (name, index)), times)


@lru_cache(maxsize=None)
def _time_and_message_fields(descriptor):
    """((key, field name) of each single time field, (key, field name, field) of each field
    holding messages of the contract), under both the names a dict may use for it."""
    times, messages = [], []
    for field in descriptor.fields:
        kind = field.message_type
        if kind is None or kind.GetOptions().map_entry:
            continue
        keys = {field.name, field.json_name}
        if kind.full_name == TIMESTAMP and not field.is_repeated:
            times += [(key, field.name) for key in keys]
        elif not kind.full_name.startswith("google.protobuf."):
            messages += [(key, field.name, field) for key in keys]
    return tuple(times), tuple(messages)


def _field_at(message, path):
    for name, index in path:
        message = getattr(message, name) if index is None else getattr(message, name)[index]
    return message


def problems(message, prefix=""):
    """(field path, description) for every value in `message` no request may carry; paths are
    dotted, with list indexes and map keys, as the services name fields."""
    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            yield from _map_problems(field, value, path)
        elif field.is_repeated:
            for index, item in enumerate(value):
                yield from _value_problems(field, item, f"{path}.{index}")
        else:
            yield from _value_problems(field, value, path)


def _map_problems(field, entries, path):
    value_field = field.message_type.fields_by_name["value"]
    for key, value in entries.items():
        if isinstance(key, str) and "\x00" in key:
            yield path, f"keys {NO_NUL}"
        else:
            yield from _value_problems(value_field, value, f"{path}.{key}")


def _value_problems(field, value, path):
    if isinstance(value, str):
        if "\x00" in value:
            yield path, NO_NUL
    elif field.message_type is not None:
        yield from _message_problems(value, path)


def _message_problems(message, path):
    kind = message.DESCRIPTOR.full_name
    if kind == TIMESTAMP:
        yield from _time_problems(message, path)
    elif kind == STRUCT:
        yield from _struct_problems(message, path)
    else:
        yield from problems(message, f"{path}.")


def _time_problems(timestamp, path):
    if not 0 <= timestamp.nanos <= MAX_NANOS:
        yield path, "is not a valid time: nanos must be from 0 to 999999999"
    elif not EARLIEST.timestamp() <= timestamp.seconds < LATEST.timestamp():
        yield path, TIME_RANGE


def _struct_problems(struct, path):
    for key, value in struct.fields.items():
        if "\x00" in key:
            yield path, f"keys {NO_NUL}"
        else:
            yield from _json_value_problems(value, f"{path}.{key}")


def _json_value_problems(value, path):
    kind = value.WhichOneof("kind")
    if kind == "number_value" and not math.isfinite(value.number_value):
        yield path, "must be a finite number"
    elif kind == "string_value" and "\x00" in value.string_value:
        yield path, NO_NUL
    elif kind == "struct_value":
        yield from _struct_problems(value.struct_value, path)
    elif kind == "list_value":
        for index, item in enumerate(value.list_value.values):
            yield from _json_value_problems(item, f"{path}.{index}")
