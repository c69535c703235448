"""The dead-letter queue, for ops: events whose handler failed every attempt wait there until
someone has fixed the cause and replays them to the queue they came from.

This talks to RabbitMQ itself (AMQP_URI), not to the gateway: it is an operator's tool for the
bus, like rabbitmqctl, not a way into the services' data."""
import json
from collections import Counter

from kombu import Connection

from services.bus import DEAD_LETTER_QUEUE

# Set by RabbitMQ on a message it dead-letters; what a replay must not carry back.
DEATH_HEADERS = ("x-death", "x-first-death-queue", "x-first-death-reason", "x-first-death-exchange",
                 "x-last-death-queue", "x-last-death-reason", "x-last-death-exchange", "x-delivery-count")


def summary(amqp_uri):
    """{(original queue, event type, reason): count} of the messages waiting, left in place."""
    counts = Counter()
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        DEAD_LETTER_QUEUE.bind(channel).declare()
        # Unacked until the channel closes, so each message is seen once and all stay queued.
        while (message := channel.basic_get(DEAD_LETTER_QUEUE.name, no_ack=False)) is not None:
            counts[origin(message), event_type(message), message.headers.get("x-first-death-reason", "")] += 1
        channel.close()
    return counts


def replay(amqp_uri, limit=None):
    """Sends up to `limit` dead letters back to the queue each came from; returns how many. Each is
    acked only once the broker has confirmed the copy, so a replay that fails loses nothing."""
    replayed = 0
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as connection:
        channel = connection.channel()
        DEAD_LETTER_QUEUE.bind(channel).declare()
        while limit is None or replayed < limit:
            message = channel.basic_get(DEAD_LETTER_QUEUE.name, no_ack=False)
            if message is None:
                break
            headers = {key: value for key, value in message.headers.items() if key not in DEATH_HEADERS}
            channel.basic_publish(channel.prepare_message(
                message.body, content_type=message.content_type, content_encoding=message.content_encoding,
                headers=headers, properties={"delivery_mode": 2}), exchange="", routing_key=origin(message))
            channel.basic_ack(message.delivery_tag)
            replayed += 1
        channel.close()
    return replayed


def origin(message):
    return message.headers.get("x-first-death-queue", "")


def event_type(message):
    try:
        return json.loads(message.body).get("type", "")
    except (ValueError, AttributeError):
        return ""
