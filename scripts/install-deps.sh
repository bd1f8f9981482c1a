#!/usr/bin/env bash
# install-deps.sh installs the server binaries that the tests (internal/servertest)
# and the compose tests start as real processes: redis-server, redis-sentinel,
# redis-cli, memcached and haproxy; wrk, the load generator of
# go run ./test/bench; and chromium, the headless browser of
# test/browser_test.go. Idempotent and non-interactive; Debian only.
#
# Debian 12 packaging: the real redis binary is /usr/bin/redis-check-rdb from
# redis-tools; redis-server and redis-sentinel are symlinks to it shipped by the
# packages of the same names. Those packages (and memcached) start system
# services on the default ports, which this script stops and disables.
set -euo pipefail

# binary -> Debian package that provides it
declare -A PKG_OF=(
  [redis-server]=redis-server
  [redis-sentinel]=redis-sentinel
  [redis-cli]=redis-tools
  [memcached]=memcached
  [haproxy]=haproxy
  [wrk]=wrk
  [chromium]=chromium
)
BINARIES=(redis-server redis-sentinel redis-cli memcached haproxy wrk chromium)
# system services that Debian auto-starts on install
SERVICES=(redis-server redis-sentinel memcached haproxy)

log() { echo "install-deps: $*"; }

missing=()
for bin in "${BINARIES[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || missing+=("$bin")
done

if ((${#missing[@]} == 0)); then
  log "all binaries present: ${BINARIES[*]}"
else
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: apt-get not found (not Debian/Ubuntu)." >&2
    echo "install-deps: install these binaries by hand and put them in PATH: ${missing[*]}" >&2
    exit 1
  fi
  pkgs=()
  for bin in "${missing[@]}"; do pkgs+=("${PKG_OF[$bin]}"); done
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  log "missing: ${missing[*]}; installing packages: ${pkgs[*]}"
  # Wait for another apt (a second checkout installing, unattended
  # upgrades) instead of failing on its lock.
  wait_lock=(-o DPkg::Lock::Timeout=600)
  $SUDO apt-get "${wait_lock[@]}" update -qq
  $SUDO apt-get "${wait_lock[@]}" install -y -qq --no-install-recommends "${pkgs[@]}"
fi

# Stop and disable auto-started system services so they don't hold the
# default ports; tests run their own processes on free ports.
for svc in "${SERVICES[@]}"; do
  [[ -e /etc/init.d/$svc ]] || continue
  state="was not running"
  if service "$svc" status >/dev/null 2>&1; then state="was running, stopped"; fi
  if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  else
    service "$svc" stop >/dev/null 2>&1 || true
    if command -v update-rc.d >/dev/null 2>&1; then
      update-rc.d "$svc" disable >/dev/null 2>&1 || true
    fi
  fi
  log "service $svc: $state; disabled at boot"
done

for bin in "${BINARIES[@]}"; do
  if ! command -v "$bin" >/dev/null 2>&1; then
    echo "install-deps: $bin still missing after install" >&2
    exit 1
  fi
  log "ok $bin -> $(readlink -f "$(command -v "$bin")")"
done
