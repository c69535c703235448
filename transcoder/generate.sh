#!/usr/bin/env bash
# Generates the transcoder's Go code (messages, gRPC clients, grpc-gateway handlers) and the merged
# OpenAPI document from protos/ into transcoder/gen. `make transcoder` and the Dockerfile run it.
#
#   transcoder/generate.sh PYTHON PLUGINS
#
# PYTHON has grpcio-tools and googleapis-common-protos (google/api/annotations.proto); PLUGINS is
# the folder of protoc-gen-go, -go-grpc, -grpc-gateway and -openapiv2, built from the tools pinned
# in transcoder/go.mod.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python=$1
plugins=$(cd "$2" && pwd)
out=transcoder/gen
googleapis=$("$python" -c 'import pathlib, google.api.annotations_pb2 as m; print(pathlib.Path(m.__file__).parents[2])')
mapfile -t protos < <(find protos -name '*.proto' | sort)

# Go import paths by protoc's M flags, so the protos carry no Go-specific option, e.g.
# Mcivicgrid/grids/v1/grids.proto=civicgrid/transcoder/gen/civicgrid/grids/v1;gridsv1
options=()
for proto in "${protos[@]}"; do
  file=${proto#protos/}
  folder=$(dirname "$file")
  IFS=/ read -r _ name version <<<"$folder"
  for plugin in go go-grpc grpc-gateway openapiv2; do
    options+=("--${plugin}_opt=M$file=civicgrid/transcoder/gen/$folder;$name$version")
  done
done
for plugin in go go-grpc grpc-gateway; do
  options+=("--${plugin}_out=$out" "--${plugin}_opt=paths=source_relative")
done

rm -rf "$out" && mkdir -p "$out/openapi"
"$python" -m grpc_tools.protoc -Iprotos -I"$googleapis" \
  --plugin=protoc-gen-go="$plugins/protoc-gen-go" --plugin=protoc-gen-go-grpc="$plugins/protoc-gen-go-grpc" \
  --plugin=protoc-gen-grpc-gateway="$plugins/protoc-gen-grpc-gateway" \
  --plugin=protoc-gen-openapiv2="$plugins/protoc-gen-openapiv2" \
  "${options[@]}" \
  --openapiv2_out="$out/openapi" \
  --openapiv2_opt=allow_merge=true,merge_file_name=civicgrid,openapi_configuration=transcoder/openapi.yaml \
  "${protos[@]}"
