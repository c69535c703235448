"""Deployment artefacts: Dockerfile, docker-compose.yml, k8s/ (kustomize), ops/ (Prometheus, Grafana).

scripts/validate-deploy.sh runs the external validators (kustomize, kubernetes-validate --strict,
ServiceMonitor schema, kube-score, compose spec, promtool, dashboard PromQL). These tests run it once,
require every check to pass, and then assert project-specific properties on the rendered manifests.
A missing tool is a failure with the script's message, never a skip.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "validate-deploy.sh"
SERVICES = ["residents", "grids", "tickets", "notifications", "volunteers"]
APPS = [f"civicgrid-{s}" for s in SERVICES] + ["civicgrid-gateway", "civicgrid-console", "civicgrid-door",
                                                "civicgrid-transcoder"]
METRICS_PORTS = {"residents": 9101, "grids": 9102, "tickets": 9103, "notifications": 9104, "volunteers": 9105}
REQUIRED_ALERTS = ["CivicgridServiceDown", "HighErrorRatio", "HighP99Latency", "OverdueTicketsRising",
                   "OutboxBacklog", "PartnerDeliveriesFailing"]
EXPECTED_CHECKS = [
    "kustomize build k8s/overlays/dev",
    "kubernetes-validate --strict (dev",
    "ServiceMonitor schema (dev",
    "kube-score (dev)",
    "kustomize build k8s/overlays/prod",
    "kubernetes-validate --strict (prod",
    "ServiceMonitor schema (prod",
    "kube-score (prod)",
    "docker-compose.yml against the compose spec",
    "promtool check config",
    "promtool check rules",
    "promtool test rules",
    "grafana dashboards: JSON + PromQL",
]


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def validation(tmp_path_factory):
    out = tmp_path_factory.mktemp("deploy")
    env = {**os.environ, "CIVICGRID_DEPLOY_OUT": str(out)}
    proc = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    return {"rc": proc.returncode, "output": proc.stdout + proc.stderr, "out": out}


def _load_rendered(validation, overlay):
    path = validation["out"] / f"{overlay}.yaml"
    assert path.is_file() and path.stat().st_size, (
        f"kustomize did not render k8s/overlays/{overlay}; validate-deploy.sh said:\n{validation['output']}")
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.fixture(scope="session", params=["dev", "prod"])
def rendered(request, validation):
    return request.param, _load_rendered(validation, request.param)


@pytest.fixture(scope="session")
def dev(validation):
    return _load_rendered(validation, "dev")


@pytest.fixture(scope="session")
def prod(validation):
    return _load_rendered(validation, "prod")


@pytest.fixture(scope="session")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def kinds(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def by_name(docs, kind):
    return {d["metadata"]["name"]: d for d in kinds(docs, kind)}


def workloads(docs):
    return [d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job")]


def pod_spec(w):
    return w["spec"]["template"]["spec"]


def selects(selector, labels):
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        return True
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        val = labels.get(e["key"])
        op = e["operator"]
        if (op == "In" and val not in e["values"]) or (op == "NotIn" and val in e["values"]) or \
           (op == "Exists" and val is None) or (op == "DoesNotExist" and val is not None):
            return False
    return True


# --------------------------------------------------------------------------- the validators

def test_validate_deploy_script_passes(validation):
    assert validation["rc"] == 0, f"scripts/validate-deploy.sh failed:\n{validation['output']}"
    assert re.search(r"validate-deploy: \d+ checks passed, 0 failed", validation["output"]), validation["output"]


@pytest.mark.parametrize("check", EXPECTED_CHECKS)
def test_validator_check_ran_and_passed(validation, check):
    lines = validation["output"].splitlines()
    assert any(line.startswith("PASS  " + check) for line in lines), (
        f"check {check!r} did not pass:\n{validation['output']}")


# --------------------------------------------------------------------------- k8s properties

def test_all_apps_have_deployment_service_sa_hpa_pdb(rendered):
    _, docs = rendered
    for kind in ("Deployment", "Service", "ServiceAccount", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        names = by_name(docs, kind)
        missing = [a for a in APPS if a not in names]
        assert not missing, f"{kind} missing for {missing}"
    for a in APPS:
        assert by_name(docs, "ServiceAccount")[a]["automountServiceAccountToken"] is False
        hpa = by_name(docs, "HorizontalPodAutoscaler")[a]
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": a}
        assert "replicas" not in by_name(docs, "Deployment")[a]["spec"], "replicas belong to the HPA"
        assert by_name(docs, "PodDisruptionBudget")[a]["apiVersion"] == "policy/v1"


def test_every_workload_is_locked_down(rendered):
    _, docs = rendered
    for w in workloads(docs):
        name = f"{w['kind']}/{w['metadata']['name']}"
        spec = pod_spec(w)
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True, name
        assert psc["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        tmp_volumes = {m["name"] for c in spec["containers"] for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp"}
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, (name, c["name"])
            assert sc["allowPrivilegeEscalation"] is False, (name, c["name"])
            assert sc["capabilities"]["drop"] == ["ALL"], (name, c["name"])
            assert sc.get("privileged", False) is False, (name, c["name"])
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][part]), (name, c["name"], part)
        for c in spec["containers"]:
            assert any(m["mountPath"] == "/tmp" for m in c.get("volumeMounts", [])), (name, c["name"], "/tmp")
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        for v in tmp_volumes:
            assert "emptyDir" in vols[v], (name, "/tmp must be an emptyDir")


def test_app_pods_run_as_uid_10001(rendered):
    _, docs = rendered
    deps = by_name(docs, "Deployment")
    for a in APPS:
        spec = pod_spec(deps[a])
        assert spec["securityContext"]["runAsUser"] == 10001, a
        assert spec["containers"][0]["securityContext"]["runAsUser"] == 10001, a


def test_probes(rendered):
    _, docs = rendered
    deps = by_name(docs, "Deployment")
    for s in SERVICES:
        c = pod_spec(deps[f"civicgrid-{s}"])["containers"][0]
        assert c["command"] == ["nameko", "run", "--config", "services/nameko.yaml", f"services.{s}.service"]
        # Readiness proves the process consumes its RPC queue and its store answers
        # (services/readiness.py); an outage of either must not restart it.
        assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "metrics"}, s
        for probe in ("startupProbe", "livenessProbe"):
            assert c[probe]["httpGet"] == {"path": "/metrics", "port": "metrics"}, (s, probe)
        assert {"name": "metrics", "containerPort": 9100, "protocol": "TCP"} in c["ports"]
    g = pod_spec(deps["civicgrid-gateway"])["containers"][0]
    assert g["command"] == ["python", "-m", "gateway"]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert g[probe]["grpc"]["port"] == 50051, probe
    console = pod_spec(deps["civicgrid-console"])["containers"][0]
    assert console["command"] == ["python", "-m", "console"]
    for probe in ("livenessProbe", "startupProbe"):
        assert console[probe]["httpGet"] == {"path": "/healthz", "port": "http"}, probe
    # Ready while the gateway answers; a gateway outage must not restart it.
    assert console["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    door = pod_spec(deps["civicgrid-door"])["containers"][0]
    assert door["command"] == ["python", "-m", "door"]
    for probe in ("livenessProbe", "startupProbe"):
        assert door[probe]["httpGet"] == {"path": "/healthz", "port": "http"}, probe
    assert door["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    transcoder = pod_spec(deps["civicgrid-transcoder"])["containers"][0]
    assert transcoder["image"].split("/")[-1].startswith("civicgrid-transcoder:"), "its own image"
    for probe in ("livenessProbe", "startupProbe"):
        assert transcoder[probe]["httpGet"] == {"path": "/healthz", "port": "http"}, probe
    # Ready while the gateway's health check says SERVING.
    assert transcoder["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    for sts in kinds(docs, "StatefulSet"):
        c = pod_spec(sts)["containers"][0]
        assert "livenessProbe" in c and "readinessProbe" in c, sts["metadata"]["name"]


def test_every_pod_has_its_own_network_policy(rendered):
    _, docs = rendered
    pols = kinds(docs, "NetworkPolicy")
    deny = [p for p in pols if p["spec"]["podSelector"] == {}]
    assert deny and set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny[0]["spec"] and "egress" not in deny[0]["spec"], "default deny must allow nothing"
    specific = [p for p in pols if p["spec"]["podSelector"]]
    for w in workloads(docs):
        labels = w["spec"]["template"]["metadata"]["labels"]
        assert any(selects(p["spec"]["podSelector"], labels) for p in specific), w["metadata"]["name"]


def _egress_ports(policy):
    return {(p.get("protocol", "TCP"), p["port"]) for rule in policy["spec"].get("egress", []) for p in rule.get("ports", [])}


def test_network_policy_egress_allow_lists(rendered):
    _, docs = rendered
    pols = by_name(docs, "NetworkPolicy")
    dns = {("UDP", 53), ("TCP", 53)}
    for s in SERVICES:
        p = pols[f"civicgrid-{s}"]
        partner_path = {("TCP", 15672), ("TCP", 443)} if s == "notifications" else set()
        assert _egress_ports(p) == {("TCP", 5672), ("TCP", 27017)} | dns | partner_path, s
        for rule in p["spec"]["egress"]:
            assert rule.get("to"), f"{s}: egress rule without 'to' allows any destination"
        ingress_ports = {pt["port"] for r in p["spec"]["ingress"] for pt in r["ports"]}
        assert ingress_ports == {9100}, s
    gw = pols["civicgrid-gateway"]
    assert _egress_ports(gw) == {("TCP", 5672)} | dns
    assert {pt["port"] for r in gw["spec"]["ingress"] for pt in r["ports"]} == {50051, 9100}
    console = pols["civicgrid-console"]
    assert _egress_ports(console) == {("TCP", 50051)} | dns, "the console reaches the gateway and nothing else"
    sign_in = pols["civicgrid-identity-provider"]  # and both the identity provider, over https
    assert _egress_ports(sign_in) == {("TCP", 443)} and "ingress" not in sign_in["spec"]
    assert {pt["port"] for r in console["spec"]["ingress"] for pt in r["ports"]} == {8080}
    door = pols["civicgrid-door"]
    assert _egress_ports(door) == {("TCP", 50051)} | dns, "the Open311 door reaches the gateway and nothing else"
    assert {pt["port"] for r in door["spec"]["ingress"] for pt in r["ports"]} == {8081}
    transcoder = pols["civicgrid-transcoder"]
    assert _egress_ports(transcoder) == {("TCP", 50051)} | dns, "the transcoder reaches the gateway and nothing else"
    assert {pt["port"] for r in transcoder["spec"]["ingress"] for pt in r["ports"]} == {8082}
    # metrics ingress only from Prometheus
    for a in APPS:
        for r in pols[a]["spec"]["ingress"]:
            if any(pt["port"] == 9100 for pt in r["ports"]):
                assert r["from"] and all("namespaceSelector" in f for f in r["from"]), a


PRIVATE_RANGES = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "127.0.0.0/8"}


def test_the_partner_path_is_open_and_nothing_more(rendered):
    """Notifications reaches the broker's management API and https on the internet (webhooks, the
    SMS provider) but no private range; partners reach the broker from outside only on AMQPS."""
    _, docs = rendered
    pols = by_name(docs, "NetworkPolicy")
    egress = pols["civicgrid-notifications"]["spec"]["egress"]
    [internet] = [rule for rule in egress if any(p["port"] == 443 for p in rule["ports"])]
    [block] = internet["to"]
    assert block["ipBlock"]["cidr"] == "0.0.0.0/0" and set(block["ipBlock"]["except"]) == PRIVATE_RANGES
    [broker] = [rule for rule in egress if any(p["port"] == 15672 for p in rule["ports"])]
    assert broker["to"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "rabbitmq"}}}]
    ingress = {p["port"]: rule["from"] for rule in pols["rabbitmq"]["spec"]["ingress"] for p in rule["ports"]}
    assert ingress[15672] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "civicgrid-notifications"}}}]
    assert ingress[5671] == [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
    assert set(ingress) == {5672, 5671, 15672, 15692}

    partners = by_name(docs, "Service")["rabbitmq-partners"]
    assert partners["spec"]["type"] == "LoadBalancer"
    assert [(p["port"], p["targetPort"]) for p in partners["spec"]["ports"]] == [(5671, "amqps")]
    broker_pod = pod_spec(by_name(docs, "StatefulSet")["rabbitmq"])
    assert {"name": "amqps", "containerPort": 5671} in broker_pod["containers"][0]["ports"]
    [tls] = [v for v in broker_pod["volumes"] if v["name"] == "partner-tls"]
    assert tls["secret"]["secretName"].startswith("rabbitmq-partner-tls")
    conf = by_name(docs, "ConfigMap")
    [broker_conf] = [c for name, c in conf.items() if name.startswith("rabbitmq-config")]
    assert "listeners.ssl.default = 5671" in broker_conf["data"]["rabbitmq.conf"]
    [notifications] = [w for w in workloads(docs) if w["metadata"]["name"] == "civicgrid-notifications"]
    env = {e["name"]: e.get("value") for e in pod_spec(notifications)["containers"][0]["env"]}
    assert env["RABBITMQ_API"] == "http://rabbitmq:15672/api"


def test_the_console_the_door_the_gateway_and_the_transcoder_are_published_over_tls_only(rendered):
    _, docs = rendered
    ingresses = by_name(docs, "Ingress")
    assert set(ingresses) == {"civicgrid-console", "civicgrid-door", "civicgrid-gateway", "civicgrid-transcoder"}
    assert ingresses["civicgrid-door"]["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/open311"
    for name, ingress in ingresses.items():
        [rule] = ingress["spec"]["rules"]
        [tls] = ingress["spec"]["tls"]
        assert tls["secretName"].startswith("civicgrid-ingress-tls") and tls["hosts"] == [rule["host"]], name
        assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/ssl-redirect"] == "true", name
        assert {path["backend"]["service"]["name"] for path in rule["http"]["paths"]} == {name}, name
    assert ingresses["civicgrid-gateway"]["metadata"]["annotations"][
        "nginx.ingress.kubernetes.io/backend-protocol"] == "GRPC"
    # JSON beside gRPC on the gateway's host, over HTTP to its backend.
    transcoder = ingresses["civicgrid-transcoder"]
    assert transcoder["spec"]["rules"][0]["host"] == ingresses["civicgrid-gateway"]["spec"]["rules"][0]["host"]
    assert [path["path"] for path in transcoder["spec"]["rules"][0]["http"]["paths"]] == ["/v1", "/openapi.json"]
    assert "nginx.ingress.kubernetes.io/backend-protocol" not in transcoder["metadata"]["annotations"]


def test_compose_opens_the_partner_path(compose):
    services = compose["services"]
    assert services["notifications"]["environment"]["RABBITMQ_API"] == "http://rabbitmq:15672/api"
    broker = services["rabbitmq"]
    assert "5671:5671" in broker["ports"] and not any(port.endswith(":5672") for port in broker["ports"])
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in broker["volumes"]}
    tls_conf = (ROOT / mounts["/etc/rabbitmq/conf.d/20-partners-tls.conf"]).read_text()
    assert "listeners.ssl.default = 5671" in tls_conf
    certificates = ROOT / mounts["/etc/rabbitmq/tls"]
    assert (certificates / "tls.crt").read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" in (certificates / "tls.key").read_text()


def test_stateful_backends(rendered):
    _, docs = rendered
    sts = by_name(docs, "StatefulSet")
    svcs = by_name(docs, "Service")
    assert sts["mongodb"]["spec"]["replicas"] == 3
    assert "--replSet" in pod_spec(sts["mongodb"])["containers"][0]["args"]
    assert pod_spec(sts["mongodb"])["containers"][0]["image"].startswith("mongo:7")
    assert pod_spec(sts["rabbitmq"])["containers"][0]["image"].startswith("rabbitmq:3.13-management")
    for name in ("mongodb", "rabbitmq"):
        s = sts[name]
        assert s["spec"]["volumeClaimTemplates"], name
        headless = svcs[s["spec"]["serviceName"]]
        assert headless["spec"]["clusterIP"] == "None", name
    assert "mongodb-rs-init" in by_name(docs, "Job")


def test_service_monitor_selects_every_app(rendered):
    _, docs = rendered
    (sm,) = kinds(docs, "ServiceMonitor")
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    svcs = by_name(docs, "Service")
    for a in APPS:
        assert selects(sm["spec"]["selector"], svcs[a]["metadata"]["labels"]), a
        assert svcs[a]["metadata"]["labels"][sm["spec"]["jobLabel"]] == a, "job label must be civicgrid-<name>"
        assert any(p["name"] == ep["port"] for p in svcs[a]["spec"]["ports"] for ep in sm["spec"]["endpoints"]), a


def test_secret_and_config_references_resolve_in_dev(dev):
    secrets = by_name(dev, "Secret")
    assert len(secrets) == 3
    [credentials] = [secret for name, secret in secrets.items() if name.startswith("civicgrid-secrets")]
    for tls_name in ("rabbitmq-partner-tls", "civicgrid-ingress-tls"):
        [tls] = [secret for name, secret in secrets.items() if name.startswith(tls_name)]
        assert tls["type"] == "kubernetes.io/tls" and set(tls["data"]) == {"tls.crt", "tls.key"}
    secret_keys = set(credentials["data"])
    cm_keys = {k for cm in kinds(dev, "ConfigMap") for k in cm.get("data", {})}
    cm_names = {cm["metadata"]["name"] for cm in kinds(dev, "ConfigMap")}
    for w in workloads(dev):
        spec = pod_spec(w)
        for c in spec.get("initContainers", []) + spec["containers"]:
            for e in c.get("env", []):
                ref = e.get("valueFrom", {})
                if "secretKeyRef" in ref:
                    assert ref["secretKeyRef"]["name"] == credentials["metadata"]["name"]
                    assert ref["secretKeyRef"]["key"] in secret_keys, (w["metadata"]["name"], e["name"])
                if "configMapKeyRef" in ref:
                    assert ref["configMapKeyRef"]["key"] in cm_keys, (w["metadata"]["name"], e["name"])
            for ef in c.get("envFrom", []):
                assert ef["configMapRef"]["name"] in cm_names
        for v in spec.get("volumes", []):
            if "secret" in v:
                assert v["secret"]["secretName"] in secrets, (w["metadata"]["name"], v["name"])


def test_prod_has_no_committed_secret_and_scales_up(dev, prod):
    assert not kinds(prod, "Secret"), "prod credentials must not be rendered from the repo"
    dev_hpa, prod_hpa = by_name(dev, "HorizontalPodAutoscaler"), by_name(prod, "HorizontalPodAutoscaler")
    dev_dep, prod_dep = by_name(dev, "Deployment"), by_name(prod, "Deployment")

    def mem(q):
        return int(q[:-2]) * (1024 if q.endswith("Gi") else 1)

    for a in APPS:
        assert prod_hpa[a]["spec"]["minReplicas"] > dev_hpa[a]["spec"]["minReplicas"], a
        assert prod_hpa[a]["spec"]["maxReplicas"] > dev_hpa[a]["spec"]["maxReplicas"], a
        dl = pod_spec(dev_dep[a])["containers"][0]["resources"]["limits"]["memory"]
        pl = pod_spec(prod_dep[a])["containers"][0]["resources"]["limits"]["memory"]
        assert mem(pl) > mem(dl), a
    assert {d["metadata"]["namespace"] for d in prod if d["kind"] != "Namespace"} == {"civicgrid"}
    assert {d["metadata"]["namespace"] for d in dev if d["kind"] != "Namespace"} == {"civicgrid-dev"}


def test_base_is_namespace_agnostic():
    for f in (ROOT / "k8s" / "base").rglob("*.yaml"):
        for d in yaml.safe_load_all(f.read_text()):
            if d and "metadata" in d:
                assert "namespace" not in d["metadata"], f"{f.name}: {d['metadata']['name']}"


def test_manifests_are_written_by_hand():
    for f in (ROOT / "k8s").rglob("*.yaml"):
        assert not re.search(r"[&*]id\d+", f.read_text()), f"{f}: YAML anchors of a dumped file"


def test_every_service_is_the_one_nameko_service_template(dev):
    """Services differ only by name and module, residents also by its PII key, notifications by
    the broker's management API."""
    deps = by_name(dev, "Deployment")

    def shape(s):
        spec = json.loads(json.dumps(pod_spec(deps[f"civicgrid-{s}"])).replace(s, "SERVICE"))
        spec["containers"][0]["env"] = [e for e in spec["containers"][0]["env"]
                                        if e["name"] not in ("CIVICGRID_PII_KEY", "RABBITMQ_API")]
        return spec

    assert all(shape(s) == shape("grids") for s in SERVICES)


