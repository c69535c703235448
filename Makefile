# civicgrid: `make up` runs the platform on this machine, `make test` runs the whole suite.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
VENV := .venv
PY := $(VENV)/bin/python
PROTO_OUT := gen/python
PROTOS := $(shell find protos -name '*.proto')
STACK_DIR := .run/stack

.PHONY: install protos transcoder up down test test-unit bench clean

CATALOGUES := $(patsubst %.po,%.mo,$(wildcard console/translations/*/LC_MESSAGES/messages.po))

install: $(VENV)/.installed $(PROTO_OUT)/.built $(CATALOGUES) transcoder

$(VENV)/.installed: pyproject.toml
	@command -v python3.11 >/dev/null || command -v python3 >/dev/null || { echo "Python 3.11 is required (e.g. apt-get install python3.11 python3.11-venv)" >&2; exit 1; }
	test -x $(PY) || $$(command -v python3.11 || command -v python3) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip "setuptools<81" wheel
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# google/api/annotations.proto and http.proto (the contracts' HTTP bindings) come with the pip
# package googleapis-common-protos; protoc finds them in the venv's site-packages.
PROTOC = $(PY) -m grpc_tools.protoc -Iprotos \
	-I$$($(PY) -c 'import pathlib, google.api.annotations_pb2 as m; print(pathlib.Path(m.__file__).parents[2])')

# Generated code is not committed; it is rebuilt whenever a contract changes.
$(PROTO_OUT)/.built: $(PROTOS) $(VENV)/.installed
	rm -rf $(PROTO_OUT) && mkdir -p $(PROTO_OUT)
	$(PROTOC) --python_out=$(PROTO_OUT) --pyi_out=$(PROTO_OUT) --grpc_python_out=$(PROTO_OUT) $(PROTOS)
	find $(PROTO_OUT)/civicgrid -type d -exec touch {}/__init__.py \;
	echo "$(CURDIR)/$(PROTO_OUT)" > $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/civicgrid-protos.pth
	touch $@

protos: $(PROTO_OUT)/.built

# The JSON transcoder (transcoder/, Go): its Go code and OpenAPI document are generated from the
# protos (transcoder/generate.sh), not committed. The protoc plugins are pinned as tools in
# transcoder/go.mod, so each generator is at the version of the runtime library its code calls.
GO := GOTOOLCHAIN=local go
PLUGINS := build/protoc-plugins
TRANSCODER_GEN := transcoder/gen
TRANSCODER := build/transcoder/civicgrid-transcoder
TRANSCODER_SOURCES := transcoder/go.mod transcoder/go.sum $(filter-out %_test.go,$(wildcard transcoder/*.go))

$(PLUGINS)/.built: transcoder/go.mod transcoder/go.sum
	cd transcoder && GOBIN=$(CURDIR)/$(PLUGINS) $(GO) install tool
	touch $@

$(TRANSCODER_GEN)/.built: $(PROTOS) transcoder/generate.sh transcoder/openapi.yaml $(PLUGINS)/.built $(VENV)/.installed
	transcoder/generate.sh $(PY) $(PLUGINS)
	touch $@

$(TRANSCODER): $(TRANSCODER_GEN)/.built $(TRANSCODER_SOURCES)
	cd transcoder && CGO_ENABLED=0 $(GO) build -trimpath -o $(CURDIR)/$@ .

transcoder: $(TRANSCODER)

# The console's zh-CN texts: compiled catalogues are built, not committed.
console/translations/%/LC_MESSAGES/messages.mo: console/translations/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(VENV)/bin/pybabel --quiet compile -i $< -o $@

up: install
	eval "$$(scripts/servers.sh up)" && $(PY) scripts/devstack.py up --state-dir $(STACK_DIR) --seed

down:
	test -x $(PY) && $(PY) scripts/devstack.py down --state-dir $(STACK_DIR) || true
	scripts/servers.sh down

test: install
	eval "$$(scripts/servers.sh up)" && eval "$$(scripts/browser.sh)" && scripts/validate-deploy.sh --install && $(PY) -m pytest -q -rfEs $(PYTEST_ARGS)

test-unit: install
	$(PY) -m pytest -q tests/unit tests/contracts

# `make bench BENCH="speed_bench --quick"` runs one benchmark with its arguments.
bench: install
	eval "$$(scripts/servers.sh up)" && bench/run.sh $(BENCH)

clean:
	rm -rf $(VENV) $(PROTO_OUT) .run build $(TRANSCODER_GEN)
