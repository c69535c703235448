"""National ID numbers and phone numbers: validation, encryption at rest, blind index, masks.

Each value is stored twice, never in clear: Fernet ciphertext (to show it in full to the
few allowed to see it) and an HMAC-SHA256 blind index (to find a resident by the exact
value, and to refuse a second registration of one ID, without decrypting anything).
"""
import base64
import hashlib
import hmac
import os
import re
from datetime import date

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nameko.extensions import DependencyProvider

FULL_PII_GRANT = "pii_full"
PII_FIELDS = ("national_id", "phone")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


def check_national_id(value):
    """The 18-character mainland resident ID: 6-digit area, YYYYMMDD birth date, 3-digit
    sequence, ISO 7064 MOD 11-2 check character. Returns it upper-cased."""
    value = value.upper()
    if not re.fullmatch(r"\d{17}[\dX]", value):
        raise ValueError("must be 18 characters: 17 digits and a check digit or X")
    total = sum(int(digit) * weight for digit, weight in zip(value[:17], ID_WEIGHTS))
    if ID_CHECK_CHARS[total % 11] != value[17]:
        raise ValueError("check digit does not match")
    birth_date_of_id(value)
    return value


def birth_date_of_id(national_id):
    try:
        born = date(int(national_id[6:10]), int(national_id[10:12]), int(national_id[12:14]))
    except ValueError:
        raise ValueError("carries an impossible birth date") from None
    if born > date.today() or born.year < 1880:
        raise ValueError("carries a birth date that is not a real one (future or before 1880)")
    return born.isoformat()


def with_check_digit(first17):
    """Completes 17 digits into a valid ID (used by seeds, imports' tests and the bench)."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, ID_WEIGHTS))
    return first17 + ID_CHECK_CHARS[total % 11]


def check_phone(value):
    compact = value.replace(" ", "")
    if not (MOBILE.match(compact) or LANDLINE.match(compact)):
        raise ValueError("must be a mainland mobile (11 digits from 13-19) or a landline like 010-12345678")
    return compact


def mask(value):
    """Keeps the first 3 and last 4 characters: 110***********1234, 138****5678."""
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


class PiiVault:
    """Encrypts, decrypts and blind-indexes PII with keys derived from one secret."""

    def __init__(self, secret):
        self.fernet = Fernet(base64.urlsafe_b64encode(derive(secret, b"civicgrid-pii-encryption")))
        self.index_key = derive(secret, b"civicgrid-pii-blind-index")

    @classmethod
    def from_environment(cls):
        """CIVICGRID_PII_KEY; `make up` generates one into .run/stack/pii-key for a dev stack."""
        secret = os.environ.get("CIVICGRID_PII_KEY")
        if not secret:
            raise RuntimeError("set CIVICGRID_PII_KEY: residents' PII cannot be stored without a key")
        return cls(secret)

    def seal(self, value):
        return self.fernet.encrypt(value.encode()).decode()

    def open(self, token):
        return self.fernet.decrypt(token.encode()).decode()

    def blind_index(self, tenant, field, value):
        """Keyed per tenant and field: equal values in two tenants do not share an index."""
        message = f"{tenant}\x1f{field}\x1f{value}".encode()
        return hmac.new(self.index_key, message, hashlib.sha256).hexdigest()


def derive(secret, purpose):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret.encode())


class PiiKeys(DependencyProvider):
    """Gives the service its PiiVault, keyed once at start-up."""

    vault = None

    def setup(self):
        self.vault = PiiVault.from_environment()

    def get_dependency(self, worker_ctx):
        return self.vault
