#!/usr/bin/env bash
# Makes a base image for the Dockerfile on a machine that cannot pull node:24-slim, from Debian's packages and
# the npm registry only: Debian bookworm (debootstrap, minbase), the project's own Node 24 (the `node` package's
# binary), npm from the npm registry, and the `node` user the image runs as. Builds on it trust the certificate
# authorities this machine trusts (NODE_EXTRA_CA_CERTS, else Debian's bundle), so `npm ci` in the build reaches
# the registry through the same TLS proxy the machine uses, if any; the Dockerfile's final stage turns that
# trust off, so the service itself trusts only Node's own CA list. Needs root, debootstrap and buildah.
# Usage: container/base.sh [image name]   (default localhost/hookrelay-base:24; kept once made)
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:-localhost/hookrelay-base:24}
export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs} BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}

if buildah inspect --type image "$name" >/dev/null 2>&1; then
  echo "base image $name exists"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"

debootstrap --variant=minbase bookworm "$root" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$work/debootstrap.log" ||
  { tail -20 "$work/debootstrap.log" >&2; exit 1; }
install -m 755 node_modules/node/bin/node "$root/usr/local/bin/node"
npm pack npm@11 --pack-destination "$work" --silent >/dev/null
mkdir -p "$root/usr/local/lib/node_modules/npm"
tar -xzf "$work"/npm-*.tgz -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
mkdir -p "$root/usr/local/share/build-ca"
cp "${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}" "$root/usr/local/share/build-ca/machine.crt"
chroot "$root" useradd --uid 1000 --user-group --create-home --shell /bin/sh node
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

container=$(buildah from scratch)
buildah copy --quiet "$container" "$root" /
buildah config --env PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env NODE_EXTRA_CA_CERTS=/usr/local/share/build-ca/machine.crt --cmd node "$container"
buildah commit --quiet --format docker "$container" "$name" >/dev/null
buildah rm "$container" >/dev/null
echo "base image $name made: Debian bookworm, Node $("$root/usr/local/bin/node" --version), npm $(cat "$root/usr/local/lib/node_modules/npm/package.json" | node -p 'JSON.parse(require("fs").readFileSync(0)).version')"
