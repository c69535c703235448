"""Faults an operator's bad day brings, on a platform with a broker node and a store process of its
own (tests/private_servers.py): the processes live through them, nothing written is lost or
doubled, events owed are handled once, and callers get UNAVAILABLE within their deadline."""
import time

import pytest

from cli.importer import import_csv
from tests.conftest import SERVICES
from tests.support.hierarchy import GRIDS, build_hierarchy
from tests.support.polling import eventually
from tests.private_servers import CreateLoad, breakable_platform, serving

pytestmark = pytest.mark.integration
PROCESSES = (*SERVICES, "gateway")
CALL_DEADLINE_SECONDS = 5
RECOVERY_SECONDS = 60
HEADER = "building,unit,floor,flat,occupancy,household,name,relation,birth_date,gender,national_id,phone,tags\n"


@pytest.fixture(scope="module")
def breakable(tmp_path_factory):
    with breakable_platform(tmp_path_factory.mktemp("breakable")) as running:
        yield running


def supervised_pids(platform):
    return {name: platform.pid(name) for name in PROCESSES}


def assert_clean_failures(load):
    codes = {code for code, _ in load.attempts}
    assert codes <= {"OK", "UNAVAILABLE", "DEADLINE_EXCEEDED"}, codes
    assert load.hung() == 0, f"calls outlived their {CALL_DEADLINE_SECONDS}s deadline"


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

    with CreateLoad(operator, ids["GRID"], f"{unique}-load", deadline=CALL_DEADLINE_SECONDS) as load:
        time.sleep(1)
        broker.restart()
        assert eventually(lambda: serving(platform), RECOVERY_SECONDS)
        time.sleep(2)

    assert supervised_pids(platform) == before, "a process exited (supervisord restarted it)"
    assert_clean_failures(load)
    assert_stored_once(platform, tenant, load)
    # The bulk publish of an import works on the connections the restart broke, and the events
    # it owes still reach the other services.
    import_people(operator, tmp_path, ids["BUILDING"], 20, "1号楼")
    other = operator.call(f"{GRIDS}/CreateNode", {"request_id": f"{unique}-c2", "kind": "COMMUNITY",
                                                  "display_name": "对面社区", "parent_id": ids["STREET"]})
    operator.call(f"{GRIDS}/MoveNode", {"id": ids["GRID"], "parent_id": other["id"]})
    assert eventually(lambda: moved_count(platform, tenant, other["id"]) == 20, RECOVERY_SECONDS)


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
    assert eventually(lambda: moved_count(platform, tenant, other["id"]) > 0, 30, interval=0.02)
    halfway = moved_count(platform, tenant, other["id"])
    platform.kill("residents")

    assert halfway < people, "the handler finished before the kill; the test proves nothing"
    assert eventually(lambda: platform.pid("residents") not in (None, residents_pid), RECOVERY_SECONDS)
    assert eventually(lambda: moved_count(platform, tenant, other["id"]) == people, RECOVERY_SECONDS)
    # The event's id, from the log notifications keeps of every event (it may still be catching up
    # with the import's): handled once, and marked so.
    moves = platform.database("notifications").event_log
    query = {"type": "civicgrid.grids.node.moved.v1", "event.data.id": ids["GRID"]}
    assert eventually(lambda: moves.count_documents(query) == 1, RECOVERY_SECONDS * 2)
    assert platform.database("residents").processed_events.count_documents({"_id": moves.find_one(query)["_id"]}) == 1


def test_a_stalled_or_killed_store_gives_unavailable_in_time_and_heals(breakable, unique):
    platform, _, store = breakable
    operator = platform.client(tenant=f"store-{unique}")
    ids = build_hierarchy(operator, unique)
    before = supervised_pids(platform)

    with CreateLoad(operator, ids["GRID"], f"{unique}-stall", deadline=CALL_DEADLINE_SECONDS) as load:
        time.sleep(1)
        store.stall()
        try:
            assert eventually(lambda: not serving(platform), RECOVERY_SECONDS)
            time.sleep(CALL_DEADLINE_SECONDS)
        finally:
            store.resume()
        assert eventually(lambda: serving(platform), RECOVERY_SECONDS)
        store.kill()
        assert eventually(lambda: not serving(platform), RECOVERY_SECONDS)
        store.start()
        assert eventually(lambda: serving(platform), RECOVERY_SECONDS)
        time.sleep(2)

    assert supervised_pids(platform) == before
    assert_clean_failures(load)
    assert {code for code, _ in load.attempts} >= {"OK", "UNAVAILABLE"}
    assert_stored_once(platform, f"store-{unique}", load)
