"""The floor of this machine: what one store read and one bare broker round trip cost, with no
service, gateway or Nameko in between, under the same concurrency as the calls compared to them.

- store: pymongo `find_one` by `_id` on the platform's own store;
- broker: a request and its reply through RabbitMQ with kombu, answered by a tiny echo consumer
  in a process of its own (as a service is).
"""
import multiprocessing
import statistics
import threading
import time
import uuid

from kombu import Connection, Queue
from pymongo import MongoClient


def measure_threads(make_call, total, concurrency):
    """Runs `total` calls over `concurrency` threads, each with its own `make_call()`; returns
    rps, p50 and p99 latency in ms and errors."""
    latencies, errors = [], []

    def worker(count):
        call = make_call()
        try:
            for _ in range(count):
                started = time.perf_counter()
                try:
                    call()
                    latencies.append((time.perf_counter() - started) * 1000)
                except Exception as error:  # counted and reported, as ghz does
                    errors.append(error)
        finally:
            getattr(call, "close", lambda: None)()

    shares = [total // concurrency + (n < total % concurrency) for n in range(concurrency)]
    threads = [threading.Thread(target=worker, args=(share,)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return summary(latencies, len(errors), elapsed)


def summary(latencies, errors, elapsed):
    ordered = sorted(latencies) or [float("nan")]
    return {"rps": len(latencies) / elapsed, "p50_ms": statistics.median(ordered),
            "p99_ms": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], "errors": errors}


def store_floor(mongo_uri, database, collection, record_id, total, concurrency):
    client = MongoClient(mongo_uri, maxPoolSize=concurrency)
    records = client[database][collection]
    try:
        return measure_threads(lambda: lambda: records.find_one({"_id": record_id}), total, concurrency)
    finally:
        client.close()


def broker_floor(amqp_uri, total, concurrency):
    queue_name = f"speed-bench-echo-{uuid.uuid4().hex[:8]}"
    ready = multiprocessing.Event()
    echo = multiprocessing.Process(target=serve_echo, args=(amqp_uri, queue_name, ready), daemon=True)
    echo.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("the echo consumer did not start")
        return measure_threads(lambda: EchoClient(amqp_uri, queue_name), total, concurrency)
    finally:
        echo.terminate()
        echo.join(10)


def serve_echo(amqp_uri, queue_name, ready):
    with Connection(amqp_uri) as connection:
        producer = connection.Producer()

        def reply(body, message):
            producer.publish(body, exchange="", routing_key=message.properties["reply_to"],
                             correlation_id=message.properties["correlation_id"])
            message.ack()

        with connection.Consumer(Queue(queue_name, auto_delete=True), callbacks=[reply], accept=["json"]):
            ready.set()
            while True:
                connection.drain_events()


class EchoClient:
    """One caller: its own connection and exclusive reply queue, as a Nameko RPC client has."""

    def __init__(self, amqp_uri, queue_name):
        self.queue_name = queue_name
        self.connection = Connection(amqp_uri)
        self.replies = Queue(f"{queue_name}-reply-{uuid.uuid4().hex[:8]}", exclusive=True, auto_delete=True)
        self.producer = self.connection.Producer(serializer="json")
        self.consumer = self.connection.Consumer(self.replies, callbacks=[self.take], accept=["json"])
        self.consumer.consume()
        self.answer = None

    def take(self, body, message):
        self.answer = body
        message.ack()

    def __call__(self):
        self.answer = None
        self.producer.publish({"ping": 1}, exchange="", routing_key=self.queue_name,
                              reply_to=self.replies.name, correlation_id=uuid.uuid4().hex)
        while self.answer is None:
            self.connection.drain_events(timeout=10)
        return self.answer

    def close(self):
        self.connection.release()
