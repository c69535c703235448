"""Faults an operator's bad day brings, on a platform with a broker node and a store process of its
own (tests/private_servers.py): the processes live through them, nothing written is lost or
doubled, events owed are handled once, and callers get UNAVAILABLE within their deadline."""
import threading
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cli.importer import import_csv
from tests.conftest import SERVICES, Platform, store_client, wait_for
from tests.integration.test_foundation_slice import GRIDS, build_hierarchy
from tests.private_servers import PrivateBroker, PrivateStore

pytestmark = pytest.mark.integration
PROCESSES = (*SERVICES, "gateway")
CALL_DEADLINE_SECONDS = 5
RECOVERY_SECONDS = 60
HEADER = "building,unit,floor,flat,occupancy,household,name,relation,birth_date,gender,national_id,phone,tags\n"


@pytest.fixture(scope="module")
def breakable(tmp_path_factory):
    broker, store = PrivateBroker(), PrivateStore()
    try:
        running = Platform(tmp_path_factory.mktemp("breakable"), broker.start(), store.start())
        running.env["RABBITMQ_API"] = broker.api
        running.start()
        try:
            yield running, broker, store
        finally:
            running.stop()
            client = store_client(running.mongo_uri)
            for name in client.list_database_names():
                if name.startswith(running.db_prefix):
                    client.drop_database(name)
    finally:
        broker.stop()
        store.stop()


def serving(platform):
    with grpc.insecure_channel(platform.address) as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
            return answer.status == health_pb2.HealthCheckResponse.SERVING
        except grpc.RpcError:
            return False


def supervised_pids(platform):
    return {name: platform.pid(name) for name in PROCESSES}


class CreateLoad:
    """Creates nodes in a thread, each retried by its request_id until it is acknowledged, and
    keeps the code and duration of every attempt."""

    def __init__(self, client, parent_id, prefix):
        self.client, self.parent_id, self.prefix = client, parent_id, prefix
        self.attempts, self.acknowledged = [], []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        count = 0
        while not self.stopped.is_set():
            self.create(f"{self.prefix}-{count}")
            count += 1

    def create(self, request_id):
        give_up = time.monotonic() + RECOVERY_SECONDS * 2
        while time.monotonic() < give_up:
            started = time.monotonic()
            try:
                node = self.client.call(f"{GRIDS}/CreateNode", {
                    "request_id": request_id, "kind": "BUILDING", "display_name": request_id,
                    "parent_id": self.parent_id}, timeout=CALL_DEADLINE_SECONDS)
                self.attempts.append(("OK", time.monotonic() - started))
                self.acknowledged.append((request_id, node["id"]))
                return
            except grpc.RpcError as error:
                self.attempts.append((error.code().name, time.monotonic() - started))
                time.sleep(0.2)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.stopped.set()
        self.thread.join(RECOVERY_SECONDS * 2)


def assert_clean_failures(attempts):
    codes = {code for code, _ in attempts}
    assert codes <= {"OK", "UNAVAILABLE", "DEADLINE_EXCEEDED"}, codes
    slowest = max(seconds for _, seconds in attempts)
    assert slowest < CALL_DEADLINE_SECONDS + 1, f"a call took {slowest:.1f}s with a {CALL_DEADLINE_SECONDS}s deadline"


def assert_stored_once(platform, tenant, load):
    nodes = platform.database("grids").nodes
    for request_id, node_id in load.acknowledged:
        stored = list(nodes.find({"tenant": tenant, "request_id": request_id}, {"_id": 1}))
        assert [node["_id"] for node in stored] == [node_id]


def import_people(client, tmp_path, building_id, count, label):
    rows = "".join(f"{label},1,{1 + n // 40},{n},OWNER_OCCUPIED,{label}-{n // 2},居民{label}{n},"
                   f"{'head' if n % 2 == 0 else 'spouse'},1960-01-01,FEMALE,,,elderly\n" for n in range(count))
    path = tmp_path / f"{label}.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    report = import_csv(client, str(path), {label: building_id}, progress=None)
    assert report["errors"] == []
    return report


def moved_count(platform, tenant, community_id):
    return platform.database("residents").residents.count_documents({"tenant": tenant, "path": community_id})


