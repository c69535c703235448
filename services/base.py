"""What every civicgrid service has: its metrics, tracing, health, the relay that empties the
outbox, and records that follow a node's move."""
import logging

from nameko.timer import timer

from services.events import consume_once
from services.messaging import UNREACHABLE, event_handler, rpc
from services.metrics import RpcMetrics
from services.readiness import MetricsPort
from services.settings import OutboxSettings
from services.tracing import RequestTracing

log = logging.getLogger(__name__)
# The relay only recovers what a crash left behind, and each run scans every record
# collection (FerretDB's SQLite backend uses no secondary index), so it runs rarely.
OUTBOX = OutboxSettings()


class CivicService:
    """Subclasses set `name` and a `store = MongoStore(TheirRepository)`.

    Service modules import this module, not the class, so that `nameko run services.<name>.service`
    finds only the service itself."""

    metrics = RpcMetrics()
    metrics_port = MetricsPort()
    tracing = RequestTracing()

    @rpc
    def ping(self):
        """Health as the gateway sees it: the service consumes and its store answers."""
        return {"service": self.name, "ok": self.store.answers()}

    @timer(interval=OUTBOX.relay_seconds)
    def relay_outbox(self):
        try:
            self.store.relay_outbox()
        except UNREACHABLE as error:
            log.warning("the relay waits for the broker and the store: %s", error)

    @event_handler("grids", "civicgrid.grids.node.moved.v1")
    def follow_node_move(self, event):
        """Records below a moved node (a grid moved, a building or micro-grid split or merged into
        another grid) take its new path, so scope and figures follow the move. They are found by
        the node's id wherever it sits in their paths, whatever its kind; rewriting to the same
        path again changes nothing."""
        data = event["data"]
        consume_once(self.store, self.name, event,
                     lambda _: self.store.rewrite_paths_below(event["tenant"], data["id"], data["path"]))
