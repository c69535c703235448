"""Reference data another service owns, remembered in this process: the nodes and flats of the
grids service, which nearly every call that places a record reads (a ticket's building, a
volunteer's home node) and which rarely change.

Only what places a record is remembered: a node's id, kind, name, parent and path; a flat's id,
building, address and path. Never occupancy, never anything of residents. Scope is still checked
on every call, by this caller against the remembered path (`Caller.reaches`, the check the grids
service makes); a remembered record out of the caller's scope is read from grids again, so a
refusal is grids' own, word for word.

How stale a remembered record may be. Every process hears grids' node and flat events on a queue
of its own (a broadcast: every replica hears each event) and forgets, on each, every record whose
path holds the changed node or flat: the node itself, and what lies below a node that moved
(node.moved) or went (node.deleted). Grids publishes those events as the changing call returns,
after the records below a moved node carry their new path, so in normal operation a record is
stale for the milliseconds the event takes to arrive. A read that was under way when an event
arrived is not remembered, since it may have read the record as it was before. Events published
while this process was cut off from the broker never reach its queue, so it forgets everything
whenever it (re)connects. What remains (an event lost some other way) is bounded by the
time-to-live, REFERENCE_TTL_SECONDS, 60 s unless configured: no record is served from memory
longer than that after it was read from grids.
"""
import copy
import logging
import time
import uuid
from collections import OrderedDict

from kombu import Queue, binding
from nameko.messaging import QueueConsumer
from nameko.standalone.events import get_event_exchange

from services.errors import NotFound
from services.grids.events import FlatDeleted, FlatUpdated, NodeDeleted, NodeMoved, NodeUpdated
from services.messaging import RpcProxy
from services.settings import ReferenceSettings

log = logging.getLogger(__name__)
REFERENCE = ReferenceSettings()
NODE_FIELDS = ("id", "kind", "display_name", "parent_id", "path")
FLAT_FIELDS = ("id", "building_id", "unit", "floor", "number", "path")
# Each changes a record's place or name, or removes it; a record created is read when first asked for.
FORGETTING_EVENTS = tuple(contract.event_type for contract in (NodeUpdated, NodeMoved, NodeDeleted,
                                                                 FlatUpdated, FlatDeleted))


class ReferenceMemory:
    """(tenant, record id) -> (kind of record, record): the least recently used go beyond
    `max_entries`, and every record goes `ttl_seconds` after it was remembered.

    Green threads share it; none of its methods yields, so each runs whole."""

    def __init__(self, max_entries, ttl_seconds, clock=time.monotonic):
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self.entries = OrderedDict()
        # Counts what was forgotten: a read that saw it change was under way during an event.
        self.forgettings = 0

    def recall(self, tenant, record_id):
        """(kind, record), or None when not remembered or remembered too long ago."""
        key = (tenant, record_id)
        found = self.entries.get(key)
        if found is None:
            return None
        remembered_at, kind, record = found
        if self.clock() - remembered_at > self.ttl_seconds:
            del self.entries[key]
            return None
        self.entries.move_to_end(key)
        return kind, record

    def remember(self, tenant, record_id, kind, record, read_since=None):
        """Remembers a record; one read while events may change it comes with `read_since`, the
        `forgettings` count as the read began, and is not remembered if anything was forgotten
        meanwhile."""
        if read_since is not None and read_since != self.forgettings:
            return
        key = (tenant, record_id)
        self.entries[key] = (self.clock(), kind, record)
        self.entries.move_to_end(key)
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)

    def forget_holding(self, tenant, record_id):
        """Forgets every record of the tenant whose path holds `record_id`: the record itself and
        whatever lies below it."""
        self.forgettings += 1
        for key in [key for key, (_, _, record) in self.entries.items()
                    if key[0] == tenant and record_id in record["path"]]:
            del self.entries[key]

    def forget_all(self):
        self.forgettings += 1
        self.entries.clear()


