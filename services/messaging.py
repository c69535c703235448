"""Nameko entrypoints and proxies that outlive a broker or store outage.

Nameko's own stop the whole service when an RPC reply cannot be published (the broker restarted
under it), wait forever for the reply of a call to another service, and ack an event whose
handler failed, so the event is lost. These:

- `rpc`: a reply the broker does not take is logged and dropped, the process lives on (the caller
  times out and retries by request_id); a store or broker that does not answer becomes
  `Unavailable`, which the gateway answers as UNAVAILABLE, never INTERNAL.
- `RpcProxy`: a call to another service gives up after RPC_CALL_TIMEOUT_SECONDS.
- `event_handler` / `consume`: handlers wait out an outage of the store or broker in place, the
  message unacked; any other failure puts the message back, and after EVENT_DELIVERY_LIMIT more
  attempts RabbitMQ moves it to the dead-letter queue (`civicgrid dead-letters` lists and replays it).
  Their queues are durable quorum queues: RabbitMQ counts deliveries and dead-letters them there.
"""
import functools
import logging

import eventlet
from kombu import Queue
from nameko import events, messaging, rpc as nameko_rpc
from nameko.amqp.publish import Publisher
from nameko.constants import (AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, DEFAULT_SERIALIZER, LOGIN_METHOD_CONFIG_KEY,
                              SERIALIZER_CONFIG_KEY)
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_chain, wait_fixed

from services.bus import BROKER_UNREACHABLE, DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE
from services.errors import Unavailable
from services.settings import EventHandlingSettings, RpcSettings
from services.storage import STORE_UNREACHABLE, MongoStore

log = logging.getLogger(__name__)

UNREACHABLE = BROKER_UNREACHABLE + STORE_UNREACHABLE
RPC = RpcSettings()
EVENT_HANDLING = EventHandlingSettings()
OUTAGE_BACKOFF_SECONDS = (0.5, 1, 2, 4, 8, 15)

WORK_QUEUE_ARGUMENTS = {"x-queue-type": "quorum", "x-delivery-limit": EVENT_HANDLING.delivery_limit,
                        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE.name}


# RPC

class UnconfirmedReplies(nameko_rpc.Responder):
    """Replies go out without waiting for the broker to confirm them: a reply lives in the
    caller's own transient queue, and one the broker loses is what the caller's deadline is
    for, confirmed or not. It saves every call a wait for the broker."""

    publisher_cls = functools.partial(Publisher, use_confirms=False)


class RpcConsumer(nameko_rpc.RpcConsumer):
    def handle_result(self, message, result, exc_info):
        try:
            return self._reply(message, result, exc_info)
        except BROKER_UNREACHABLE as error:
            log.warning("reply to %s not sent, the broker did not take it: %s",
                        message.delivery_info.get("routing_key"), error)
            self.queue_consumer.ack_message(message)
            return result, exc_info

    def _reply(self, message, result, exc_info):
        """Nameko's `handle_result`, with unconfirmed replies."""
        config = self.container.config
        responder = UnconfirmedReplies(
            config[AMQP_URI_CONFIG_KEY], nameko_rpc.get_rpc_exchange(config),
            config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER), message, ssl=config.get(AMQP_SSL_CONFIG_KEY),
            login_method=config.get(LOGIN_METHOD_CONFIG_KEY))
        result, exc_info = responder.send_response(result, exc_info)
        self.queue_consumer.ack_message(message)
        return result, exc_info


class Rpc(nameko_rpc.Rpc):
    rpc_consumer = RpcConsumer()

    def handle_result(self, message, worker_ctx, result, exc_info):
        if exc_info is None:
            publish_before_reply(self.container, worker_ctx)
        return super().handle_result(message, worker_ctx, result, as_unavailable(exc_info))


rpc = Rpc.decorator


def publish_before_reply(container, worker_ctx):
    """The store publishes what an RPC wrote before the reply goes out (Nameko replies before its
    `worker_result` hooks run): a record deleted by the call is gone once its events are out, so
    the caller's next call must not find it still there, holding its unique keys."""
    for dependency in container.dependencies:
        if isinstance(dependency, MongoStore):
            dependency.publish_written(worker_ctx)


