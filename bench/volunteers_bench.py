"""Ranks 5,000 volunteers for one task the way RankVolunteers does: the indexed candidate query on the
real MongoDB/FerretDB (MONGO_URI), the fairness aggregation, then scoring in Python. Prints timings.

    eval "$(scripts/servers.sh up)" && .venv/bin/python bench/volunteers_bench.py [--volunteers 5000]

On the shared 2-core dev machine FerretDB returns ~3,000 candidates in 2-7 s (decoding documents
is its cost); scoring them in Python takes ~0.2 s.
"""
import argparse
import os
import random
import time
import uuid
from datetime import datetime, timedelta, timezone

from pymongo import MongoClient

from services.volunteers import matching
from services.volunteers.schemas import WEEKDAYS
from services.volunteers.store import VolunteersRepository

TENANT = "bench"
SKILLS = ("first_aid", "calligraphy", "cooking", "patrol", "childcare")


def fake_volunteer(number, rng, grids):
    grid = rng.choice(grids)
    return {"_id": f"v{number:06d}", "tenant": TENANT, "request_id": f"r{number}", "subject": f"s{number}",
            "display_name": f"Volunteer {number}", "path": [*grid, f"b{rng.randrange(10)}"],
            "skills": [{"name": name, "level": rng.randint(1, 5)} for name in rng.sample(SKILLS, 3)],
            "certifications": [{"name": "first_aid", "expires_on": rng.choice(["2020-01-01", "2035-01-01"])}],
            "availability": [{"weekday": rng.choice(WEEKDAYS), "start": "08:00", "end": "12:00"}
                             for _ in range(rng.randint(0, 4))],
            "outbox": []}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--volunteers", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(6)
    client = MongoClient(os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/"), tz_aware=True)
    database_name = f"bench_volunteers_{uuid.uuid4().hex[:8]}"
    repository = VolunteersRepository(client[database_name])
    try:
        repository.ensure_indexes()
        grids = [["city", "street", f"community{c}", f"grid{g}"] for c in range(3) for g in range(10)]
        repository.volunteers.collection.insert_many(
            [fake_volunteer(n, rng, grids) for n in range(args.volunteers)])
        start = datetime(2030, 1, 7, 9, tzinfo=timezone.utc)
        task = {"required_skills": [{"name": "first_aid", "min_level": 3}], "required_certification": "first_aid",
                "start_time": start, "end_time": start + timedelta(hours=3), "path": [*grids[4], "b3"]}
        timings = []
        for _ in range(args.rounds):
            began = time.perf_counter()
            candidates = repository.candidates(TENANT, ["first_aid"])
            queried = time.perf_counter()
            recent = repository.recent_dispatch_counts(TENANT, datetime.now(timezone.utc) - matching.FAIRNESS_WINDOW)
            ranked = matching.rank(task, candidates, recent)
            timings.append((queried - began, time.perf_counter() - queried))
        query_ms = sorted(t[0] for t in timings)[len(timings) // 2] * 1000
        score_ms = sorted(t[1] for t in timings)[len(timings) // 2] * 1000
        print(f"volunteers: {args.volunteers}, candidates with first_aid: {len(candidates)}")
        print(f"median over {args.rounds} rounds: query {query_ms:.0f} ms, fairness + scoring {score_ms:.0f} ms, "
              f"total {query_ms + score_ms:.0f} ms")
        print(f"best: {ranked[0]['display_name']} score {ranked[0]['score']}: {'; '.join(ranked[0]['reasons'])}")
    finally:
        client.drop_database(database_name)


if __name__ == "__main__":
    main()
