#!/usr/bin/env bash
# Install the system packages Pianqu needs, from Debian's archive, only when missing.
# Idempotent: a second run with everything present installs nothing and touches no network.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

have_postgis() {
  local bin v
  for bin in /usr/lib/postgresql/*/bin/initdb; do
    [ -x "$bin" ] || continue
    v=$(basename "$(dirname "$(dirname "$bin")")")
    [ -f "/usr/share/postgresql/$v/extension/postgis.control" ] && return 0
  done
  return 1
}

need=()
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
have_postgis || need+=(postgis)
command -v runuser >/dev/null || need+=(util-linux)
if [ "${PIANQU_BROWSER:-}" = "1" ]; then
  command -v chromium >/dev/null || need+=(chromium)
  # A CJK font, so the pages' Chinese (addresses, names) renders in headless screenshots.
  [ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need+=(fonts-wqy-zenhei)
fi

[ ${#need[@]} -eq 0 ] && exit 0

echo "pianqu: installing system packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
pkgs=()
for p in "${need[@]}"; do
  if [ "$p" = postgis ]; then
    # The PostGIS build must match the server's major version: install the server first.
    $SUDO apt-get install -y -qq postgresql >/dev/null
    v=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    pkgs+=("postgresql-$v-postgis-3")
  else
    pkgs+=("$p")
  fi
done
$SUDO apt-get install -y -qq "${pkgs[@]}" >/dev/null
have_postgis || { echo "pianqu: PostGIS still missing after install" >&2; exit 1; }
