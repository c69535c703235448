"""The notifications service."""
from services import base
from services.notifications.store import NotificationsRepository
from services.storage import MongoStore


class NotificationsService(base.CivicService):
    name = "notifications"
    store = MongoStore(NotificationsRepository)
