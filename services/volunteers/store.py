"""Storage of the volunteers service."""
from services.storage import Repository


class VolunteersRepository(Repository):
    record_collections = ()
