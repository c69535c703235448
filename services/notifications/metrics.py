"""Partner delivery figures the ops teams alert on."""
from prometheus_client import Counter, Gauge

PARTNER_DELIVERIES_FAILED = Counter(
    "civicgrid_partner_deliveries_failed", "Failed attempts to deliver an event to a partner.", ["channel"])
PARTNER_DELIVERIES_UNACKNOWLEDGED = Gauge(
    "civicgrid_partner_deliveries_unacknowledged", "Partner webhook deliveries queued or held, not yet accepted.")
