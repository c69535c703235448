"""civicgrid — talk to a running civicgrid gateway.

  civicgrid [--role R --tenant T --scope ID ...] token [--days N]   print a development token
  civicgrid call package.Service/Method '{"json": "request"}'
  civicgrid seed-demo [--scale real|small]                load the demo city
  civicgrid import FILE.csv [--building-map MAP.json]     import a community's households and residents
  civicgrid stats NODE_ID                                 figures below a node
  civicgrid worklist NODE_ID --tag elderly --tag living_alone [--name 王]   residents to serve
  civicgrid dead-letters [replay [--limit N]]            events that failed every attempt (ops, over AMQP_URI)
"""
import argparse
import json
import sys

import grpc
import jwt

from cli import dead_letters
from cli.api import DEMO_TENANT, Gateway, RequestError, demo_token, printable
from cli.importer import ImportFileError, import_csv, load_building_map
from cli.demo_work import Cast, seed_work
from cli.seed import SCALES, seed_demo
from cli.settings import CliSettings
from services.residents.schemas import SENSITIVE_GRANT

WORKLIST_PAGE = 200


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
    token = sub.add_parser("token", help="print a development token (HS256, 1 hour unless --days)")
    token.add_argument("--days", type=float, help="how long it lasts, e.g. 365 for a partner's or an app's "
                                                  "credential in the Open311 door's keys file")
    call = sub.add_parser("call", help="call a gateway method with a JSON request")
    call.add_argument("method", help="e.g. civicgrid.grids.v1.Grids/ListNodes")
    call.add_argument("request", nargs="?", default="{}")
    seed = sub.add_parser("seed-demo", help="load the demo city (idempotent)")
    seed.add_argument("--scale", choices=sorted(SCALES), default="real",
                      help="real: the community of 10 grids, 86 buildings and 6,812 people (minutes); "
                           "small: 3 grids, 4 buildings, 70 people; sensitive tags only with --grant sensitive_tags")
    importing = sub.add_parser("import", help="import households and residents from a CSV (idempotent)")
    importing.add_argument("file")
    importing.add_argument("--encoding", help="the file's encoding; by default UTF-8, else GB18030/GBK as a "
                                              "Chinese Excel saves CSV")
    importing.add_argument("--building-map", help="JSON object: building label in the CSV -> building node id")
    stats = sub.add_parser("stats", help="figures below a node: grids, buildings, flats, households, residents")
    stats.add_argument("node_id")
    worklist = sub.add_parser("worklist", help="residents below a node with all the given tags")
    worklist.add_argument("node_id")
    worklist.add_argument("--tag", action="append", default=[])
    worklist.add_argument("--name", default="", help="name prefix")
    dead = sub.add_parser("dead-letters", help="list the dead-letter queue, or replay it once the cause is fixed")
    dead.add_argument("action", nargs="?", choices=("list", "replay"), default="list")
    dead.add_argument("--limit", type=int, help="replay at most this many")
    dead.add_argument("--amqp-uri", default=CliSettings().amqp_uri)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "dead-letters":
        return handle_dead_letters(args)
    token = args.token or demo_token(args.role, args.tenant, args.scope or ["*"], args.subject, args.grant,
                                     days=getattr(args, "days", None))
    if args.command == "token":
        print(token)
        return 0
    gateway = Gateway(args.gateway, token)
    try:
        if args.command == "call":
            print(printable(gateway.call(args.method, json_request(args.request))))
        elif args.command == "import":
            report = import_csv(gateway, args.file, load_building_map(args.building_map), progress=sys.stderr,
                                encoding=args.encoding)
            print(printable(report))
            return 1 if report["errors"] else 0
        elif args.command == "stats":
            print(printable(gateway.call("civicgrid.grids.v1.Grids/GetNodeFigures", {"node_id": args.node_id})))
        elif args.command == "worklist":
            print_worklist(gateway, args.node_id, args.tag, args.name)
        else:
            community, report = seed_demo(gateway, SCALES[args.scale], SENSITIVE_GRANT in token_grants(token),
                                          progress=sys.stderr)
            cast = Cast(gateway, lambda role, scope, subject, grants: Gateway(
                args.gateway, demo_token(role, args.tenant, scope, subject, grants)))
            seed_work(cast, community)
            return 1 if report["errors"] else 0
    except ImportFileError as error:
        print(f"nothing imported: {error}", file=sys.stderr)
        return 2
    except RequestError as error:
        print(f"nothing sent: {error}", file=sys.stderr)
        return 2
    except grpc.RpcError as error:
        print(f"{error.code().name}: {error.details()}", file=sys.stderr)
        return 1
    return 0


def handle_dead_letters(args):
    if args.action == "replay":
        print(f"replayed {dead_letters.replay(args.amqp_uri, args.limit)} events to the queues they came from")
        return 0
    waiting = dead_letters.summary(args.amqp_uri)
    for (queue, event_type, reason), count in sorted(waiting.items()):
        print(f"{count}\t{event_type}\t{queue}\t{reason}")
    print(f"{sum(waiting.values())} dead letters")
    return 0


def json_request(text):
    try:
        request = json.loads(text)
    except ValueError as error:
        raise RequestError(f"the request is not JSON: {error}") from None
    if not isinstance(request, dict):
        raise RequestError("the request must be a JSON object")
    return request


def token_grants(token):
    """What the token claims to be granted; the gateway checks it, this only decides what to send."""
    try:
        return jwt.decode(token, options={"verify_signature": False}).get("grants", [])
    except jwt.InvalidTokenError:
        return []


def print_worklist(gateway, node_id, tags, name_prefix):
    """One line per resident, all pages: name, birth date, masked phone, tags."""
    token = ""
    while True:
        page = gateway.call("civicgrid.residents.v1.Residents/ListResidents", {
            "node_id": node_id, "tags": tags, "name_prefix": name_prefix, "page_size": WORKLIST_PAGE,
            "page_token": token})
        for resident in page.get("residents", []):
            print("\t".join([resident["display_name"], resident.get("birth_date", ""), resident.get("phone", ""),
                             ",".join(resident.get("tags", []))]))
        token = page.get("next_page_token", "")
        if not token:
            return


if __name__ == "__main__":
    sys.exit(main())
