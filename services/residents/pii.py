"""National ID numbers and phone numbers: validation, encryption at rest, blind index, masks.

Each value is stored twice, never in clear: Fernet ciphertext (to show it in full to the
few allowed to see it) and an HMAC-SHA256 blind index (to find a resident by the exact
value, and to refuse a second registration of one ID, without decrypting anything).
"""
import base64
import hashlib
import hmac

import phonenumbers
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nameko.extensions import DependencyProvider
from phonenumbers import NumberParseException, PhoneNumberType
from stdnum.cn import ric
from stdnum.exceptions import InvalidComponent
from stdnum.util import isdigits

from services.settings import PiiSettings
from services.validation import latest_local_day

FULL_PII_GRANT = "pii_full"
PII_FIELDS = ("national_id", "phone")
PHONE_RULE = "must be a mainland mobile (11 digits from 13-19) or a landline like 010-12345678"


def check_national_id(value):
    """The 18-character mainland resident ID: 6-digit area, YYYYMMDD birth date, 3-digit
    sequence, ISO 7064 MOD 11-2 check character. Returns it upper-cased.

    Not `ric.validate`: it also refuses area codes missing from python-stdnum's list of
    counties, and the registry takes any area, as it always has (an ID outlives its county)."""
    value = ric.compact(value)
    if len(value) != 18 or not isdigits(value[:17]) or not (isdigits(value[17]) or value[17] == "X"):
        raise ValueError("must be 18 characters: 17 digits and a check digit or X")
    if ric.calc_check_digit(value) != value[17]:
        raise ValueError("check digit does not match")
    birth_date_of_id(value)
    return value


def birth_date_of_id(national_id):
    try:
        born = ric.get_birth_date(national_id)
    except InvalidComponent:
        raise ValueError("carries an impossible birth date") from None
    if born > latest_local_day() or born.year < 1880:
        raise ValueError("carries a birth date that is not a real one (future or before 1880)")
    return born.isoformat()


def with_check_digit(first17):
    """Completes 17 digits into a valid ID (used by seeds, imports' tests and the bench)."""
    return first17 + ric.calc_check_digit(first17 + "?")


def check_phone(value):
    """A number phonenumbers knows as a mainland mobile or landline, kept as written less its
    spaces: the blind index finds a number again only as it was stored, so the written forms
    stay the ones the registry has always taken (see `written_forms`)."""
    written = value.replace(" ", "")
    try:
        number = phonenumbers.parse(written, "CN")
    except NumberParseException:
        raise ValueError(PHONE_RULE) from None
    if written not in written_forms(number):
        raise ValueError(PHONE_RULE)
    return written


def written_forms(number):
    """A mobile's 11 digits; a landline's trunk 0, area code and number, with or without a hyphen
    after the area code. Nothing for a number that is not a valid mainland one."""
    if not phonenumbers.is_valid_number_for_region(number, "CN"):
        return ()
    national = phonenumbers.national_significant_number(number)
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.MOBILE:
        return (national,)
    if kind == PhoneNumberType.FIXED_LINE:
        area = 1 + phonenumbers.length_of_geographical_area_code(number)
        dialled = "0" + national
        return (dialled, f"{dialled[:area]}-{dialled[area:]}")
    return ()


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
        secret = PiiSettings().pii_key
        if not secret:
            raise RuntimeError("set CIVICGRID_PII_KEY: residents' PII cannot be stored without a key")
        return cls(secret)

    def seal(self, value):
        return self.fernet.encrypt(value.encode()).decode()

    def open(self, token):
        """The value sealed in `token`, or None when this key cannot open it (sealed under another
        key: a wrong or rotated CIVICGRID_PII_KEY), so a page shows the others instead of failing."""
        try:
            return self.fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            return None

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
