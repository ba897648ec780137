#!/usr/bin/env bash
# Installs everything certsmith and its tests need on a Debian 12 machine, as root, without
# asking anything: Debian packages for the real peers the tests talk to, then a virtualenv with
# the package in editable mode. Safe to run again: it only installs what is missing.
set -euo pipefail
venv=${1:-.venv}
export DEBIAN_FRONTEND=noninteractive

debian_packages=(openssl openjdk-17-jre-headless pebble bind9 bind9-utils bind9-dnsutils chromium)
missing=()
for pkg in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install: missing Debian packages: ${missing[*]}; run as root or install them" >&2
    exit 1
  fi
  echo "install: apt-get install ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if [[ ! -x $venv/bin/python ]]; then
  "$python" -m venv "$venv"
fi
stamp=$venv/.installed
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -e '.[dev]'
  touch "$stamp"
fi