# --------------------------------------------------------------------------- docker-compose

def test_compose_healthchecks_for_every_container(compose):
    for name, svc in compose["services"].items():
        hc = svc.get("healthcheck")
        assert hc and hc.get("test") and not hc.get("disable"), f"{name} has no healthcheck"


def test_compose_apps(compose):
    services = compose["services"]
    for s in SERVICES:
        svc = services[s]
        assert svc["command"] == ["nameko", "run", "--config", "services/nameko.yaml", f"services.{s}.service"]
        assert svc["environment"]["METRICS_PORT"] == str(METRICS_PORTS[s])
        assert f"127.0.0.1:{METRICS_PORTS[s]}/ready" in " ".join(svc["healthcheck"]["test"])
        for key in ("AMQP_URI", "MONGO_URI", "LOG_LEVEL"):
            assert key in svc["environment"], (s, key)
    gw = services["gateway"]
    assert gw["command"] == ["python", "-m", "gateway"]
    assert "grpc_health" in " ".join(gw["healthcheck"]["test"])
    for name in SERVICES + ["gateway"]:
        svc = services[name]
        assert svc["read_only"] is True and svc["user"] == "10001:10001" and svc["cap_drop"] == ["ALL"], name
        assert svc["tmpfs"] == ["/tmp"], name
        for dep, cond in svc["depends_on"].items():
            assert cond == {"condition": "service_healthy"}, (name, dep)
        assert "rabbitmq" in svc["depends_on"], name
    console = services["console"]
    assert console["command"] == ["python", "-m", "console"] and console["environment"]["CONSOLE_GATEWAY"] == "gateway:50051"
    assert console["read_only"] is True and console["user"] == "10001:10001" and console["cap_drop"] == ["ALL"]
    assert console["depends_on"] == {"gateway": {"condition": "service_healthy"}}
    door = services["door"]
    assert door["command"] == ["python", "-m", "door"] and door["environment"]["DOOR_GATEWAY"] == "gateway:50051"
    assert door["read_only"] is True and door["user"] == "10001:10001" and door["cap_drop"] == ["ALL"]
    assert door["depends_on"] == {"gateway": {"condition": "service_healthy"}}
    transcoder = services["transcoder"]
    assert transcoder["build"]["target"] == "transcoder" and transcoder["environment"]["TRANSCODER_GATEWAY"] == "gateway:50051"
    assert transcoder["read_only"] is True and transcoder["user"] == "10001:10001" and transcoder["cap_drop"] == ["ALL"]
    assert transcoder["depends_on"] == {"gateway": {"condition": "service_healthy"}}
    assert {"mongo", "rabbitmq", "prometheus", "grafana"} <= set(services)
    assert services["mongo"]["image"] == "mongo:7"
    assert services["rabbitmq"]["image"] == "rabbitmq:3.13-management"
    for name, svc in services.items():
        for v in svc.get("volumes", []):
            src = v.split(":")[0]
            if not src.startswith("."):
                assert src in compose["volumes"], f"{name}: volume {src} is not a declared named volume"


