"""A tenant set up to report and handle tickets."""
from tests.support.hierarchy import RESIDENTS, build_hierarchy

TICKETS = "civicgrid.tickets.v1.Tickets"
PROMISES = [{"priority": "NORMAL", "first_response_minutes": 60, "resolution_minutes": 240},
            {"priority": "HIGH", "first_response_minutes": 15, "resolution_minutes": 120}]


class Town:
    """A tenant with a hierarchy, a household with an elderly resident living alone, a category,
    an operator, the grid's worker and the resident's own login."""

    def __init__(self, platform, unique, prefix="tk"):
        self.platform = platform
        self.tenant = f"{prefix}-{unique}"
        self.operator = platform.client(tenant=self.tenant, subject="operator-1")
        self.ids = build_hierarchy(self.operator, unique)
        self.household = self.operator.call(f"{RESIDENTS}/CreateHousehold", {
            "flat_id": self.ids["FLAT"], "display_name": "Li family"})
        self.elder = self.operator.call(f"{RESIDENTS}/CreateResident", {
            "household_id": self.household["id"], "display_name": "Grandma Li", "relation": "head",
            "birth_date": "1940-01-01", "gender": "FEMALE", "tags": ["elderly", "living_alone"]})
        self.category = self.operator.call(f"{TICKETS}/CreateCategory", {
            "request_id": f"{unique}-heating", "name": "Heating", "group": "Utilities", "promises": PROMISES,
            "routing": {"assignee_kind": "GRID_WORKER"},
            "extra_fields": [{"name": "room", "type": "STRING", "required": True},
                             {"name": "temperature", "type": "NUMBER"},
                             {"name": "urgent_medical", "type": "BOOLEAN"}]})
        self.worker = platform.client(tenant=self.tenant, role="grid_worker", scope=(self.ids["GRID"],),
                                      subject="worker-1")
        self.other_worker = platform.client(tenant=self.tenant, role="grid_worker", scope=(self.ids["GRID"],),
                                            subject="worker-2")
        self.resident = platform.client(tenant=self.tenant, role="resident", scope=(self.ids["FLAT"],),
                                        subject="resident-li")

    def report(self, client=None, **overrides):
        body = {"kind": "REQUEST", "channel": "SELF_SERVICE", "category_id": self.category["id"],
                "node_id": self.ids["FLAT"], "description": "The radiator is cold",
                "extra": {"room": "bedroom", "temperature": 12}, **overrides}
        return (client or self.resident).call(f"{TICKETS}/CreateTicket", body)

    def tickets(self):
        return self.platform.database("tickets").tickets
