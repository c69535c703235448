"""Every rpc has a google.api.http binding, read from the generated descriptors, so the JSON
transcoder serves every method; no two bindings share a verb and path, and every path variable
is a field of the request."""
import re

import pytest
from google.api import annotations_pb2

from gateway.routes import contract_modules

VERBS = ("get", "post", "put", "patch", "delete")


def every_method():
    return [method for module in contract_modules() for service in module.DESCRIPTOR.services_by_name.values()
            for method in service.methods]


def binding(method):
    rule = method.GetOptions().Extensions[annotations_pb2.http]
    verb = rule.WhichOneof("pattern")
    return (verb, getattr(rule, verb)) if verb else None


@pytest.mark.parametrize("method", every_method(), ids=lambda method: method.full_name)
def test_every_rpc_has_an_http_binding_on_fields_of_its_request(method):
    assert binding(method) is not None, f"{method.full_name} has no option (google.api.http)"
    verb, path = binding(method)
    assert verb in VERBS and path.startswith("/v1/")
    for variable in re.findall(r"\{([^}=]+)", path):
        message = method.input_type
        for part in variable.split("."):
            assert part in message.fields_by_name, f"{method.full_name}: {{{variable}}} is not a request field"
            message = message.fields_by_name[part].message_type


def test_no_two_methods_share_a_verb_and_path():
    bindings = [binding(method) for method in every_method()]
    assert len(bindings) > 100 and len(set(bindings)) == len(bindings)
