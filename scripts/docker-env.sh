#!/usr/bin/env bash
# docker-env.sh writes .env for docker compose from .env.example with a fresh
# cluster secret (32 random bytes, base64), so that no secret is ever
# committed. An existing .env is left alone unless --force is given.
#
#   scripts/docker-env.sh            # public images (redis:7, memcached:1.6, haproxy:2.8)
#   scripts/docker-env.sh --local    # the look-alikes from scripts/docker-local-images.sh
#   scripts/docker-env.sh --force    # replace an existing .env (and its secret)
set -euo pipefail

cd "$(dirname "$0")/.."

local_images=false
force=false
for arg in "$@"; do
  case $arg in
    --local) local_images=true ;;
    --force) force=true ;;
    *) echo "docker-env: unknown argument $arg (want --local, --force)" >&2; exit 2 ;;
  esac
done

if [[ -e .env && $force == false ]]; then
  echo "docker-env: .env exists, left alone (use --force to replace it and its secret)"
  exit 0
fi

secret=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
tmp=$(mktemp .env.XXXXXX)
trap 'rm -f "$tmp"' EXIT
sed "s|^SESSIONS_CLUSTER_SECRET=.*|SESSIONS_CLUSTER_SECRET=$secret|" .env.example >"$tmp"
if [[ $local_images == true ]]; then
  sed -i -E 's/^# ((REDIS|MEMCACHED|LB|DEMO|GO)_IMAGE=)/\1/' "$tmp"
fi
chmod 600 "$tmp"
mv "$tmp" .env
trap - EXIT
echo "docker-env: wrote .env with a new cluster secret (local images: $local_images)"
