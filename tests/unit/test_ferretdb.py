"""FerretDB's errors read as MongoDB's."""
import pytest
from pymongo.errors import DuplicateKeyError, OperationFailure

from services.ferretdb import duplicate_keys_reported

UNIQUE_VIOLATION = ('[msg_findandmodify.go:196 handler.(*Handler).findAndModifyDocument] ERROR: duplicate key value '
                    'violates unique constraint "flats_a49267cb_addr_40d75f72_idx" (SQLSTATE 23505)')


def test_a_unique_index_broken_by_an_update_is_a_duplicate_key_error():
    with pytest.raises(DuplicateKeyError) as raised:
        with duplicate_keys_reported():
            raise OperationFailure(UNIQUE_VIOLATION, 1, {"ok": 0.0, "errmsg": UNIQUE_VIOLATION, "code": 1})
    assert raised.value.code == 11000


@pytest.mark.parametrize("failure", [
    OperationFailure("ERROR: unsupported Unicode escape sequence (SQLSTATE 22P05)", 1),
    DuplicateKeyError("E11000 duplicate key error", 11000),
])
def test_other_failures_pass_unchanged(failure):
    with pytest.raises(OperationFailure) as raised:
        with duplicate_keys_reported():
            raise failure
    assert raised.value is failure
