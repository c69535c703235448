#!/usr/bin/env python3
"""Starts and stops the five services and the gateway on this machine, under supervisord.

Used by `make up` / `make down` and by the integration tests, so that what the
tests run is what a developer runs. supervisord restarts a process that exits, with a
growing pause while it keeps failing to start (as k8s does for a pod). Servers (RabbitMQ,
MongoDB/FerretDB) come from MONGO_URI / AMQP_URI; see scripts/servers.sh.

`devstack.py pid NAME` prints the pid a process runs under now, for fault tests and benches.
"""
import argparse
import hashlib
import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from gateway.auth import mint  # noqa: E402 (this script runs from the repository, not installed)

SERVICES = ("residents", "grids", "tickets", "notifications", "volunteers")
PROCESSES = (*SERVICES, "gateway", "console", "door", "transcoder")
# Built by `make install` (make transcoder); the stack runs it when it is there.
TRANSCODER = ROOT / "build/transcoder/civicgrid-transcoder"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the services and the gateway in the background")
    up.add_argument("--state-dir", type=Path, default=ROOT / ".run/stack")
    up.add_argument("--gateway-port", type=int, default=50051)
    up.add_argument("--gateway-metrics-port", type=int, default=9100)
    up.add_argument("--metrics-base-port", type=int, default=9101,
                    help="services get consecutive metrics ports from here, in the order " + ", ".join(SERVICES))
    up.add_argument("--db-prefix", default=os.environ.get("CIVICGRID_DB_PREFIX", "civicgrid_"))
    up.add_argument("--console-port", type=int, default=8080, help="the web console's port; 0 runs no console")
    up.add_argument("--door-port", type=int, default=8081,
                    help="the Open311 door's port (its api keys: DOOR_API_KEYS_FILE); 0 runs no door")
    up.add_argument("--transcoder-port", type=int, default=8082,
                    help="the HTTP/JSON transcoder's port; 0 runs none, nor does a missing build of it")
    up.add_argument("--seed", action="store_true",
                    help="load the demo city, at the real scale (minutes), once everything answers")
    up.add_argument("--timeout", type=float, default=90)
    down = sub.add_parser("down", help="stop what `up` started, by its recorded pids")
    down.add_argument("--state-dir", type=Path, default=ROOT / ".run/stack")
    pid = sub.add_parser("pid", help="the pid a supervised process runs under now")
    pid.add_argument("name", choices=PROCESSES)
    pid.add_argument("--state-dir", type=Path, default=ROOT / ".run/stack")
    return parser.parse_args()


def dev_secret(state_dir, variable, file_name):
    """The secret in `variable`, else one generated once for this stack and kept in its state dir."""
    if os.environ.get(variable):
        return os.environ[variable]
    secret_file = state_dir / file_name
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(32))
        secret_file.chmod(0o600)
    return secret_file.read_text().strip()


# The development door's api key stands for a citizen app of the demo tenant, as community staff
# of the whole tenant would file reports; its token lasts as long as a development stack does.
DEMO_TENANT = "demo"
DEMO_APP_TOKEN_SECONDS = 30 * 24 * 3600


def demo_door_keys(state_dir, secret):
    """The door's keys file: the environment's DOOR_API_KEYS_FILE, else one of this stack holding
    a development api key (kept in the state dir, printed once the stack is up)."""
    if os.environ.get("DOOR_API_KEYS_FILE"):
        return {}
    api_key = dev_secret(state_dir, "DOOR_DEMO_API_KEY", "door-api-key")
    token = mint(secret, "demo-311-app", DEMO_TENANT, "community_staff", ["*"], ttl_seconds=DEMO_APP_TOKEN_SECONDS)
    keys_file = state_dir / "door-api-keys.json"
    keys_file.write_text(json.dumps({hashlib.sha256(api_key.encode()).hexdigest(): {"token": token}}))
    keys_file.chmod(0o600)
    return {"DOOR_API_KEYS_FILE": str(keys_file)}


