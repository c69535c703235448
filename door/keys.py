"""api_key → credential. The keys file (DOOR_API_KEYS_FILE, JSON or YAML) maps the SHA-256 (hex)
of each api_key to what the door calls with, so that no key is kept in clear:

    <sha256 of the key>: <bearer token>
    <sha256 of another>: {token: <bearer token>, node_id: <grids node>, channel: HOTLINE}

`node_id` is where the key's reports are filed when they give only lat/long (a ticket is filed
at a node of the grids, and keeps the coordinates beside it); `channel` is how its reports came in
(SELF_SERVICE unless said: a citizen app reports for the citizen)."""
import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_CHANNEL = "SELF_SERVICE"


@dataclass(frozen=True)
class Credential:
    token: str
    node_id: str = ""
    channel: str = DEFAULT_CHANNEL


def digest(api_key):
    return hashlib.sha256(api_key.encode()).hexdigest()


def credential_of(entry):
    if isinstance(entry, str):
        return Credential(entry)
    return Credential(entry["token"], entry.get("node_id", ""), entry.get("channel", DEFAULT_CHANNEL))


def parsed(text):
    """The credentials of a keys file's text, by digest (lower-case hex)."""
    entries = yaml.safe_load(text) or {}
    if not isinstance(entries, dict):
        raise ValueError("the api keys file must map SHA-256 digests to tokens")
    return {str(key).lower(): credential_of(entry) for key, entry in entries.items()}


def load(path):
    return parsed(Path(path).read_text()) if path else {}


def lookup(credentials, api_key):
    """The credential of `api_key`, or None."""
    return credentials.get(digest(api_key))
