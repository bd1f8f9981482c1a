#!/usr/bin/env bash
# test.sh runs every check of the module, the same way on a laptop and in CI
# (.ci/run calls it): it installs the servers the tests start as real
# processes (redis-server, memcached, haproxy: scripts/install-deps.sh), then
# runs go vet and the race-enabled tests, then the same in examples/ (a
# module of its own, so the library does not require chi and gin). Extra
# arguments go to go test, e.g. scripts/test.sh -run Counter -v. It never passes -short: that is the
# inner loop (go test -short ./...), which skips every test that starts a
# process or a container.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
echo "test.sh: go vet ./..."
go vet ./...
echo "test.sh: go test -race -count=1 -timeout 20m $* ./..."
go test -race -count=1 -timeout 20m "$@" ./...
echo "test.sh: in examples/: go vet ./... && go test -race -count=1 -timeout 5m $* ./..."
(cd examples && go vet ./... && go test -race -count=1 -timeout 5m "$@" ./...)