def process_table(args, secret):
    """{name: (command, environment of its own)}, and the environment they all share."""
    # WEBHOOK_ALLOW_LOCAL: development's webhook receivers listen on this machine, over http.
    shared_env = {**os.environ, "CIVICGRID_DB_PREFIX": args.db_prefix, "PYTHONUNBUFFERED": "1",
                  "WEBHOOK_ALLOW_LOCAL": os.environ.get("WEBHOOK_ALLOW_LOCAL", "true"),
                  "CIVICGRID_PII_KEY": dev_secret(args.state_dir, "CIVICGRID_PII_KEY", "pii-key")}
    table = {}
    for offset, service in enumerate(SERVICES):
        table[service] = (
            [sys.executable, "-m", "nameko", "run", "--config", str(ROOT / "services/nameko.yaml"),
             f"services.{service}.service"],
            {"METRICS_PORT": str(args.metrics_base_port + offset)})
    table["gateway"] = (
        [sys.executable, "-m", "gateway"],
        {"GATEWAY_PORT": str(args.gateway_port), "GATEWAY_METRICS_PORT": str(args.gateway_metrics_port),
         "CIVICGRID_JWT_SECRET": secret})
    if args.console_port:
        # Development sign-in mints demo tokens with the gateway's secret; never so in production.
        table["console"] = (
            [sys.executable, "-m", "console"],
            {"CONSOLE_PORT": str(args.console_port), "CONSOLE_GATEWAY": f"127.0.0.1:{args.gateway_port}",
             "CONSOLE_DEV_SIGNIN": "true", "CIVICGRID_JWT_SECRET": secret,
             "CONSOLE_SESSION_SECRET": dev_secret(args.state_dir, "CONSOLE_SESSION_SECRET", "console-session-secret")})
    if args.door_port:
        # The door's api keys and public token come from the environment (DOOR_API_KEYS_FILE,
        # DOOR_PUBLIC_TOKEN), as in production: it mints nothing.
        table["door"] = (
            [sys.executable, "-m", "door"],
            {"DOOR_PORT": str(args.door_port), "DOOR_GATEWAY": f"127.0.0.1:{args.gateway_port}",
             **demo_door_keys(args.state_dir, secret)})
    if runs_transcoder(args):
        table["transcoder"] = (
            [str(TRANSCODER)],
            {"TRANSCODER_PORT": str(args.transcoder_port), "TRANSCODER_GATEWAY": f"127.0.0.1:{args.gateway_port}"})
    return table, shared_env


def runs_transcoder(args):
    return bool(args.transcoder_port) and TRANSCODER.exists()


def supervisor_config(state_dir, table):
    """supervisord's configuration: every process restarted whenever it exits; one that dies
    within `startsecs` of starting waits 1 s, then 2 s, 3 s… before the next try."""
    sections = [
        f"[unix_http_server]\nfile={literal(state_dir / 'supervisor.sock')}\nchmod=0700",
        f"[supervisord]\nlogfile={literal(state_dir / 'supervisord.log')}\n"
        f"pidfile={literal(state_dir / 'supervisord.pid')}\nchilddir={literal(ROOT)}",
        "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        f"[supervisorctl]\nserverurl=unix://{literal(state_dir / 'supervisor.sock')}",
    ]
    for name, (command, own_env) in table.items():
        environment = ",".join(f'{key}="{literal(value)}"' for key, value in own_env.items())
        sections.append(
            f"[program:{name}]\ncommand={literal(shlex.join(command))}\ndirectory={literal(ROOT)}\n"
            f"environment={environment}\nautorestart=true\nstartsecs=3\nstartretries=1000\n"
            f"stopasgroup=true\nkillasgroup=true\nstopwaitsecs=15\nredirect_stderr=true\n"
            f"stdout_logfile={literal(state_dir / f'{name}.log')}\nstdout_logfile_maxbytes=0")
    return "\n\n".join(sections) + "\n"


def literal(value):
    """A value as supervisord reads it back: it expands %(name)s and ends a quoted value at a quote."""
    return str(value).replace("%", "%%").replace('"', '\\"')


def wait_until_serving(port, timeout):
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                if stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2).status == \
                        health_pb2.HealthCheckResponse.SERVING:
                    return True
            except grpc.RpcError:
                pass
            time.sleep(0.5)
    return False


