"""The tickets service."""
from services import base
from services.tickets.store import TicketsRepository
from services.storage import MongoStore


class TicketsService(base.CivicService):
    name = "tickets"
    store = MongoStore(TicketsRepository)
