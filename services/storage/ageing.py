"""Forgetting documents by age without a range query.

FerretDB v1 answers `{"time": {"$lt": cutoff}}` by reading every document of the collection: a
timer forgetting an hour of published-event marks, or a week of the event log, that way read all
of it on every round, whatever it deleted. So a document forgotten by age carries the bucket of
the moment it was written (`age_bucket`: whole `bucket_seconds` since the epoch), and forgetting
deletes whole buckets by equality on that indexed field. A document is kept at least
`older_than_seconds`, and at most one bucket longer.

Only the last `LOOKBACK_BUCKETS` buckets are visited each round. What a process down for longer
left behind, or a document from before buckets, goes with a sweep by range (a read of the whole
collection) every `SWEEP_SECONDS`: never at start, where a big collection would hold the process
up past its store's timeout.
"""
import time
from datetime import timedelta

from pymongo import ASCENDING

from services.storage.records import now

AGE_BUCKET = "age_bucket"
LOOKBACK_BUCKETS = 48
SWEEP_SECONDS = 6 * 3600


class AgeBuckets:
    def __init__(self, collection, time_field, bucket_seconds, clock=time.monotonic):
        self.collection, self.time_field, self.bucket_seconds = collection, time_field, bucket_seconds
        self.clock = clock
        self.swept_at = clock()

    def ensure_index(self):
        self.collection.create_index([(AGE_BUCKET, ASCENDING)], name=AGE_BUCKET)

    def stamp(self, moment):
        """The fields a document written at `moment` carries."""
        return {self.time_field: moment, AGE_BUCKET: int(moment.timestamp() // self.bucket_seconds)}

    def forget_older_than(self, seconds):
        """Deletes the buckets wholly older than `seconds`, of the last LOOKBACK_BUCKETS, and
        sweeps when due; returns how many documents went."""
        newest = int((now() - timedelta(seconds=seconds)).timestamp() // self.bucket_seconds) - 1
        deleted = sum(self.collection.delete_many({AGE_BUCKET: bucket}).deleted_count
                      for bucket in range(newest - LOOKBACK_BUCKETS + 1, newest + 1))
        if self.clock() - self.swept_at > SWEEP_SECONDS:
            self.swept_at = self.clock()
            deleted += self.collection.delete_many(
                {self.time_field: {"$lt": now() - timedelta(seconds=seconds)}}).deleted_count
        return deleted
