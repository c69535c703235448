"""The broker's names and failures that services, the gateway and ops tools share, without the
services' Nameko entrypoints or store."""
from amqp.exceptions import AMQPError
from kombu import Exchange, Queue
from kombu.exceptions import OperationalError
from nameko.amqp.publish import UndeliverableMessage

# What a broker that does not answer, or drops a connection, raises.
BROKER_UNREACHABLE = (OSError, AMQPError, OperationalError, UndeliverableMessage)

# Where events go that failed every attempt (services/messaging.py), for `civicgrid dead-letters`.
DEAD_LETTER_EXCHANGE = Exchange("civicgrid.dead-letter", type="topic", durable=True)
DEAD_LETTER_QUEUE = Queue("civicgrid.dead-letters", DEAD_LETTER_EXCHANGE, routing_key="#", durable=True,
                          queue_arguments={"x-queue-type": "quorum"})
