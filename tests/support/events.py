"""Watching the events services publish."""
import json

from kombu import Connection, Exchange, Producer, Queue

from tests.support.polling import eventually


class EventTap:
    """A private queue bound to every event the given services publish. Delivery is at least
    once (a relayed event keeps its id), so the tap keeps each event id once."""

    def __init__(self, amqp_uri, services):
        self.connection = Connection(amqp_uri)
        self.queue = Queue(exclusive=True, auto_delete=True, bindings=[], channel=self.connection.channel())
        self.queue.declare()
        for service in services:
            exchange = Exchange(f"{service}.events", type="topic", durable=True, channel=self.connection)
            exchange.declare()
            self.queue.bind_to(exchange, routing_key="#")
        self.distinct = {}

    def wait_for(self, predicate, timeout=15):
        """Every distinct event seen so far, once `predicate` holds for them or the timeout passed."""
        def holds():
            while (message := self.queue.get(no_ack=True)) is not None:
                event = json.loads(message.body)
                self.distinct[event["id"]] = event
            return predicate(list(self.distinct.values()))
        if not predicate(list(self.distinct.values())):
            eventually(holds, timeout, interval=0.1)
        return list(self.distinct.values())

    def drain(self, tenant, expected_counts, timeout=15):
        """The distinct events of `tenant`, once each type reached its expected count."""
        def of_tenant(events):
            return [event for event in events if event["tenant"] == tenant]

        def reached(events):
            types = [event["type"] for event in of_tenant(events)]
            return all(types.count(kind) >= count for kind, count in expected_counts.items())
        return of_tenant(self.wait_for(reached, timeout))

    def close(self):
        self.connection.release()


def publish_again(amqp_uri, service, event):
    """Publishes an event a service already published, as the broker or the outbox relay may
    deliver it again."""
    with Connection(amqp_uri) as connection:
        Producer(connection.channel(), exchange=Exchange(f"{service}.events", type="topic", durable=True)).publish(
            event, routing_key=event["type"], serializer="json", delivery_mode=2)
