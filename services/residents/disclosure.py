"""What of a resident's PII and tags a caller may set and see, free of storage and RPC: sensitive
tags need their grant to be set, seen or even removed; PII is stored sealed (ciphertext plus blind
index, see `pii`) and shown masked unless the caller is granted it in full; and a national ID
must carry the resident's birth date. `vault` is the service's `PiiVault`."""
import logging

from services.errors import AlreadyExists, InvalidArgument, PermissionDenied
from services.residents.pii import FULL_PII_GRANT, PII_FIELDS, birth_date_of_id, mask
from services.residents.schemas import SENSITIVE_GRANT, SENSITIVE_TAGS
from services.storage import public, timestamp

log = logging.getLogger(__name__)

SEALED_PARTS = ("sealed", "index")


# Sensitive tags

def check_sensitive(caller, tags, field):
    if set(tags) & SENSITIVE_TAGS and not caller.has_grant(SENSITIVE_GRANT):
        raise PermissionDenied(f"{field}: sensitive tags need the {SENSITIVE_GRANT} grant")


def visible_tag_counts(caller, by_tag):
    if caller.has_grant(SENSITIVE_GRANT):
        return by_tag
    return {tag: n for tag, n in by_tag.items() if tag not in SENSITIVE_TAGS}


def with_hidden_tags(caller, stored_tags, tags):
    """A caller who cannot see sensitive tags cannot remove them by omission either."""
    if caller.has_grant(SENSITIVE_GRANT):
        return tags
    return sorted(set(tags) | (set(stored_tags) & SENSITIVE_TAGS))


# PII at rest and on show

def sealed(vault, tenant, values):
    """Stored form of PII: ciphertext plus blind index; nothing for an empty value."""
    stored = {}
    for field, value in values.items():
        if value:
            stored[f"{field}_sealed"] = vault.seal(value)
            stored[f"{field}_index"] = vault.blind_index(tenant, field, value)
    return stored


def sealed_changes(vault, tenant, pii_changes):
    """(fields to set, fields to unset) for changed PII: a value cleared leaves nothing stored."""
    cleared = {f"{field}_{part}": "" for field, value in pii_changes.items() if not value for part in SEALED_PARTS}
    return sealed(vault, tenant, pii_changes), cleared


def revealed(caller, document, vault):
    """(the resident as this caller may see them, [(resident id, field)] of full PII values shown).
    PII is masked unless granted pii_full; each full value shown goes to the audit trail."""
    shown = public(document)
    full = caller.has_grant(FULL_PII_GRANT)
    reads = []
    for field in PII_FIELDS:
        shown.pop(f"{field}_index", None)
        stored = shown.pop(f"{field}_sealed", None)
        if stored:
            value = vault.open(stored)
            if value is None:
                log.error("resident %s: its %s was sealed under another PII key", document["_id"], field)
                continue
            shown[field] = value if full else mask(value)
            if full:
                reads.append((document["_id"], field))
    for move in shown.get("moves", []):
        move["time"] = timestamp(move["time"])
    if not caller.has_grant(SENSITIVE_GRANT):
        shown["tags"] = [tag for tag in shown.get("tags", []) if tag not in SENSITIVE_TAGS]
    return shown, reads


def lookup_of(command):
    """(field, value) of a lookup by exactly one of phone or national ID."""
    given = {field: getattr(command, field) for field in PII_FIELDS if getattr(command, field)}
    if len(given) != 1:
        raise InvalidArgument.field("phone", "give exactly one of phone or national_id")
    (field, value), = given.items()
    return field, value


# National IDs

def consistent_birth_date(national_id, birth_date):
    """The birth date to store: the one given, which must match the ID's, or the ID's."""
    if not national_id:
        if not birth_date:
            raise InvalidArgument.field("birth_date", "is required unless national_id is given")
        return birth_date
    from_id = birth_date_of_id(national_id)
    if birth_date and birth_date != from_id:
        raise InvalidArgument.field("national_id", f"carries birth date {from_id}, but birth_date is {birth_date}")
    return from_id


def check_id_matches_birth_date(resident, changes, vault):
    """An update of the national ID or the birth date keeps the two agreeing; the ID on file is
    opened only when the update leaves it as it is."""
    if "national_id" not in changes and "birth_date" not in changes:
        return
    national_id = changes.get("national_id")
    if national_id is None and resident.get("national_id_sealed"):
        national_id = vault.open(resident["national_id_sealed"])
    birth_date = changes.get("birth_date") or resident["birth_date"]
    if national_id and birth_date_of_id(national_id) != birth_date:
        field = "resident.national_id" if "national_id" in changes else "resident.birth_date"
        raise InvalidArgument.field(field, "the birth date in the national ID and birth_date differ")


def duplicate_national_id(field):
    return AlreadyExists("a resident with this national ID is already registered in this tenant",
                         [{"field": field, "description": "already registered"}])
