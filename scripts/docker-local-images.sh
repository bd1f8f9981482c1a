#!/usr/bin/env bash
# docker-local-images.sh builds stand-ins for the public redis:7, memcached:1.6
# and haproxy:2.8 images from this host's Debian binaries, and for the golang
# image from this host's Go toolchain, for machines that cannot pull images
# (the sessionmesh CI machines). docker-compose.yml keeps the public images by
# default; point it at these with
#
#   export REDIS_IMAGE=sessionmesh/redis:local MEMCACHED_IMAGE=sessionmesh/memcached:local \
#          LB_IMAGE=sessionmesh/haproxy:local GO_IMAGE=sessionmesh/golang:local
#
# (or run scripts/docker-env.sh --local, which writes them into .env).
# GO_IMAGE is the demo Dockerfile's build stage (scripts/docker-build.sh).
#
#   scripts/docker-local-images.sh                 # all four
#   scripts/docker-local-images.sh golang redis    # only these (redis memcached haproxy golang)
#
# Each image is FROM scratch: the binary, every shared library ldd lists for
# it, and minimal /etc files (docker/base). Copying is enough because all three
# are plain ELF programs that dlopen nothing at run time in the way we use them.
# Binaries come from scripts/install-deps.sh. The golang image is the host's
# GOROOT, a shell, CA certificates and this repository's modules
# (docker/golang/Dockerfile). Idempotent; prints the names.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

REDIS_LOCAL=${REDIS_LOCAL:-sessionmesh/redis:local}
MEMCACHED_LOCAL=${MEMCACHED_LOCAL:-sessionmesh/memcached:local}
LB_LOCAL=${LB_LOCAL:-sessionmesh/haproxy:local}
GOLANG_LOCAL=${GOLANG_LOCAL:-sessionmesh/golang:local}

log() { echo "docker-local-images: $*"; }
die() { echo "docker-local-images: $*" >&2; exit 1; }

names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(redis memcached haproxy golang)
declare -A want=()
for name in "${names[@]}"; do
  case $name in
    redis | memcached | haproxy | golang) want[$name]=1 ;;
    *) die "unknown image $name (want redis, memcached, haproxy, golang)" ;;
  esac
done

command -v docker >/dev/null 2>&1 || die "docker not found in PATH"
declare -A programs=([redis]=redis-server [memcached]=memcached [haproxy]=haproxy)
for name in "${!want[@]}"; do
  [[ $name == golang ]] && continue
  command -v "${programs[$name]}" >/dev/null 2>&1 ||
    die "${programs[$name]} not found in PATH: run scripts/install-deps.sh first"
done
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
if [[ -n ${want[golang]:-} ]]; then
  [[ -x $GO ]] || die "go not found (set GO=/path/to/go)"
fi

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT

# copy_elf SRC DST stages the program SRC at rootfs path DST together with the
# shared libraries it loads, each at the same absolute path as on the host.
copy_elf() {
  local src=$1 dst=$2 root=$3 lib
  install -D -m 0755 "$(readlink -f "$src")" "$root$dst"
  # ldd prints "name => /path (addr)" and "/lib64/ld-linux... (addr)";
  # linux-vdso has no path and lives in the kernel.
  for lib in $(ldd "$src" | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i}'); do
    [[ -e "$root$lib" ]] && continue
    # keep the host's mode: the dynamic loader must stay executable
    mkdir -p "$root$(dirname "$lib")"
    cp -L --preserve=mode "$lib" "$root$lib"
  done
}

# stage NAME prepares $STAGE/NAME: the Dockerfile from docker/NAME and a
# rootfs with the base /etc files and a world-writable /tmp.
stage() {
  local dir=$STAGE/$1
  mkdir -p "$dir/rootfs/tmp"
  chmod 1777 "$dir/rootfs/tmp"
  cp -r "$ROOT/docker/base/etc" "$dir/rootfs/etc"
  cp "$ROOT/docker/$1/Dockerfile" "$dir/Dockerfile"
  echo "$dir"
}

build() {
  local name=$1 image=$2 dir=$3 version=$4
  log "building $image ($version)"
  # the output (and the legacy builder's deprecation notice) only on failure
  local out old
  old=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
  out=$(docker build -q --label "sessionmesh.local.source=$version" -t "$image" "$dir" 2>&1) ||
    { echo "$out" >&2; die "docker build of $image failed"; }
  # drop the image this one replaces, unless a container still uses it
  if [[ -n $old && $old != "$(docker image inspect -f '{{.Id}}' "$image")" ]]; then
    docker rmi "$old" >/dev/null 2>&1 || true
  fi
}

use=()
if [[ -n ${want[redis]:-} ]]; then
  dir=$(stage redis)
  copy_elf "$(command -v redis-server)" /usr/local/bin/redis-server "$dir/rootfs"
  mkdir -p "$dir/rootfs/data" && chmod 1777 "$dir/rootfs/data"
  build redis "$REDIS_LOCAL" "$dir" "$(redis-server --version | cut -d' ' -f1-3)"
  use+=("REDIS_IMAGE=$REDIS_LOCAL")
fi

if [[ -n ${want[memcached]:-} ]]; then
  dir=$(stage memcached)
  copy_elf "$(command -v memcached)" /usr/local/bin/memcached "$dir/rootfs"
  build memcached "$MEMCACHED_LOCAL" "$dir" "$(memcached -V)"
  use+=("MEMCACHED_IMAGE=$MEMCACHED_LOCAL")
fi

if [[ -n ${want[haproxy]:-} ]]; then
  dir=$(stage haproxy)
  copy_elf "$(command -v haproxy)" /usr/local/sbin/haproxy "$dir/rootfs"
  mkdir -p "$dir/rootfs/usr/local/etc/haproxy" "$dir/rootfs/var/lib/haproxy"
  build haproxy "$LB_LOCAL" "$dir" "$(haproxy -v | head -1 | cut -d' ' -f1-3)"
  use+=("LB_IMAGE=$LB_LOCAL")
fi

if [[ -n ${want[golang]:-} ]]; then
  dir=$(stage golang)
  mkdir -p "$dir/rootfs/usr/local" "$dir/rootfs/root"
  cp -a "$("$GO" env GOROOT)" "$dir/rootfs/usr/local/go"
  copy_elf /bin/sh /bin/sh "$dir/rootfs"
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$dir/rootfs/etc/ssl/certs/ca-certificates.crt"
  # the modules go.mod needs ("go mod download", as the demo's Dockerfile
  # runs it): into the host's module cache first (the network only for what
  # it lacks), then from there into the image's; -modcacherw so that the
  # stage can be removed
  modcache=$("$GO" env GOMODCACHE)
  log "copying the modules of go.mod from $modcache"
  "$GO" mod download || die "go mod download failed"
  GOMODCACHE="$dir/rootfs/go/pkg/mod" GOFLAGS=-modcacherw \
    GOPROXY="file://$modcache/cache/download,off" "$GO" mod download ||
    die "go mod download into the golang image failed"
  build golang "$GOLANG_LOCAL" "$dir" "$("$GO" version | cut -d' ' -f3-4)"
  use+=("GO_IMAGE=$GOLANG_LOCAL")
fi

log "done; to use them:"
echo "export ${use[*]}"
