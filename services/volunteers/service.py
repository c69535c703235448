"""The volunteers service."""
from services import base
from services.volunteers.store import VolunteersRepository
from services.storage import MongoStore


class VolunteersService(base.CivicService):
    name = "volunteers"
    store = MongoStore(VolunteersRepository)
