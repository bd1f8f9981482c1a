#!/usr/bin/env bash
# docker-build.sh builds the demo image through the multi-stage Dockerfile:
# cmd/demo is compiled in a build stage FROM $GO_IMAGE (unset: the
# Dockerfile's default, the public golang image) and copied into an empty
# image. Go is not needed on this host. On a machine that cannot pull the
# golang image, build its look-alike first:
#
#   scripts/docker-local-images.sh golang
#   GO_IMAGE=sessionmesh/golang:local scripts/docker-build.sh
#
# The image name is $DEMO_IMAGE, default sessionmesh/demo:local, the name
# docker-compose.yml uses (docker compose up --build builds the same image).
set -euo pipefail

cd "$(dirname "$0")/.."

DEMO_IMAGE=${DEMO_IMAGE:-sessionmesh/demo:local}
GO_IMAGE=${GO_IMAGE:-}
command -v docker >/dev/null 2>&1 || { echo "docker-build: docker not found in PATH" >&2; exit 1; }

args=(-t "$DEMO_IMAGE")
[[ -n $GO_IMAGE ]] && args+=(--build-arg "GO_IMAGE=$GO_IMAGE")
echo "docker-build: docker build -t $DEMO_IMAGE (build stage FROM ${GO_IMAGE:-the default of the Dockerfile})"
old=$(docker image inspect -f '{{.Id}}' "$DEMO_IMAGE" 2>/dev/null || true)
start=$SECONDS
# the output (and the legacy builder's deprecation notice) only on failure
out=$(docker build -q "${args[@]}" . 2>&1) ||
  { echo "$out" >&2; echo "docker-build: docker build failed" >&2; exit 1; }
# drop the image this one replaces, unless a container still uses it
if [[ -n $old && $old != "$(docker image inspect -f '{{.Id}}' "$DEMO_IMAGE")" ]]; then
  docker rmi "$old" >/dev/null 2>&1 || true
fi
# The legacy builder keeps every stage but the one built as an untagged
# image: the build stage's is some 330 MB, and each build whose sources
# changed adds one. Keep the newest of each stage (the next build's cache)
# and drop the older ones.
for stage in build loadcheck; do
  stale=$(docker images -q --filter dangling=true --filter "label=sessionmesh.stage=$stage" | tail -n +2)
  if [[ -n $stale ]]; then
    # shellcheck disable=SC2086 # one ID per word
    docker rmi $stale >/dev/null 2>&1 ||
      echo "docker-build: could not remove the older $stage stage images $stale (docker image prune removes them)" >&2
  fi
done
echo "docker-build: built $DEMO_IMAGE in $((SECONDS - start))s"
