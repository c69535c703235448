"""The notifications service's one HTTP client, for partner webhooks, the SMS provider and
RabbitMQ's management API. One per process: it keeps connections to receivers open, and a new
client costs a tenth of a second to load its TLS context. Under Nameko its sockets are
eventlet's green ones, like every other socket of the service."""
import httpx

# A receiver that has not answered in this long has failed the attempt; it is tried again later.
TIMEOUT_SECONDS = 5
CLIENT = httpx.Client(timeout=TIMEOUT_SECONDS)


def delivered(url, body, headers):
    """POSTs `body`; True when the receiver took it (2xx). A redirect is not followed: a signed
    delivery goes only where the subscriber said, and counts as refused."""
    try:
        return CLIENT.post(url, content=body, headers=headers).is_success
    except httpx.HTTPError:
        return False
