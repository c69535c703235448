"""Storage of the tickets service."""
from services.storage import Repository


class TicketsRepository(Repository):
    record_collections = ()
