#!/usr/bin/env bash
# The two base images deploy/compose.yaml needs, built from Debian packages on
# a machine that reaches a Debian mirror but no image registry:
#   - a Python base for deploy/Dockerfile (Debian's python3, pip, CA store),
#   - a Redis image (Debian's redis-server), running as the `redis` user.
# Each is a debootstrap'ed minimal Debian root file system, imported with
# `docker import`. Run as root (debootstrap and chroot need it), on Debian or
# Ubuntu with `debootstrap` installed (apt-get install debootstrap).
#
#   sudo deploy/offline-images.sh
#   # then, in .env:  PYTHON_IMAGE=local/python:3.11-bookworm
#   #                 KIMI_REVIEW_REDIS_IMAGE=local/redis:bookworm
#
# Settings (environment): PYTHON_IMAGE, KIMI_REVIEW_REDIS_IMAGE (the names
# given to the images), SUITE (bookworm), MIRROR (http://deb.debian.org/debian;
# apt over plain HTTP checks packages by the archive's signatures, so a
# TLS-intercepting proxy is not in the way), REBUILD=1 to replace images that
# already exist. No CA is baked in: a build behind a TLS-intercepting proxy
# gives the site's bundle as a BuildKit secret (deploy/README.md).
set -euo pipefail

python_image=${PYTHON_IMAGE:-local/python:3.11-bookworm}
redis_image=${KIMI_REVIEW_REDIS_IMAGE:-local/redis:bookworm}
suite=${SUITE:-bookworm}
mirror=${MIRROR:-http://deb.debian.org/debian}

[ "$(id -u)" = 0 ] || { echo "offline-images.sh: run as root (debootstrap needs it)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "offline-images.sh: install debootstrap first" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "offline-images.sh: no Docker engine answers" >&2; exit 1; }

work=$(mktemp -d /var/tmp/kimi-review-images.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debs" # one package cache for both root file systems

# rootfs DIR PACKAGES: a minimal Debian with PACKAGES, stripped of what an
# image never uses (package lists, downloaded .debs, docs, man pages).
rootfs() {
  local dir=$1 packages=$2
  echo "offline-images.sh: debootstrap $suite with $packages" >&2
  debootstrap --variant=minbase --cache-dir="$work/debs" --include="$packages" \
    "$suite" "$dir" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; return 1; }
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb \
    "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/*
}

wanted() {
  [ "${REBUILD:-0}" = 1 ] || ! docker image inspect "$1" >/dev/null 2>&1
}

if wanted "$python_image"; then
  rootfs "$work/python" python3,python3-pip,python3-venv,python-is-python3,ca-certificates
  # Debian marks its Python "externally managed"; the build's only pip install
  # (uv, into the build stage) is meant to go into it.
  tar -C "$work/python" -c . | docker import \
    -c 'ENV PIP_BREAK_SYSTEM_PACKAGES=1 LANG=C.UTF-8' \
    -c 'CMD ["python3"]' - "$python_image" >/dev/null
  rm -rf "$work/python"
fi

if wanted "$redis_image"; then
  rootfs "$work/redis" redis-server
  # compose.yaml mounts its volume on /data, Redis's working directory (the
  # AOF lands there); a new volume takes this directory's owner.
  mkdir -p "$work/redis/data"
  chroot "$work/redis" chown redis:redis /data
  tar -C "$work/redis" -c . | docker import \
    -c 'WORKDIR /data' -c 'USER redis' -c 'EXPOSE 6379' \
    -c 'CMD ["redis-server"]' - "$redis_image" >/dev/null
  rm -rf "$work/redis"
fi

echo "PYTHON_IMAGE=$python_image"
echo "KIMI_REVIEW_REDIS_IMAGE=$redis_image"
