#!/usr/bin/env bash
# Validate civicgrid's deployment artefacts without a cluster or a Docker engine.
#
#   scripts/validate-deploy.sh            install missing tools, then run every check
#   scripts/validate-deploy.sh --install  only install the tools (used by `make test`; alias --setup)
#   scripts/validate-deploy.sh --paths    print the tool paths it uses (after --setup)
#
# Tools (all from package registries):
#   pip  -> kubernetes-validate, check-jsonschema, PyYAML   (into .venv if present, else a cached venv)
#   go   -> kustomize (render overlays), kube-score (lint)  (GOBIN = $(go env GOPATH)/bin)
#   apt  -> promtool (Debian package "prometheus")
# kube-linter is not used: its module host (golang.stackrox.io) is not reachable through the
# Go module proxy here, so kube-score (github.com/zegl/kube-score) does the linting.
#
# Env: CIVICGRID_DEPLOY_OUT=dir keeps the rendered manifests (dev.yaml, prod.yaml) there.
#      CIVICGRID_DEPLOY_VENV=dir overrides the venv used when the repo has no .venv.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

KUSTOMIZE_VERSION="v5.4.3"
KUBE_SCORE_VERSION="v1.20.0"
KUBERNETES_VALIDATE_VERSION="1.37.0"
CHECK_JSONSCHEMA_VERSION="0.39.0"
K8S_VERSION="1.30.0"   # cluster version the manifests target (grpc probes need >= 1.27)

if [ -x "$ROOT/.venv/bin/python" ]; then
  VENV="$ROOT/.venv"
else
  VENV="${CIVICGRID_DEPLOY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/civicgrid/deploy-venv}"
fi
PY="$VENV/bin/python"

die() { echo "validate-deploy: ERROR: $*" >&2; exit 2; }

gobin() {
  command -v go >/dev/null 2>&1 || die "go is not installed: needed to build kustomize and kube-score"
  local d; d="$(go env GOBIN)"; [ -n "$d" ] || d="$(go env GOPATH)/bin"; echo "$d"
}

go_built_at() {  # binary module version: true if $1 was built from module $2 at version $3
  [ -x "$1" ] && go version -m "$1" 2>/dev/null | awk -v m="$2" -v v="$3" '$1 == "mod" && $2 == m && $3 == v {f = 1} END {exit !f}'
}

setup() {
  # --- Python tools
  if [ ! -x "$PY" ]; then
    echo "validate-deploy: creating venv $VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed"
  fi
  if ! "$PY" - <<EOF >/dev/null 2>&1
import importlib.metadata as m, yaml
assert m.version("kubernetes-validate") == "$KUBERNETES_VALIDATE_VERSION"
assert m.version("check-jsonschema") == "$CHECK_JSONSCHEMA_VERSION"
EOF
  then
    echo "validate-deploy: pip install kubernetes-validate check-jsonschema pyyaml into $VENV"
    "$PY" -m pip install -q --disable-pip-version-check \
      "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" \
      "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" pyyaml || die "pip install failed"
  fi

  # --- Go tools (built once, cached in GOBIN)
  local bin; bin="$(gobin)"
  if ! go_built_at "$bin/kustomize" "sigs.k8s.io/kustomize/kustomize/v5" "$KUSTOMIZE_VERSION"; then
    echo "validate-deploy: go install kustomize $KUSTOMIZE_VERSION"
    GOTOOLCHAIN=local go install "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}" \
      || die "go install kustomize failed"
  fi
  if ! go_built_at "$bin/kube-score" "github.com/zegl/kube-score" "$KUBE_SCORE_VERSION"; then
    echo "validate-deploy: go install kube-score $KUBE_SCORE_VERSION"
    GOTOOLCHAIN=local go install "github.com/zegl/kube-score/cmd/kube-score@${KUBE_SCORE_VERSION}" \
      || die "go install kube-score failed"
  fi

  # --- promtool (Debian package "prometheus")
  if ! command -v promtool >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "validate-deploy: apt-get install prometheus (for promtool)"
      if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }; then
        die "apt-get install prometheus failed"
      fi
    else
      die "promtool not found; install the Debian package 'prometheus' (apt-get install prometheus)"
    fi
  fi
}

paths() {
  local bin; bin="$(gobin)"
  echo "python=$PY"
  echo "kubernetes-validate=$VENV/bin/kubernetes-validate"
  echo "check-jsonschema=$VENV/bin/check-jsonschema"
  echo "kustomize=$bin/kustomize"
  echo "kube-score=$bin/kube-score"
  echo "promtool=$(command -v promtool || echo missing)"
}

case "${1:-}" in
  --setup|--install) setup; echo "validate-deploy: tools ready"; exit 0 ;;
  --paths) paths; exit 0 ;;
  "") ;;
  *) die "unknown argument: $1 (use --setup, --paths or nothing)" ;;
esac

setup
BIN="$(gobin)"
KUSTOMIZE="$BIN/kustomize"
KUBE_SCORE="$BIN/kube-score"
OUT="${CIVICGRID_DEPLOY_OUT:-}"
if [ -z "$OUT" ]; then OUT="$(mktemp -d)"; trap 'rm -rf "$OUT"' EXIT; fi
mkdir -p "$OUT"