class BroadcastConsumer(QueueConsumer):
    """Consumes the per-process queues of reference memories on a connection of its own, and
    empties their memories whenever it (re)connects: the queues are exclusive to that connection,
    so the events published while it was down are lost to them."""

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        for provider in self._providers:
            provider.memory.forget_all()
        super().on_consume_ready(connection, channel, consumers, **kwargs)


class GridsReference(RpcProxy):
    """The grids service's nodes and flats, read through this process's memory of them
    (see the module's docstring for how fresh they are). A Nameko dependency: the service holds
    `grids = GridsReference()` and its workers get a `GridPlaces`."""

    broadcast_consumer = BroadcastConsumer()

    def __init__(self):
        super().__init__("grids")
        self.memory = None
        self.queue = None

    def setup(self):
        super().setup()
        self.memory = ReferenceMemory(REFERENCE.max_entries, REFERENCE.ttl_seconds)
        exchange = get_event_exchange("grids", self.container.config)
        self.queue = Queue(f"reference-grids--{self.container.service_name}-{uuid.uuid4().hex}",
                           bindings=[binding(exchange, routing_key=event_type) for event_type in FORGETTING_EVENTS],
                           exclusive=True, auto_delete=True, durable=False)
        self.broadcast_consumer.register_provider(self)

    def stop(self):
        self.broadcast_consumer.unregister_provider(self)
        super().stop()

    def handle_message(self, event, message):
        try:
            self.memory.forget_holding(event["tenant"], event["data"]["id"])
        except (KeyError, TypeError):
            log.warning("an event on %s carried no tenant and id; everything is forgotten", self.queue.name)
            self.memory.forget_all()
        self.broadcast_consumer.ack_message(message)

    def get_dependency(self, worker_ctx):
        return GridPlaces(self.memory, super().get_dependency(worker_ctx))


class GridPlaces:
    """One worker's reads of nodes and flats: from memory when remembered and in the caller's
    scope, else from the grids service (which checks scope and refuses as it always does)."""

    def __init__(self, memory, grids):
        self.memory = memory
        self.grids = grids

    def node(self, caller, node_id):
        """The node's id, kind, display_name, parent_id and path; NotFound as grids' GetNode."""
        remembered = self._recalled(caller, node_id)
        if remembered and remembered[0] == "node":
            return remembered[1]
        return self._read(caller, node_id, "node", self.grids.get_node, NODE_FIELDS)

    def station(self, caller, station_id):
        """A service station, read from grids each time: a meeting names one once, when convened."""
        return self.grids.get_station(caller.model_dump(), {"id": station_id})

    def place(self, caller, place_id):
        """A flat, or else a node, as {id, path, building_id}: the flat's building, the node itself
        if it is a building, else "". NotFound as grids' GetNode when it is neither."""
        remembered = self._recalled(caller, place_id)
        if remembered is None:
            try:
                remembered = "flat", self._read(caller, place_id, "flat", self.grids.get_flat, FLAT_FIELDS)
            except NotFound:
                remembered = "node", self._read(caller, place_id, "node", self.grids.get_node, NODE_FIELDS)
        kind, record = remembered
        if kind == "flat":
            building_id = record["building_id"]
        else:
            building_id = record["id"] if record["kind"] == "BUILDING" else ""
        return {"id": record["id"], "path": record["path"], "building_id": building_id}

    def _recalled(self, caller, record_id):
        remembered = self.memory.recall(caller.tenant, record_id)
        if remembered is None or not caller.reaches(remembered[1]["path"]):
            return None
        return remembered[0], copy.deepcopy(remembered[1])

    def _read(self, caller, record_id, kind, rpc, fields):
        read_since = self.memory.forgettings
        found = rpc(caller.model_dump(), {"id": record_id})
        record = {field: found[field] for field in fields}
        self.memory.remember(caller.tenant, record_id, kind, record, read_since)
        return copy.deepcopy(record)