def as_unavailable(exc_info):
    """A store or broker that did not answer, as the domain error the gateway answers UNAVAILABLE."""
    if exc_info is None or not isinstance(exc_info[1], UNREACHABLE):
        return exc_info
    error = Unavailable(f"a backing server did not answer ({type(exc_info[1]).__name__}); try again")
    return type(error), error, exc_info[2]


class RpcProxy(nameko_rpc.RpcProxy):
    def get_dependency(self, worker_ctx):
        return TimedServiceProxy(super().get_dependency(worker_ctx), self.target_service)


class TimedServiceProxy:
    def __init__(self, proxy, service):
        self.proxy = proxy
        self.service = service

    def __getattr__(self, method):
        return TimedMethodProxy(getattr(self.proxy, method), self.service)


class TimedMethodProxy:
    def __init__(self, method_proxy, service):
        self.method_proxy = method_proxy
        self.service = service

    def __call__(self, *args, **kwargs):
        return self.call_async(*args, **kwargs).result()

    def call_async(self, *args, **kwargs):
        return TimedReply(self.method_proxy.call_async(*args, **kwargs), self.service)


class TimedReply:
    def __init__(self, reply, service):
        self.reply = reply
        self.service = service

    def result(self):
        unanswered = Unavailable(f"{self.service} did not answer in {RPC.call_timeout_seconds:.0f}s")
        with eventlet.Timeout(RPC.call_timeout_seconds, unanswered):
            return self.reply.result()


# Events

class DeadLetteringQueue(Queue):
    """Declares the dead-letter exchange and queue before itself, at every (re)connection."""

    def declare(self, nowait=False, channel=None):
        DEAD_LETTER_QUEUE.bind(channel or self.channel).declare()
        return super().declare(nowait=nowait, channel=channel)


def work_queue(queue):
    return DeadLetteringQueue(queue.name, queue.exchange, queue.routing_key, durable=True,
                              bindings=queue.bindings, queue_arguments=WORK_QUEUE_ARGUMENTS)


class EventHandler(events.EventHandler):
    def setup(self):
        super().setup()
        self.queue = work_queue(self.queue)


class Consumer(messaging.Consumer):
    def setup(self):
        self.queue = work_queue(self.queue)
        super().setup()


def event_handler(source_service, event_type):
    def register(method):
        return EventHandler.decorator(source_service, event_type, requeue_on_error=True)(
            waiting_out_outages(method))
    return register


def consume(queue):
    def register(method):
        return Consumer.decorator(queue, requeue_on_error=True)(waiting_out_outages(method))
    return register


def waiting_out_outages(handler):
    """Runs `handler` again while the store or broker does not answer, for at most
    EVENT_OUTAGE_PATIENCE_SECONDS: an outage is no fault of the message and must not use up its
    attempts. Handlers are idempotent, so running one again after a partial run is safe."""
    if getattr(handler, "waits_out_outages", False):
        return handler
    patient = retry(
        retry=retry_if_exception_type(UNREACHABLE), reraise=True,
        stop=stop_after_delay(EVENT_HANDLING.outage_patience_seconds),
        wait=wait_chain(*map(wait_fixed, OUTAGE_BACKOFF_SECONDS)),
        # Looked up at each pause, so the green thread yields to eventlet's hub however it is patched.
        sleep=lambda seconds: eventlet.sleep(seconds), before_sleep=log_outage_pause)(handler)
    patient.waits_out_outages = True
    return patient


def log_outage_pause(attempt):
    log.warning("%s waits %.1fs for an outage to pass: %s", attempt.fn.__name__,
                attempt.upcoming_sleep, attempt.outcome.exception())


def broadcast_handler(source_service, event_type):
    """Every process of the service handles each event, for what it keeps in memory: a queue of
    its own (classic, exclusive, gone with the process). An outage of the store is waited out as
    above; any other failure, or an event published while the process is not connected, is lost
    to it, so what it keeps must also be rebuilt from the store from time to time. `event_type`
    may be a topic pattern (`civicgrid.tickets.ticket.#`)."""
    def register(method):
        return events.EventHandler.decorator(
            source_service, event_type, handler_type=events.BROADCAST, reliable_delivery=False)(
            waiting_out_outages(method))
    return register
