"""Storage of the notifications service."""
from services.storage import Repository


class NotificationsRepository(Repository):
    record_collections = ()