def up(args):
    state_dir = args.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    pids_file = state_dir / "pids.json"
    if pids_file.exists() and any(alive(pid) for pid in json.loads(pids_file.read_text()).values()):
        sys.exit(f"already running (see {pids_file}); run `make down` first")
    secret = dev_secret(state_dir, "CIVICGRID_JWT_SECRET", "jwt-secret")
    table, shared_env = process_table(args, secret)
    config = state_dir / "supervisord.conf"
    config.write_text(supervisor_config(state_dir, table))
    log = open(state_dir / "supervisord.out", "ab")
    supervisor = subprocess.Popen([sys.executable, "-m", "supervisor.supervisord", "--nodaemon", "-c", str(config)],
                                  env=shared_env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    pids_file.write_text(json.dumps({"supervisord": supervisor.pid}, indent=2))
    if not wait_until_serving(args.gateway_port, args.timeout):
        down(args)
        sys.exit(f"the platform did not become healthy in {args.timeout:.0f}s; logs in {state_dir}")
    (state_dir / "endpoints.json").write_text(json.dumps({
        "gateway": f"127.0.0.1:{args.gateway_port}",
        "gateway_metrics": f"http://127.0.0.1:{args.gateway_metrics_port}/metrics",
        **({"console": f"http://127.0.0.1:{args.console_port}/"} if args.console_port else {}),
        **({"door": f"http://127.0.0.1:{args.door_port}/open311/v2/"} if args.door_port else {}),
        **({"transcoder": f"http://127.0.0.1:{args.transcoder_port}/"} if runs_transcoder(args) else {}),
        "service_metrics": {s: f"http://127.0.0.1:{args.metrics_base_port + i}/metrics"
                            for i, s in enumerate(SERVICES)},
    }, indent=2))
    if args.seed:
        # Granted sensitive_tags so the demo has the few residents whose tags other tokens do not see.
        subprocess.run([sys.executable, "-m", "cli.main", "--gateway", f"127.0.0.1:{args.gateway_port}",
                        "--grant", "sensitive_tags", "seed-demo", "--scale", "real"], cwd=ROOT, check=True,
                       env={**os.environ, "CIVICGRID_JWT_SECRET": secret})
    print_endpoints(args)


def print_endpoints(args):
    print(f"""
civicgrid is up.{console_line(args)}{door_line(args)}{transcoder_line(args)}
  gateway (gRPC, reflection on): 127.0.0.1:{args.gateway_port}
  gateway metrics:              http://127.0.0.1:{args.gateway_metrics_port}/metrics
  service metrics:              {', '.join(f'{s} :{args.metrics_base_port + i}' for i, s in enumerate(SERVICES))}
  logs and pids:                {args.state_dir}

Call it:
  .venv/bin/civicgrid token --role city_operator        # a demo token for the seeded tenant
  .venv/bin/civicgrid call civicgrid.grids.v1.Grids/ListNodes '{{}}'
  grpcurl -plaintext -H "authorization: Bearer $(.venv/bin/civicgrid token)" 127.0.0.1:{args.gateway_port} list
Stop it: make down
""")


def console_line(args):
    if not args.console_port:
        return ""
    return f"\n  web console:                  http://127.0.0.1:{args.console_port}/ (development sign-in)"


def door_line(args):
    if not args.door_port:
        return ""
    line = f"\n  Open311 door:                 http://127.0.0.1:{args.door_port}/open311/v2/discovery.json"
    demo_key = args.state_dir / "door-api-key"
    if os.environ.get("DOOR_API_KEYS_FILE") or not demo_key.exists():
        return line
    return f"{line} (api_key: {demo_key.read_text().strip()})"


def transcoder_line(args):
    if not runs_transcoder(args):
        return ""
    return f"\n  JSON over HTTP:               http://127.0.0.1:{args.transcoder_port}/openapi.json"


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def down(args):
    """Stops supervisord, which stops its processes; any it left behind go by the pid it ran them under."""
    pids_file = args.state_dir / "pids.json"
    if not pids_file.exists():
        print("nothing to stop")
        return
    supervisor = json.loads(pids_file.read_text())["supervisord"]
    children = [pid for pid in (supervised_pid(args.state_dir, name) for name in PROCESSES) if pid]
    if alive(supervisor):
        os.kill(supervisor, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(alive(pid) for pid in (supervisor, *children)):
        time.sleep(0.2)
    for pid in (supervisor, *children):
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    pids_file.unlink()
    print("stopped supervisord and what it ran")


def supervised_pid(state_dir, name):
    """The pid supervisord runs `name` under now, or None."""
    answer = subprocess.run([sys.executable, "-m", "supervisor.supervisorctl", "-c", str(state_dir / "supervisord.conf"),
                             "pid", name], capture_output=True, text=True)
    return int(answer.stdout) if answer.stdout.strip().isdigit() and int(answer.stdout) > 0 else None


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.command == "pid":
        print(supervised_pid(arguments.state_dir, arguments.name) or sys.exit(f"{arguments.name} is not running"))
    else:
        up(arguments) if arguments.command == "up" else down(arguments)
