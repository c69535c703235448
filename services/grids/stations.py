"""The rules of service stations, free of storage and RPC: the time zone and opening hours a
station keeps, its duty rota, and who is on duty at a moment in the station's own time zone."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from google.protobuf.timestamp_pb2 import Timestamp

from services.errors import InvalidArgument
from services.grids.schemas import WEEKDAYS
from services.storage import public


def zone_of(name, field="time_zone"):
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidArgument.field(field, f"{name!r} is not an IANA time zone") from None


def check_station(fields, prefix=""):
    """Refuses a time zone or opening hours a station cannot keep; `fields` may hold some only."""
    if "time_zone" in fields:
        zone_of(fields["time_zone"], f"{prefix}time_zone")
    for index, hours in enumerate(fields.get("opening_hours", ())):
        if hours["close"] <= hours["open"]:
            raise InvalidArgument.field(f"{prefix}opening_hours.{index}.close", "must be after open")


def check_duty(command):
    if command.end <= command.start:
        raise InvalidArgument.field("end", "must be after start")


def instant_of(rfc3339):
    """The moment an RFC 3339 timestamp names; now when it is empty."""
    if not rfc3339:
        return datetime.now(timezone.utc)
    moment = Timestamp()
    try:
        moment.FromJsonString(rfc3339)
    except ValueError:
        raise InvalidArgument.field("at", "is not an RFC 3339 timestamp") from None
    return moment.ToDatetime(tzinfo=timezone.utc)


def local_day_and_clock(rfc3339, time_zone):
    """(weekday, "HH:MM") of the moment in the station's time zone."""
    local = instant_of(rfc3339).astimezone(zone_of(time_zone))
    return WEEKDAYS[local.weekday()], local.strftime("%H:%M")


def is_open(opening_hours, weekday, clock):
    """True when `clock` ("HH:MM") falls in one of the weekday's [open, close) ranges."""
    return any(hours["weekday"] == weekday and hours["open"] <= clock < hours["close"] for hours in opening_hours)


def on_duty(station, weekday, clock, duties):
    """The station at that weekday and clock: whether it is open, and who of the day's rota is on duty."""
    return {"station": public(station), "weekday": weekday, "local_time": clock,
            "open": is_open(station["opening_hours"], weekday, clock),
            "on_duty": [public(duty) for duty in duties if duty["start"] <= clock < duty["end"]]}
