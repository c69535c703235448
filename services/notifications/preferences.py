"""How a person wants to be told: language, SMS and its quiet hours. Free of storage and RPC."""
from services.errors import InvalidArgument
from services.notifications import schemas
from services.storage import timestamp
from services.validation import parse, update_paths


def view(stored):
    """Stored preferences with the defaults for what was never set."""
    shown = {key: stored.get(key, default) for key, default in schemas.PREFERENCE_DEFAULTS.items()}
    if stored.get("update_time"):
        shown["update_time"] = timestamp(stored["update_time"])
    return shown


def changes_of(command):
    """The preferences an update sets: those named in its mask (or, with no mask, every one it
    carries), a masked preference left out going back to its default."""
    paths = update_paths(command.update_mask, command.preferences, set(schemas.PreferenceChanges.model_fields))
    try:
        changes = parse(schemas.PreferenceChanges, {
            path: command.preferences.get(path, schemas.PREFERENCE_DEFAULTS[path]) for path in paths})
    except InvalidArgument as exc:
        violations = [{**v, "field": f"preferences.{v['field']}"} for v in exc.violations]
        raise InvalidArgument("; ".join(f"{v['field']}: {v['description']}" for v in violations),
                              violations) from None
    return changes.model_dump(exclude_unset=True)


def refuse_inconsistent(shown):
    """Refuses preferences (as `view` shows them) that could not be followed."""
    if shown["sms_enabled"] and not shown["sms_phone"]:
        raise InvalidArgument.field("preferences.sms_phone", "is required when sms_enabled")
    if bool(shown["quiet_start"]) != bool(shown["quiet_end"]):
        raise InvalidArgument.field("preferences.quiet_end", "quiet hours need both a start and an end")
