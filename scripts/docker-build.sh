#!/usr/bin/env bash
# docker-build.sh builds the demo image: cmd/demo compiled on this host as a
# static linux binary (CGO_ENABLED=0; no golang image is needed) and copied
# into an empty image by the Dockerfile. The image name is $DEMO_IMAGE,
# default sessionmesh/demo:local, the name docker-compose.yml uses.
set -euo pipefail

cd "$(dirname "$0")/.."

DEMO_IMAGE=${DEMO_IMAGE:-sessionmesh/demo:local}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
[[ -x $GO ]] || { echo "docker-build: go not found (set GO=/path/to/go)" >&2; exit 1; }
command -v docker >/dev/null 2>&1 || { echo "docker-build: docker not found in PATH" >&2; exit 1; }

# the image's architecture is the Docker engine's, not necessarily the host Go's
arch=$(docker version -f '{{.Server.Arch}}')
echo "docker-build: go build ./cmd/demo (linux/$arch, static)"
mkdir -p bin/docker
CGO_ENABLED=0 GOOS=linux GOARCH=$arch "$GO" build -trimpath -ldflags='-s -w' \
  -o bin/docker/demo ./cmd/demo

echo "docker-build: docker build -t $DEMO_IMAGE"
old=$(docker image inspect -f '{{.Id}}' "$DEMO_IMAGE" 2>/dev/null || true)
# the output (and the legacy builder's deprecation notice) only on failure
out=$(docker build -q -t "$DEMO_IMAGE" . 2>&1) ||
  { echo "$out" >&2; echo "docker-build: docker build failed" >&2; exit 1; }
# drop the image this one replaces, unless a container still uses it
if [[ -n $old && $old != "$(docker image inspect -f '{{.Id}}' "$DEMO_IMAGE")" ]]; then
  docker rmi "$old" >/dev/null 2>&1 || true
fi
echo "docker-build: built $DEMO_IMAGE"
