#!/usr/bin/env python3
"""GetPollResults of one community-sized poll through the real gateway, notifications service and
FerretDB: latency (p50/p95) of one viewer calling in turn, and calls per second of several viewers
at once, while the poll is open (staff's live results) and once it has closed. An open poll is
counted at most once per `POLLS_LIVE_RESULTS_SECONDS` (5 s) per process: a run's calls mostly find
the kept count, and its slowest call ("max") is about what one count costs.

    .venv/bin/python bench/poll_results_bench.py [--answers 4000] [--calls 40] [--viewers 4]

Starts a private stack (own RabbitMQ vhost and database prefix, as the tests do) on the servers
named by AMQP_URI and MONGO_URI, and removes it after. The poll is created through the gateway;
its N household answers are written straight into the service's `poll_answers` collection, shaped
as AnswerPoll stores them (a few seconds, where N residents answering through the registry would
take minutes), so the figures are the reads alone.
"""
import argparse
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.notifications import polls  # noqa: E402
from services.storage.records import OUTBOX, OUTBOX_PENDING  # noqa: E402
from tests.conftest import private_platform  # noqa: E402
from tests.support.hierarchy import build_hierarchy  # noqa: E402

NOTIFICATIONS = "civicgrid.notifications.v1.Notifications"
TENANT = f"bench-{uuid.uuid4().hex[:8]}"
QUESTIONS = [{"text": "是否同意制定养犬公约？", "kind": "SINGLE_CHOICE",
              "choices": [{"label": "同意"}, {"label": "反对"}, {"label": "弃权"}]},
             {"text": "希望增设哪些设施？", "kind": "MULTIPLE_CHOICE",
              "choices": [{"label": "充电桩"}, {"label": "晾衣架"}, {"label": "长椅"}]}]


def seed_answers(platform, poll, count):
    """`count` household answers to `poll`, as `polls.answer_document` and `Records.create` store them."""
    moment = datetime.now(timezone.utc)
    documents = []
    for number in range(count):
        household = f"bench-household-{number}"
        answer = {"household_id": household, "resident_id": f"bench-resident-{number}"}
        document = polls.answer_document(
            {"_id": poll["id"], "tenant": TENANT, "per": polls.HOUSEHOLD}, answer | {"path": poll["path"]},
            [{"question_id": "q1", "choice_ids": [f"c{number % 3 + 1}"]},
             {"question_id": "q2", "choice_ids": ["c1", "c3"] if number % 2 else ["c2"]}])
        answer_id = document.pop("id")
        documents.append({"_id": answer_id, "tenant": TENANT, "request_id": answer_id, "create_time": moment,
                          "update_time": moment, **document, OUTBOX: [], OUTBOX_PENDING: False})
    answers = platform.database("notifications").poll_answers
    for start in range(0, count, 500):
        answers.insert_many(documents[start:start + 500], ordered=False)


def measure(staff, poll_id, calls, viewers):
    """(latencies of `calls` calls made in turn, calls/s of `viewers` viewers making `calls` calls in all)."""
    def one():
        started = time.perf_counter()
        staff.call(f"{NOTIFICATIONS}/GetPollResults", {"id": poll_id}, timeout=60)
        return time.perf_counter() - started

    latencies = sorted(one() for _ in range(calls))
    started = time.perf_counter()
    with ThreadPoolExecutor(viewers) as pool:
        list(pool.map(lambda _: one(), range(calls)))
    return latencies, calls / (time.perf_counter() - started)


def report(label, latencies, per_second):
    """The slowest call too: while the poll is open, the one that counted its answers."""
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    print(f"  {label:<7} p50 {statistics.median(latencies) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   "
          f"max {latencies[-1] * 1000:7.1f} ms   {per_second:7.1f} calls/s")


def run(platform, count, calls, viewers):
    operator = platform.client(tenant=TENANT)
    ids = build_hierarchy(operator, "bench")
    staff = platform.client(tenant=TENANT, role="community_staff", scope=(ids["COMMUNITY"],), subject="bench-staff")
    closes_at = (datetime.now(timezone.utc) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    poll = staff.call(f"{NOTIFICATIONS}/CreatePoll", {
        "audience": {"node_id": ids["COMMUNITY"]}, "title": "养犬公约征求意见", "questions": QUESTIONS,
        "per": "HOUSEHOLD", "closes_at": closes_at})
    started = time.perf_counter()
    seed_answers(platform, poll | {"path": [ids[k] for k in ("CITY", "STREET", "COMMUNITY")]}, count)
    print(f"poll results bench: {count} household answers seeded into the store in "
          f"{time.perf_counter() - started:.1f}s; {calls} calls in turn, then {calls} by {viewers} viewers at once")

    report("open", *measure(staff, poll["id"], calls, viewers))
    staff.call(f"{NOTIFICATIONS}/ClosePoll", {"id": poll["id"]})
    # The closing is announced, and its results kept, by the service's timer: wait for that.
    stored = platform.database("notifications").polls
    deadline = time.monotonic() + 60
    while stored.find_one({"_id": poll["id"]}).get(polls.UNANNOUNCED) and time.monotonic() < deadline:
        time.sleep(0.2)
    shown = staff.call(f"{NOTIFICATIONS}/GetPollResults", {"id": poll["id"]}, timeout=60)
    assert shown["answer_count"] == count, shown["answer_count"]
    report("closed", *measure(staff, poll["id"], calls, viewers))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answers", type=int, default=4000)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--viewers", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state_dir, private_platform(state_dir) as platform:
        run(platform, args.answers, args.calls, args.viewers)


if __name__ == "__main__":
    main()
