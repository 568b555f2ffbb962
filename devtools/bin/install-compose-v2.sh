#!/usr/bin/env bash
# Installs Compose v2 (`docker compose`) as a Docker CLI plugin from Debian's own archive:
# bookworm's docker-compose package is v1.29, trixie's is v2. Only the plugin binary is taken
# from the package (no dpkg install, no change to the system's apt sources or package state).
# Usage: devtools/bin/install-compose-v2.sh [plugin-dir]   (default /usr/local/lib/docker/cli-plugins)
set -euo pipefail
dest=${1:-/usr/local/lib/docker/cli-plugins}
if docker compose version >/dev/null 2>&1; then
  echo "install-compose-v2: already present: $(docker compose version)"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" >"$work/sources.list"
opts=(
  -o "Dir::Etc::sourcelist=$work/sources.list" -o "Dir::Etc::sourceparts=-"
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "APT::Sandbox::User=root"
)
apt-get "${opts[@]}" -qq update
(cd "$work" && apt-get "${opts[@]}" -qq download docker-compose)
dpkg-deb -x "$work"/docker-compose_*.deb "$work/x"
install -D -m 0755 "$work/x/usr/libexec/docker/cli-plugins/docker-compose" "$dest/docker-compose"
echo "install-compose-v2: $(docker compose version) in $dest"