def test_a_broker_restart_ends_no_process_and_every_call_is_answered_cleanly(breakable, unique, tmp_path):
    platform, broker, _ = breakable
    tenant = f"brk-{unique}"
    operator = platform.client(tenant=tenant)
    ids = build_hierarchy(operator, unique)
    before = supervised_pids(platform)

    with CreateLoad(operator, ids["GRID"], f"{unique}-load") as load:
        time.sleep(1)
        broker.restart()
        assert wait_for(lambda: serving(platform), RECOVERY_SECONDS)
        time.sleep(2)

    assert supervised_pids(platform) == before, "a process exited (supervisord restarted it)"
    assert_clean_failures(load.attempts)
    assert_stored_once(platform, tenant, load)
    # The bulk publish of an import works on the connections the restart broke, and the events
    # it owes still reach the other services.
    import_people(operator, tmp_path, ids["BUILDING"], 20, "1号楼")
    other = operator.call(f"{GRIDS}/CreateNode", {"request_id": f"{unique}-c2", "kind": "COMMUNITY",
                                                  "display_name": "对面社区", "parent_id": ids["STREET"]})
    operator.call(f"{GRIDS}/MoveNode", {"id": ids["GRID"], "parent_id": other["id"]})
    assert wait_for(lambda: moved_count(platform, tenant, other["id"]) == 20, RECOVERY_SECONDS)


def test_a_consumer_killed_mid_handler_still_handles_the_event_once(breakable, unique, tmp_path):
    platform, _, _ = breakable
    tenant = f"kill-{unique}"
    operator = platform.client(tenant=tenant)
    ids = build_hierarchy(operator, unique)
    people = 3000
    import_people(operator, tmp_path, ids["BUILDING"], people, "1号楼")
    other = operator.call(f"{GRIDS}/CreateNode", {"request_id": f"{unique}-c2", "kind": "COMMUNITY",
                                                  "display_name": "对面社区", "parent_id": ids["STREET"]})
    residents_pid = platform.pid("residents")

    operator.call(f"{GRIDS}/MoveNode", {"id": ids["GRID"], "parent_id": other["id"]})
    assert wait_for(lambda: moved_count(platform, tenant, other["id"]) > 0, 30, interval=0.02)
    halfway = moved_count(platform, tenant, other["id"])
    platform.kill("residents")

    assert halfway < people, "the handler finished before the kill; the test proves nothing"
    assert wait_for(lambda: platform.pid("residents") not in (None, residents_pid), RECOVERY_SECONDS)
    assert wait_for(lambda: moved_count(platform, tenant, other["id"]) == people, RECOVERY_SECONDS)
    move = platform.database("notifications").event_log.find_one(
        {"type": "civicgrid.grids.node.moved.v1", "event.data.id": ids["GRID"]})
    assert wait_for(lambda: platform.database("residents").processed_events.count_documents(
        {"_id": move["_id"]}) == 1, RECOVERY_SECONDS)


def test_a_stalled_or_killed_store_gives_unavailable_in_time_and_heals(breakable, unique):
    platform, _, store = breakable
    operator = platform.client(tenant=f"store-{unique}")
    ids = build_hierarchy(operator, unique)
    before = supervised_pids(platform)

    with CreateLoad(operator, ids["GRID"], f"{unique}-stall") as load:
        time.sleep(1)
        store.stall()
        try:
            assert wait_for(lambda: not serving(platform), RECOVERY_SECONDS)
            time.sleep(CALL_DEADLINE_SECONDS)
        finally:
            store.resume()
        assert wait_for(lambda: serving(platform), RECOVERY_SECONDS)
        store.kill()
        assert wait_for(lambda: not serving(platform), RECOVERY_SECONDS)
        store.start()
        assert wait_for(lambda: serving(platform), RECOVERY_SECONDS)
        time.sleep(2)

    assert supervised_pids(platform) == before
    assert_clean_failures(load.attempts)
    assert {code for code, _ in load.attempts} >= {"OK", "UNAVAILABLE"}
    assert_stored_once(platform, f"store-{unique}", load)
