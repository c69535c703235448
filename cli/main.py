"""civicgrid — talk to a running civicgrid gateway.

  civicgrid token [--role R --tenant T --scope ID ...]   print a development token
  civicgrid call package.Service/Method '{"json": "request"}'
  civicgrid seed-demo                                     load the demo city
"""
import argparse
import json
import sys

import grpc

from cli.api import DEMO_TENANT, Gateway, demo_token, printable
from cli.seed import seed_demo


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="civicgrid", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateway", default="127.0.0.1:50051")
    parser.add_argument("--token", help="a bearer token; default: a demo token for the role below")
    parser.add_argument("--role", default="city_operator")
    parser.add_argument("--tenant", default=DEMO_TENANT)
    parser.add_argument("--scope", action="append", help="node id the caller may act in (repeatable); default *")
    parser.add_argument("--grant", action="append", default=[], help="extra right, e.g. sensitive_tags")
    parser.add_argument("--subject", default="demo-operator")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("token", help="print a development token (HS256, 1 hour)")
    call = sub.add_parser("call", help="call a gateway method with a JSON request")
    call.add_argument("method", help="e.g. civicgrid.grids.v1.Grids/ListNodes")
    call.add_argument("request", nargs="?", default="{}")
    sub.add_parser("seed-demo", help="load the demo city (idempotent)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    token = args.token or demo_token(args.role, args.tenant, args.scope or ["*"], args.subject, args.grant)
    if args.command == "token":
        print(token)
        return 0
    gateway = Gateway(args.gateway, token)
    try:
        if args.command == "call":
            print(printable(gateway.call(args.method, json.loads(args.request))))
        else:
            seed_demo(gateway)
    except grpc.RpcError as error:
        print(f"{error.code().name}: {error.details()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
