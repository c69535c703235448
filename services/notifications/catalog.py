"""The event contract document partners build against, generated from the registered contracts:
every event type with its source service, version, what it tells and its data fields, what each
field means, and which partner kinds have a field withheld.

    python -m services.notifications.catalog > event-catalog.md
"""
import importlib
import pkgutil
import re

import services
from services.events import CONTRACTS, FIELD_MEANINGS, Envelope
from services.notifications.rules import REDACTED_FIELDS

TYPE_PATTERN = re.compile(r"^civicgrid\.(?P<service>[a-z_]+)\.(?P<name>[a-z_]+\.[a-z_]+)\.v(?P<version>[0-9]+)$")


def load_contracts():
    """Importing every service's events module registers its contracts."""
    for module in pkgutil.walk_packages(services.__path__, "services."):
        if module.name.endswith(".events"):
            importlib.import_module(module.name)
    return CONTRACTS


def json_type(schema):
    if "anyOf" in schema:
        return " | ".join(json_type(option) for option in schema["anyOf"])
    if schema.get("type") == "array":
        return f"array<{json_type(schema.get('items', {}))}>"
    return schema.get("type") or schema.get("$ref", "object").rsplit("/", 1)[-1]


def event_description(model):
    """The contract's own docstring, as one line: an inherited one describes its base, not this
    event, and line breaks are only the source's."""
    return " ".join((model.__dict__.get("__doc__") or "").split())


def field_description(model, name):
    """What the contract says of the field, else what the field's name means in every contract."""
    return model.model_fields[name].description or FIELD_MEANINGS.get(name, "")


def describe(event_type, model):
    parts = TYPE_PATTERN.match(event_type)
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    return {
        "type": event_type,
        "source_service": parts["service"] if parts else "",
        "name": parts["name"] if parts else event_type,
        "version": int(parts["version"]) if parts else 0,
        "description": event_description(model),
        "fields": [{"name": name, "type": json_type(field), "required": name in required,
                    "withheld_from": sorted(kind for kind, hidden in REDACTED_FIELDS.items() if name in hidden),
                    "description": field_description(model, name)}
                   for name, field in schema.get("properties", {}).items()],
    }


def catalog():
    return [describe(event_type, model) for event_type, model in sorted(load_contracts().items())]


def withheld_by_kind():
    """A line per partner kind naming the fields removed from an event's `data`, at any depth,
    before a partner of that kind gets it."""
    return [f"- {kind} never receives: {', '.join(sorted(hidden))}."
            for kind, hidden in sorted(REDACTED_FIELDS.items())]


def markdown(entries):
    lines = ["# civicgrid event catalog", "",
             "Every event is a CloudEvents 1.0 envelope with the attributes "
             f"{', '.join(f'`{name}`' for name in Envelope.model_fields)}; its `data` is described below.",
             "A partner receives only the fields its kind is entitled to; a field is removed at any depth of `data`.",
             "", *withheld_by_kind(), ""]
    for entry in entries:
        lines += [f"## {entry['type']}", "",
                  f"Published by **{entry['source_service']}**, version {entry['version']}.", ""]
        if entry["description"]:
            lines += [entry["description"], ""]
        lines += ["| field | type | required | withheld from | description |", "|---|---|---|---|---|"]
        lines += [f"| {f['name']} | {f['type']} | {'yes' if f['required'] else 'no'} | "
                  f"{', '.join(f['withheld_from']) or '-'} | {f['description']} |" for f in entry["fields"]]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(catalog()))
