#!/usr/bin/env bash
# Builds a minimal Node base image from this machine's own node and npm, for machines whose
# Docker engine cannot pull from an image registry (the npm registry must still be reachable
# from containers: the image build runs `npm ci`). Use it through the NODE_IMAGE build arg:
#
#   devtools/bin/build-base-image.sh                    # tags taskmesh/node-base:local
#   NODE_IMAGE=taskmesh/node-base:local docker compose build
#
# The image holds: node, npm (from the node prefix's lib/node_modules/npm), the shared
# libraries they need (found with ldd), /bin/sh (dash) and env for npm scripts, CA
# certificates, minimal /etc/passwd and /etc/group, /root and a world-writable /tmp.
# Everyone else keeps the default base, node:20-bookworm-slim.
set -euo pipefail

TAG="${1:-taskmesh/node-base:local}"
NODE_BIN="$(readlink -f "$(command -v node)")"
NODE_PREFIX="$(dirname "$(dirname "$NODE_BIN")")"
NPM_DIR="$NODE_PREFIX/lib/node_modules/npm"
if [ ! -f "$NPM_DIR/bin/npm-cli.js" ]; then NPM_DIR="$(npm root -g)/npm"; fi
if [ ! -f "$NPM_DIR/bin/npm-cli.js" ]; then echo "build-base-image: npm not found under $NODE_PREFIX" >&2; exit 1; fi
SH_BIN="$(readlink -f "$(command -v dash || command -v sh)")"
ENV_BIN="$(readlink -f "$(command -v env)")"

ROOTFS="$(mktemp -d)"
trap 'rm -rf "$ROOTFS"' EXIT
mkdir -p "$ROOTFS"/{bin,usr/bin,usr/local/bin,usr/local/lib/node_modules,etc/ssl/certs,root,app,home}
install -d -m 1777 "$ROOTFS/tmp"

cp "$NODE_BIN" "$ROOTFS/usr/local/bin/node"
cp -a "$NPM_DIR" "$ROOTFS/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/usr/local/bin/npx"
cp "$SH_BIN" "$ROOTFS/bin/sh"
cp "$ENV_BIN" "$ROOTFS/usr/bin/env"

# Shared libraries and the dynamic loader, at the paths the binaries expect; plus the rest of
# glibc, libstdc++ and libgcc_s, as in a slim Debian image, for prebuilt native npm packages
# (@napi-rs/canvas needs librt, for one).
LIBC="$(ldd "$NODE_BIN" | awk '/libc\.so/ { print $3 }')"
LIBDIR="$(dirname "$LIBC")"
{
  for bin in "$NODE_BIN" "$SH_BIN" "$ENV_BIN"; do
    ldd "$bin" | awk '/=> \// { print $3 } /^[ \t]*\// { print $1 }'
  done
  for name in libc libm libdl libpthread librt libresolv libutil libanl libnss_files libnss_dns libmvec libstdc++ libgcc_s libz; do
    for lib in "$LIBDIR/$name".so.*; do
      if [ -e "$lib" ]; then echo "$lib"; fi
    done
  done
} | sort -u | while read -r lib; do
  mkdir -p "$ROOTFS$(dirname "$lib")"
  cp -L "$lib" "$ROOTFS$lib"
done
if [ -f /etc/ld.so.cache ]; then cp /etc/ld.so.cache "$ROOTFS/etc/"; fi

# CA certificates (the machine's, so a registry behind a local CA works too) and name lookup.
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then cp -L /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/"; fi
printf 'hosts: files dns\n' > "$ROOTFS/etc/nsswitch.conf"
cat > "$ROOTFS/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
node:x:1000:1000:node:/home/node:/bin/sh
taskmesh:x:10001:10001:taskmesh:/tmp:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/sh
PASSWD
cat > "$ROOTFS/etc/group" <<'GROUP'
root:x:0:
node:x:1000:
taskmesh:x:10001:
nogroup:x:65534:
GROUP

tar -C "$ROOTFS" --numeric-owner --owner=0 --group=0 -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change 'WORKDIR /' \
  --change 'CMD ["node"]' \
  - "$TAG" >/dev/null
echo "build-base-image: $TAG from node $("$NODE_BIN" --version) and npm $(node "$NPM_DIR/bin/npm-cli.js" --version 2>/dev/null)"
