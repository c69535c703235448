"""Names the requests carry that a ticket holds only as ids: its category's, its place's and
its organisation's. Each is asked of the gateway as the caller (a caller who may not read a
place or an organisation gets the request without it) and kept a few minutes per credential."""
from cachetools import TTLCache

from door.gateway_client import Refused

KEPT_SECONDS = 300
KEPT_ENTRIES = 10000
# The gateway lists at most this many categories a page.
CATEGORY_PAGE = 500


class Lookups:
    def __init__(self, gateway):
        self.gateway = gateway
        self.kept = TTLCache(maxsize=KEPT_ENTRIES, ttl=KEPT_SECONDS)

    def categories(self, token):
        """Every category the caller reads, in the gateway's order (asked afresh each time: a
        new category is a new service at once)."""
        categories, page_token = [], ""
        while True:
            page = self.gateway.call(token, "tickets", "ListCategories", "ListCategoriesRequest",
                                     page_size=CATEGORY_PAGE, page_token=page_token)
            categories += page["categories"]
            page_token = page["next_page_token"]
            if not page_token:
                return categories

    def address(self, token, ticket):
        """The building's name, with the flat's unit and number when the ticket is at a flat."""
        node_id, building_id = ticket.get("node_id", ""), ticket.get("building_id", "")
        if not node_id:
            return None
        if not building_id or building_id == node_id:
            return self._kept(token, "node", node_id, lambda: self._node_name(token, node_id))
        return self._kept(token, "flat", node_id, lambda: self._flat_address(token, node_id, building_id))

    def agency(self, token, ticket):
        """The organisation the ticket is assigned to, by name where the caller may read it."""
        organisation_id = ticket.get("assignee_organisation_id", "")
        if not organisation_id:
            return None
        return self._kept(token, "organisation", organisation_id,
                          lambda: self._organisation_name(token, organisation_id)) or organisation_id

    def _kept(self, token, kind, record_id, look_up):
        key = (token, kind, record_id)
        if key not in self.kept:
            try:
                self.kept[key] = look_up()
            except Refused as refusal:
                if refusal.status not in (403, 404):
                    raise
                self.kept[key] = None
        return self.kept[key]

    def _node_name(self, token, node_id):
        return self.gateway.call(token, "grids", "GetNode", "GetNodeRequest", id=node_id)["display_name"]

    def _flat_address(self, token, flat_id, building_id):
        flat = self.gateway.call(token, "grids", "GetFlat", "GetFlatRequest", id=flat_id)
        return f"{self._node_name(token, building_id)} {flat['unit']}单元{flat['number']}室"

    def _organisation_name(self, token, organisation_id):
        return self.gateway.call(token, "grids", "GetOrganisation", "GetOrganisationRequest",
                                 id=organisation_id)["display_name"]
