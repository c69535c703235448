"""`MongoStore`: the Nameko dependency that hands a service its repository and, once a worker has
succeeded, publishes the events of everything the worker wrote."""
import logging

from nameko.extensions import DependencyProvider
from pymongo import MongoClient

from services.outbox import OutboxDispatcher
from services.settings import StoreSettings
from services.storage.records import WorkerWrites

log = logging.getLogger(__name__)

# No call waits on the store longer than its operation timeout: a stalled store becomes
# UNAVAILABLE within the gateway's default 10 s deadline rather than a hang. One operation (an
# import batch of 500 rows, a city's figures) takes well under it here. The pool size caps the
# operations one service process has in flight; more wait for a connection. FerretDB v1 hangs
# once more arrive at once than its PostgreSQL pool holds (scripts/lib/postgres.sh).
STORE = StoreSettings()


class MongoStore(DependencyProvider):
    """Hands each worker the service's repository, bound to the service's own database, and
    publishes what the worker wrote once it has succeeded: handlers never publish. A worker that
    failed leaves its events to the relay, as does a broker that does not take them.
    `worker_result` is the hook; an RPC's entrypoint calls `publish_written` before its reply."""

    def __init__(self, repository_class):
        self.repository_class = repository_class
        self.outbox = None
        self.client = None
        self.repository = None
        self.bound = {}

    def bind(self, container, attr_name):
        """Binds the store's own event publisher with it: Nameko sets up, starts and stops it as a
        sub-extension (it cannot be one on the prototype, as a dependency provider needs a name)."""
        bound = super().bind(container, attr_name)
        bound.outbox = OutboxDispatcher().bind(container, f"{attr_name}_outbox")
        return bound

    def setup(self):
        config = self.container.config
        self.client = MongoClient(
            config["MONGO_URI"], tz_aware=True, serverSelectionTimeoutMS=STORE.connect_timeout_ms,
            connectTimeoutMS=STORE.connect_timeout_ms, socketTimeoutMS=STORE.operation_timeout_ms,
            waitQueueTimeoutMS=STORE.operation_timeout_ms, maxPoolSize=STORE.max_pool_size)
        database = self.client[f"{config.get('DB_PREFIX') or 'civicgrid_'}{self.container.service_name}"]
        self.repository = self.repository_class(database)
        self.repository.ensure_indexes()

    def stop(self):
        if self.client is not None:
            self.client.close()

    def get_dependency(self, worker_ctx):
        writes = WorkerWrites(self.outbox.outbox_publisher(worker_ctx))
        self.bound[worker_ctx] = bound = self.repository.for_worker(writes)
        return bound

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        if exc_info is None:
            self.publish_written(worker_ctx)
        else:
            self.bound.pop(worker_ctx, None)

    def publish_written(self, worker_ctx):
        """Publishes, once, what the worker wrote (an RPC's entrypoint does it before its reply)."""
        repository = self.bound.pop(worker_ctx, None)
        if repository is None:
            return
        try:
            repository.writes.outbox.publish_written(repository)
        except Exception:  # noqa: BLE001 - a worker's result must never stop the container
            log.exception("events of %s left to the relay", worker_ctx.entrypoint.method_name)
