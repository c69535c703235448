"""Photos sent with a report: what their bytes are, and how big they may be. Free of storage and RPC."""
import base64
import binascii
import hashlib

PHOTO_BYTES = 2 * 1024 * 1024
REPORT_PHOTO_BYTES = 3 * 1024 * 1024
PHOTOS_PER_REPORT = 3
# Base64 takes four characters for every three bytes.
PHOTO_BASE64_CHARACTERS = (PHOTO_BYTES + 2) // 3 * 4
CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp")


def decoded(data):
    """The bytes of a photo as the gateway sends them (base64), or ValueError saying what is wrong."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be the photo's bytes") from None
    if len(raw) > PHOTO_BYTES:
        raise ValueError(f"a photo may be at most {PHOTO_BYTES // (1024 * 1024)} MB")
    return raw


def content_type_of(raw):
    """What the bytes themselves say the photo is: a declared type is never taken on trust."""
    if raw.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if raw.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "image/webp"
    return None


def photo_id(tenant, request_id, index):
    """The same photo of the same request gets the same id, so a repeated request stores nothing new."""
    return hashlib.sha256(f"{tenant}\0{request_id}\0{index}".encode()).hexdigest()[:32]


def content_photo_id(tenant, holder_id, raw):
    """The same bytes sent again for the same project get the same id, so nothing is stored twice."""
    return hashlib.sha256(f"{tenant}\0{holder_id}\0".encode() + hashlib.sha256(raw).digest()).hexdigest()[:32]


def reference(photo):
    """How a ticket names a photo it holds."""
    return {"id": photo["_id"], "content_type": photo["content_type"], "size": photo["size"]}
