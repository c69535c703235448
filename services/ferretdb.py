"""What FerretDB reports unlike MongoDB, turned into what MongoDB reports, so that the services'
handling of MongoDB errors holds on both."""
from contextlib import contextmanager

from pymongo.errors import DuplicateKeyError, OperationFailure

# FerretDB v1 on PostgreSQL reports a unique index that an update would break as error 1
# (InternalError) with PostgreSQL's unique_violation state, where MongoDB reports E11000.
UNIQUE_VIOLATION = "(SQLSTATE 23505)"
DUPLICATE_KEY = 11000


@contextmanager
def duplicate_keys_reported():
    """Raises DuplicateKeyError for a unique index violation, however the server reported it."""
    try:
        yield
    except OperationFailure as failure:
        if failure.code == DUPLICATE_KEY or UNIQUE_VIOLATION not in str(failure):
            raise
        raise DuplicateKeyError(str(failure), DUPLICATE_KEY, failure.details) from failure
