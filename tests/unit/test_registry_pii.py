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
    ("110105194912310021", "check digit"),
    ("1101051949123100", "18 characters"),
    ("11010519491231002Y", "18 characters"),
    (with_check_digit("11010519490230002"), "impossible birth date"),
    (with_check_digit("11010530000101002"), "not a real one"),
])
def test_bad_ids_are_refused_with_the_reason(value, reason):
    with pytest.raises(ValueError, match=reason):
        check_national_id(value)


def test_phones():
    assert check_phone("138 1234 5678") == "13812345678"
    assert check_phone("010-12345678") == "010-12345678"
    for bad in ("12812345678", "1381234567", "phone"):
        with pytest.raises(ValueError):
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