def test_prometheus_scrapes_every_compose_app(compose):
    prom = yaml.safe_load((ROOT / "ops/prometheus/prometheus.yml").read_text())
    jobs = {j["job_name"]: [t for sc in j["static_configs"] for t in sc["targets"]] for j in prom["scrape_configs"]}
    for s, port in METRICS_PORTS.items():
        assert jobs[f"civicgrid-{s}"] == [f"{s}:{port}"]
    assert jobs["civicgrid-gateway"] == ["gateway:9100"]
    assert jobs["civicgrid-console"] == ["console:8080"]
    assert jobs["civicgrid-door"] == ["door:8081"]
    assert jobs["civicgrid-transcoder"] == ["transcoder:8082"]
    mounts = compose["services"]["prometheus"]["volumes"]
    assert any(m.startswith("./ops/prometheus:") for m in mounts)


# --------------------------------------------------------------------------- Dockerfile

def test_dockerfile_runtime_stage():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", text, flags=re.M)
    assert len(stages) >= 3, "expected a multi-stage build"
    runtime = stages[-1]
    assert "${PYTHON_IMAGE}" in runtime.splitlines()[0] and "python:3.11-slim" in text
    assert re.search(r"^USER 10001", runtime, flags=re.M)
    assert "PYTHONDONTWRITEBYTECODE=1" in runtime
    assert "PYTHONPATH=/app/gen/python" in runtime
    for tool in ("build-essential", "gcc", "grpcio-tools", "apt-get install"):
        assert tool not in runtime, f"{tool} must not be in the runtime stage"
    assert "grpc_tools.protoc" in stages[1]
    # The transcoder's image: a static binary alone, not root.
    [transcoder] = [stage for stage in stages if stage.startswith("scratch AS transcoder")]
    assert re.search(r"^USER 10001", transcoder, flags=re.M) and "CGO_ENABLED=0" in text
    ignore = (ROOT / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", "gen/", ".env"):
        assert entry in ignore, entry


# --------------------------------------------------------------------------- alerts and dashboard

def test_required_alerts_exist_and_are_tested_both_ways():
    rules = yaml.safe_load((ROOT / "ops/prometheus/alerts.yml").read_text())
    names = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    assert set(REQUIRED_ALERTS) <= names
    tests = yaml.safe_load((ROOT / "ops/prometheus/alerts_test.yml").read_text())["tests"]
    cases = [c for t in tests for c in t.get("alert_rule_test", [])]
    for alert in names:
        assert any(c["alertname"] == alert and c.get("exp_alerts") for c in cases), f"{alert}: no firing case"
        assert any(c["alertname"] == alert and not c.get("exp_alerts") for c in cases), f"{alert}: no silent case"


def test_dashboard_covers_red_events_and_business():
    dash = json.loads((ROOT / "ops/grafana/dashboards/civicgrid-overview.json").read_text())
    exprs = " ".join(t["expr"] for p in dash["panels"] for t in p.get("targets", []))
    for metric in ("civicgrid_rpc_requests_total", "civicgrid_rpc_request_duration_seconds_bucket",
                   "civicgrid_grpc_requests_total", "civicgrid_grpc_request_duration_seconds_bucket",
                   "civicgrid_events_published_total", "civicgrid_events_consumed_total",
                   "civicgrid_outbox_pending_events", "civicgrid_outbox_oldest_pending_age_seconds",
                   "civicgrid_tickets_open", "civicgrid_tickets_overdue",
                   "civicgrid_partner_deliveries_unacknowledged", "civicgrid_partner_deliveries_failed_total"):
        assert metric in exprs, metric
    assert "histogram_quantile(0.5" in exprs and "histogram_quantile(0.99" in exprs
    prov = yaml.safe_load((ROOT / "ops/grafana/provisioning/datasources/prometheus.yml").read_text())
    assert prov["datasources"][0]["type"] == "prometheus"
