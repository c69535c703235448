# syntax=docker/dockerfile:1
# One image for every civicgrid Python process (five Nameko services, gRPC gateway, web console,
# Open311 door), the default target; and the JSON transcoder's own image (Go, a static binary on
# an empty base): docker build --target transcoder -t civicgrid-transcoder .
# The command is chosen by docker-compose.yml / k8s, e.g.
#   nameko run --config services/nameko.yaml services.tickets.service
#   python -m gateway
#   python -m console
#   python -m door
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG GO_IMAGE=golang:1.26-bookworm

############################ builder ############################
FROM ${PYTHON_IMAGE} AS builder
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*

# Build-only tooling lives in its own venv so it never reaches the runtime image.
RUN python -m venv /opt/buildtools \
 && /opt/buildtools/bin/pip install "grpcio-tools>=1.66,<2"
# The application venv that is copied into the runtime stage.
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY . .

# Generated protobuf/gRPC code -> /src/gen/python, the same protoc call as `make protos`
# (make itself is not used: its target builds the developer .venv first).
RUN set -eux; \
    rm -rf gen/python; mkdir -p gen/python; \
    find protos -name '*.proto' -print0 | xargs -0 /opt/buildtools/bin/python -m grpc_tools.protoc \
        -Iprotos --python_out=gen/python --pyi_out=gen/python --grpc_python_out=gen/python; \
    find gen/python/civicgrid -type d -exec touch {}/__init__.py \; ; \
    test -n "$(find gen/python -name '*_pb2.py' -print -quit)"

RUN pip install --upgrade pip && pip install .
# The console's zh-CN catalogue, compiled as `make install` compiles it.
RUN pybabel --quiet compile -d console/translations
# Pre-compile so nothing needs to write .pyc at runtime (read-only rootfs).
RUN python -m compileall -q /opt/venv /src/gen/python \
 && for d in services gateway console door; do if [ -d "$d" ]; then python -m compileall -q "$d"; fi; done

############################ transcoder (docker build --target transcoder) ############################
# BuildKit builds these stages only for that target, never for the default one.
# The protoc plugins, at the versions transcoder/go.mod pins.
FROM ${GO_IMAGE} AS transcoder-plugins
WORKDIR /src/transcoder
COPY transcoder/go.mod transcoder/go.sum ./
RUN CGO_ENABLED=0 GOTOOLCHAIN=local GOBIN=/opt/protoc-plugins go install tool

# Go code and the OpenAPI document from the protos, by the script `make transcoder` runs.
FROM ${PYTHON_IMAGE} AS transcoder-gen
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/buildtools \
 && /opt/buildtools/bin/pip install "grpcio-tools>=1.66,<2" "googleapis-common-protos>=1.63,<2"
COPY --from=transcoder-plugins /opt/protoc-plugins /opt/protoc-plugins
WORKDIR /src
COPY protos protos
COPY transcoder transcoder
RUN transcoder/generate.sh /opt/buildtools/bin/python /opt/protoc-plugins

FROM ${GO_IMAGE} AS transcoder-build
WORKDIR /src/transcoder
COPY --from=transcoder-gen /src/transcoder .
RUN CGO_ENABLED=0 GOTOOLCHAIN=local go build -trimpath -ldflags="-s -w" -o /out/civicgrid-transcoder .

# Nothing but the static binary: no shell, no package manager, nothing to write to.
FROM scratch AS transcoder
LABEL org.opencontainers.image.title="civicgrid-transcoder" \
      org.opencontainers.image.description="civicgrid HTTP/JSON for every gRPC method (grpc-gateway), in front of the gateway"
COPY --from=transcoder-build /out/civicgrid-transcoder /civicgrid-transcoder
USER 10001:10001
EXPOSE 8082
ENTRYPOINT ["/civicgrid-transcoder"]

############################ runtime ############################
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="civicgrid" \
      org.opencontainers.image.description="civicgrid Nameko services, gRPC gateway, web console and Open311 door"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app/gen/python \
    HOME=/tmp \
    TMPDIR=/tmp
RUN groupadd --system --gid 10001 civicgrid \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --shell /usr/sbin/nologin civicgrid
# Code and venv are owned by root and not writable by the app user; the only
# writable path the processes need is /tmp (an emptyDir/tmpfs in k8s/compose).
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /src /app
WORKDIR /app
USER 10001:10001
EXPOSE 50051 9100 8080
CMD ["python", "-m", "gateway"]
