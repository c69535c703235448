"""National ID and phone rules, masks, and the vault's encryption and blind index."""
import pytest

from services.residents.pii import PiiVault, birth_date_of_id, check_national_id, check_phone, mask, with_check_digit

# A published sample ID with a valid check digit.
SAMPLE_ID = "11010519491231002X"


def test_a_valid_id_passes_and_carries_its_birth_date():
    assert check_national_id(SAMPLE_ID.lower()) == SAMPLE_ID
    assert birth_date_of_id(SAMPLE_ID) == "1949-12-31"
    assert with_check_digit(SAMPLE_ID[:17]) == SAMPLE_ID


@pytest.mark.parametrize("value, reason", [
    ("110105194912310021", "check digit does not match"),
    ("110105194912310029", "check digit does not match"),
    ("1101051949123100", "18 characters"),
    ("11010519491231002Y", "18 characters"),
    ("11010519491231002x0", "18 characters"),
    (with_check_digit("11010519490230002"), "impossible birth date"),
    (with_check_digit("11010519491301002"), "impossible birth date"),
    (with_check_digit("11010530000101002"), "not a real one"),
])
def test_bad_ids_are_refused_with_the_reason(value, reason):
    with pytest.raises(ValueError, match=reason):
        check_national_id(value)


def test_any_area_code_is_taken_as_it_always_was():
    unlisted = with_check_digit("99999919800101001")
    assert check_national_id(unlisted) == unlisted


@pytest.mark.parametrize("written, stored", [
    ("138 1234 5678", "13812345678"),
    ("19912345678", "19912345678"),
    ("010-12345678", "010-12345678"),
    ("01012345678", "01012345678"),
    ("0755-12345678", "0755-12345678"),
    ("0571 8888 8888", "057188888888"),
])
def test_phones_are_kept_as_written_less_spaces(written, stored):
    assert check_phone(written) == stored


@pytest.mark.parametrize("bad", [
    "12812345678", "1381234567", "phone", "12345",
    "14912345678",     # a data-only line, not a phone
    "+8613812345678",  # the registry keeps national forms, which the blind index matches
    "138-12345678",    # a mobile has no area code to set apart
    "0101-2345678",    # the hyphen falls after the area code (010)
    "010-1234567",     # Beijing numbers have 8 digits
    "(010)12345678",
])
def test_phones_that_are_not_mainland_numbers_in_a_taken_form_are_refused(bad):
    with pytest.raises(ValueError, match="mainland mobile"):
        check_phone(bad)


def test_masks_keep_three_and_four():
    assert mask(SAMPLE_ID) == "110***********002X"
    assert mask("13812345678") == "138****5678"


def test_vault_round_trips_and_indexes_per_tenant_and_field():
    vault = PiiVault("a-secret")
    sealed = vault.seal("13812345678")
    assert "13812345678" not in sealed and vault.open(sealed) == "13812345678"
    assert vault.blind_index("t1", "phone", "13812345678") == vault.blind_index("t1", "phone", "13812345678")
    assert vault.blind_index("t1", "phone", "13812345678") != vault.blind_index("t2", "phone", "13812345678")
    assert vault.blind_index("t1", "phone", "x") != vault.blind_index("t1", "national_id", "x")
    assert PiiVault("another-secret").blind_index("t1", "phone", "x") != vault.blind_index("t1", "phone", "x")


def test_the_pii_key_comes_from_its_own_variable_only(monkeypatch):
    monkeypatch.setenv("CIVICGRID_JWT_SECRET", "jwt")
    monkeypatch.setenv("CIVICGRID_PII_KEY", "pii")
    assert PiiVault.from_environment().blind_index("t", "phone", "1") == PiiVault("pii").blind_index("t", "phone", "1")
    monkeypatch.delenv("CIVICGRID_PII_KEY")
    with pytest.raises(RuntimeError, match="CIVICGRID_PII_KEY"):
        PiiVault.from_environment()


def test_a_value_sealed_under_another_key_is_left_out_not_a_failure():
    from services.access import Caller
    from services.residents.disclosure import revealed
    ours, theirs = PiiVault("our-key"), PiiVault("a-rotated-key")
    document = {"_id": "r1", "tenant": "t1", "display_name": "王芳", "tags": [],
                "phone_sealed": theirs.seal("13812345678"), "phone_index": "x",
                "national_id_sealed": ours.seal(SAMPLE_ID), "national_id_index": "y"}
    assert ours.open(document["phone_sealed"]) is None
    staff = Caller(subject="s", tenant="t1", role="community_staff", scope=("*",))
    shown, reads = revealed(staff, document, ours)
    assert "phone" not in shown and shown["national_id"] == mask(SAMPLE_ID) and reads == []
