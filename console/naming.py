"""Names instead of ids: categories, places and flats as people know them, remembered a few
minutes per tenant so that a queue page does not ask the gateway fifty times for the same building."""
from cachetools import TTLCache

from console.gateway_client import Refused
from console.tree import each

NAMES_KEPT = 20_000
NAMES_KEPT_SECONDS = 300
FLATS_PAGE = 500
ORGANISATIONS_PAGE = 100
_remembered = TTLCache(maxsize=NAMES_KEPT, ttl=NAMES_KEPT_SECONDS)


class Names:
    """Looks names up as the signed-in person: what they may not read stays unnamed."""

    def __init__(self, gateway, token, tenant):
        self.gateway, self.token, self.tenant = gateway, token, tenant
        self._categories_refreshed = False

    def _remembered(self, kind, key, look_up):
        cache_key = (self.tenant, kind, key)
        if cache_key not in _remembered:
            try:
                _remembered[cache_key] = look_up()
            except Refused:
                return ""
        return _remembered[cache_key]

    def node(self, node_id):
        if not node_id:
            return ""
        return self._remembered("node", node_id, lambda: self.gateway.call(
            self.token, "grids", "GetNode", "GetNodeRequest", id=node_id)["display_name"])

    def flats_of(self, building_id):
        """{flat id: "unit-number"} of a building, from one call for all its flats."""
        def look_up():
            labels, token = {}, None
            while token != "":
                answer = self.gateway.call(self.token, "grids", "ListFlats", "ListFlatsRequest", building_id=building_id,
                                           page_size=FLATS_PAGE, page_token=token or "")
                labels |= {flat["id"]: f"{flat['unit']}-{flat['number']}" if flat.get("unit") else flat["number"]
                           for flat in answer["flats"]}
                token = answer["next_page_token"]
            return labels
        return self._remembered("flats", building_id, look_up) or {}

    def address(self, building_id, flat_id):
        """ "3号楼 2-502": the building's name and the flat's unit and number."""
        return f"{self.node(building_id)} {self.flats_of(building_id).get(flat_id, '')}".strip()

    def flat_address(self, flat_id):
        """The address of a flat known only by its id."""
        building_id = self._remembered("flat-building", flat_id, lambda: self.gateway.call(
            self.token, "grids", "GetFlat", "GetFlatRequest", id=flat_id)["building_id"])
        return self.address(building_id, flat_id) if building_id else ""

    def learn_buildings(self, building_ids):
        """Looks up the names and flats of these buildings at once, before a page names them one by one."""
        each(lambda building_id: (self.node(building_id), self.flats_of(building_id)), sorted(set(building_ids)))

    def category(self, category_id):
        """A category's name; one created since the names were remembered is looked up again, once
        a page (a Names is made per request), so that a new category is not nameless for minutes."""
        if not category_id:
            return ""
        known = self._categories()
        if category_id not in known and not self._categories_refreshed:
            self._categories_refreshed = True
            _remembered.pop((self.tenant, "categories", ""), None)
            known = self._categories()
        return known.get(category_id, "")

    def _categories(self):
        def look_up():
            answer = self.gateway.call(self.token, "tickets", "ListCategories", "ListCategoriesRequest",
                                       page_size=500)
            return {category["id"]: category["name"] for category in answer["categories"]}
        return self._remembered("categories", "", look_up) or {}

    def place(self, ticket):
        """Building and flat, or the node a ticket is about: "3号楼 2-502", "第1网格"."""
        building_id, node_id = ticket.get("building_id"), ticket.get("node_id")
        if building_id and node_id and node_id != building_id:
            return self.address(building_id, node_id)
        return self.node(node_id)

    def organisations_along(self, path):
        """{id: name} of the organisations attached at the nodes of a path that the person may read:
        the parties a ticket there may take in."""
        return merged_along(path, lambda node_id: self._organisations(node_id, below=False))

    def stations_along(self, path):
        """{id: name} of the service stations at the nodes of a path: where a meeting there is held."""
        return merged_along(path, lambda node_id: self._remembered("stations", node_id, lambda: {
            station["id"]: station["display_name"] for station in self.gateway.call(
                self.token, "grids", "ListStations", "ListStationsRequest", node_id=node_id,
                page_size=ORGANISATIONS_PAGE)["stations"]}) or {})

    def organisations_below(self, node_id):
        """{id: name} of the organisations at a node and below it: whose queues staff there watch."""
        return self._organisations(node_id, below=True)

    def _organisations(self, node_id, below):
        return self._remembered(("organisations", below), node_id, lambda: {
            organisation["id"]: organisation["display_name"] for organisation in self.gateway.call(
                self.token, "grids", "ListOrganisations", "ListOrganisationsRequest", node_id=node_id,
                include_descendants=below, page_size=ORGANISATIONS_PAGE)["organisations"]}) or {}

    def path(self, path):
        """Breadcrumbs: (id, name) of each node on a path the person may read."""
        return [(node_id, name) for node_id in path if (name := self.node(node_id))]

    def people_along(self, path):
        """{login subject: name} of the holders of the posts at the nodes of a path and below its
        last node: who convenes, decides and answers for a meeting or a project there."""
        return merged_along(path, lambda node_id: self._holders(node_id, below=node_id == path[-1]))

    def _holders(self, node_id, below):
        def look_up():
            answer = self.gateway.call(self.token, "grids", "ListPosts", "ListPostsRequest", node_id=node_id,
                                       include_descendants=below, page_size=500)
            return {post["holder"]["subject"]: post["holder"]["display_name"] for post in answer["posts"]
                    if post.get("holder", {}).get("subject") and post["holder"].get("display_name")}
        return self._remembered(("holders", below), node_id, look_up) or {}


def merged_along(path, named_at):
    """One {id: name} of what `named_at(node_id)` names at every node of a path, asked at once."""
    return {key: name for named in each(named_at, path) for key, name in named.items()}
