"""Gauges ops watch for the ticket backlog, refreshed by the deadline timer."""
from prometheus_client import Gauge

from services.tickets.lifecycle import OPEN_STATES

TICKETS_OPEN = Gauge("civicgrid_tickets_open", "Open tickets by state, over all tenants.", ["state"])
TICKETS_OVERDUE = Gauge("civicgrid_tickets_overdue", "Open tickets whose running clock is past due.")


def update_gauges(open_counts, overdue):
    for state in OPEN_STATES:
        TICKETS_OPEN.labels(state).set(open_counts.get(state, 0))
    TICKETS_OVERDUE.set(overdue)
