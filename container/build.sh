#!/usr/bin/env bash
# `npm run image`: builds the service's image with docker when a Docker engine answers, else with buildah.
# The base (the Dockerfile's BASE argument: an image with Node 24 and npm) is node:24-slim unless
# HOOKRELAY_IMAGE_BASE names another, such as one container/base.sh made here. HOOKRELAY_IMAGE names the result.
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${HOOKRELAY_IMAGE:-localhost/hookrelay:$(node -p 'require("./package.json").version')}
base=${HOOKRELAY_IMAGE_BASE:-node:24-slim}

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  exec docker build --build-arg BASE="$base" -t "$tag" .
elif command -v buildah >/dev/null; then
  export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs} BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}
  # The docker format keeps HEALTHCHECK, which the OCI format has no place for (buildah would drop it).
  exec buildah bud --format docker --layers --build-arg BASE="$base" -t "$tag" .
else
  echo "npm run image: needs docker with a running engine, or buildah" >&2
  exit 1
fi