passed=0; failed=0; failures=()
check() {  # check "name" cmd args...
  local name="$1"; shift
  local log
  log="$OUT/log.$(echo "$name" | tr -c 'a-zA-Z0-9' '_')"
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1)); echo "PASS  $name"
  else
    failed=$((failed + 1)); failures+=("$name"); echo "FAIL  $name"; sed 's/^/      /' "$log" | tail -n 60
  fi
}

split_crds() {  # $1 rendered multi-doc file -> $1.core.yaml (built-in kinds) + $1.sm-N.json (ServiceMonitors)
  "$PY" - "$1" <<'EOF'
import json, sys, yaml
src = sys.argv[1]
docs = [d for d in yaml.safe_load_all(open(src)) if d]
core = [d for d in docs if d.get("apiVersion") != "monitoring.coreos.com/v1"]
crds = [d for d in docs if d.get("apiVersion") == "monitoring.coreos.com/v1"]
assert all(d["kind"] == "ServiceMonitor" for d in crds), "unexpected monitoring.coreos.com kind"
assert crds, "no ServiceMonitor rendered"
base = src[: -len(".yaml")]
with open(base + ".core.yaml", "w") as f:
    yaml.safe_dump_all(core, f, sort_keys=False)
for i, d in enumerate(crds):
    json.dump(d, open(f"{base}.sm-{i}.json", "w"))
print(f"{len(core)} built-in objects, {len(crds)} ServiceMonitor(s)")
EOF
}

# Rules for kube-score, each ignore with its reason:
#  - container-seccomp-profile is optional in kube-score: enable it (every pod sets RuntimeDefault).
#  - dev only: container-image-pull-policy (dev runs locally built images loaded into kind/minikube,
#    Always would force a registry pull) and horizontalpodautoscaler-replicas (dev runs 1 replica).
#  - per-object kube-score/ignore annotations in k8s/base document the rest (uid 999 of the official
#    mongo/rabbitmq images).
KS_COMMON=(score --kubernetes-version "v${K8S_VERSION%.*}" --enable-optional-test container-seccomp-profile
           --exit-one-on-warning --output-format ci)

for overlay in dev prod; do
  rendered="$OUT/$overlay.yaml"
  check "kustomize build k8s/overlays/$overlay" sh -c "'$KUSTOMIZE' build '$ROOT/k8s/overlays/$overlay' > '$rendered'"
  [ -s "$rendered" ] || continue
  check "split $overlay: built-in kinds vs CRDs" split_crds "$rendered"
  check "kubernetes-validate --strict ($overlay, k8s $K8S_VERSION)" \
    "$VENV/bin/kubernetes-validate" --strict --quiet -k "$K8S_VERSION" "$OUT/$overlay.core.yaml"
  sm_files=("$OUT/$overlay".sm-*.json)
  check "ServiceMonitor schema ($overlay; CRD, not known to kubernetes-validate)" \
    "$VENV/bin/check-jsonschema" --schemafile "$ROOT/k8s/schemas/servicemonitor.schema.json" "${sm_files[@]}"
  if [ "$overlay" = dev ]; then
    check "kube-score ($overlay)" "$KUBE_SCORE" "${KS_COMMON[@]}" \
      --ignore-test container-image-pull-policy --ignore-test horizontalpodautoscaler-replicas "$OUT/$overlay.core.yaml"
  else
    check "kube-score ($overlay)" "$KUBE_SCORE" "${KS_COMMON[@]}" "$OUT/$overlay.core.yaml"
  fi
done

check "docker-compose.yml against the compose spec" \
  "$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$ROOT/docker-compose.yml"
check "promtool check config" promtool check config "$ROOT/ops/prometheus/prometheus.yml"
check "promtool check rules" promtool check rules "$ROOT/ops/prometheus/alerts.yml"
check "promtool test rules" promtool test rules "$ROOT/ops/prometheus/alerts_test.yml"

dashboard_queries() {  # JSON-parse every dashboard and type-check its PromQL with promtool
  "$PY" - "$ROOT/ops/grafana/dashboards" "$OUT/dashboard-queries.yml" <<'EOF'
import glob, json, sys, yaml
dash_dir, out = sys.argv[1], sys.argv[2]
rules, files = [], sorted(glob.glob(dash_dir + "/*.json"))
assert files, "no dashboard JSON found"
for f in files:
    d = json.load(open(f))
    assert d.get("uid") and d.get("title"), f"{f}: uid/title missing"
    def walk(ps):
        for p in ps:
            yield p
            yield from walk(p.get("panels", []))
    for p in walk(d["panels"]):
        for t in p.get("targets", []):
            expr = t["expr"].replace("$__rate_interval", "5m").replace("$service", ".*")
            rules.append({"record": f"dashboard:q{len(rules)}", "expr": expr})
yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}, open(out, "w"))
print(f"{len(files)} dashboard(s), {len(rules)} queries")
EOF
  promtool check rules "$OUT/dashboard-queries.yml"
}
check "grafana dashboards: JSON + PromQL" dashboard_queries
check "grafana provisioning YAML" "$PY" -c "import sys, yaml; [yaml.safe_load(open(f)) for f in sys.argv[1:]]" \
  "$ROOT"/ops/grafana/provisioning/*/*.yml

echo "validate-deploy: $passed checks passed, $failed failed"
if [ "$failed" -ne 0 ]; then
  printf 'validate-deploy: failed: %s\n' "${failures[@]}"
  exit 1
fi
