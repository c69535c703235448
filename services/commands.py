"""`@command(Schema)`: the entrypoint of every civicgrid RPC that acts for a caller.

It authenticates the caller (the gateway's claims, or another service's) and parses the request
once, before the handler runs, so a handler reads `def triage_ticket(self, caller, command)` and
states only the domain's steps. A caller that is not one is PERMISSION_DENIED; a request that does
not parse is INVALID_ARGUMENT naming every field at fault."""
from functools import wraps

from services.access import Caller
from services.messaging import rpc
from services.validation import parse


def command(schema):
    def entrypoint(handler):
        @rpc
        @wraps(handler)
        def authenticated_and_parsed(self, caller, request):
            return handler(self, Caller.of(caller), parse(schema, request))
        return authenticated_and_parsed
    return entrypoint
