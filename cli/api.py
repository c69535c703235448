"""A small gRPC client for the gateway that finds methods by name in the contracts."""
import json
from pathlib import Path

import grpc
from google.protobuf import json_format, symbol_database

from cli.settings import CliSettings
from gateway.auth import mint
from gateway.routes import contract_modules

ROOT = Path(__file__).resolve().parent.parent
DEMO_TENANT = "demo"


def jwt_secret():
    secret = CliSettings().jwt_secret
    secret_file = ROOT / ".run/stack/jwt-secret"
    if not secret and secret_file.exists():
        secret = secret_file.read_text().strip()
    if not secret:
        raise SystemExit("no JWT secret: set CIVICGRID_JWT_SECRET or start the platform with `make up`")
    return secret


def demo_token(role="city_operator", tenant=DEMO_TENANT, scope=("*",), subject="demo-operator", grants=(),
               days=None):
    """A development token: for an hour, or `days` (a partner's or an app's long-lived credential)."""
    ttl = {"ttl_seconds": int(days * 24 * 3600)} if days else {}
    return mint(jwt_secret(), subject, tenant, role, scope, grants, **ttl)


class RequestError(Exception):
    """A request the contracts do not take; nothing was sent."""


class Gateway:
    def __init__(self, address, token):
        self.channel = grpc.insecure_channel(address)
        self.metadata = (("authorization", f"Bearer {token}"),)
        contract_modules()
        self.symbols = symbol_database.Default()
        self.pool = self.symbols.pool

    def call(self, full_method, request, timeout=30, metadata=()):
        """Calls `package.Service/Method` with a dict; returns the response as a dict. A method
        or field the contracts do not have is a RequestError, raised before anything is sent."""
        service_name, _, method_name = full_method.strip("/").partition("/")
        try:
            method = self.pool.FindServiceByName(service_name).FindMethodByName(method_name)
        except KeyError:
            raise RequestError(f"no method {full_method!r} in the contracts (package.Service/Method)") from None
        request_class = self.symbols.GetSymbol(method.input_type.full_name)
        response_class = self.symbols.GetSymbol(method.output_type.full_name)
        stub = self.channel.unary_unary(f"/{service_name}/{method_name}",
                                        request_serializer=request_class.SerializeToString,
                                        response_deserializer=response_class.FromString)
        try:
            message = json_format.ParseDict(request, request_class())
        except json_format.ParseError as error:
            raise RequestError(f"{full_method}: {error}") from None
        response = stub(message, metadata=self.metadata + tuple(metadata), timeout=timeout)
        return json_format.MessageToDict(response, preserving_proto_field_name=True)


def printable(data):
    return json.dumps(data, ensure_ascii=False, indent=2)
