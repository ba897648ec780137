#!/usr/bin/env bash
# The benchmark's peers (issue 9), installed by `make bench` and not by `make install`: the
# tests do not need cfssl or certbot. Debian: golang-cfssl (`cfssl serve`, scenario 1) and
# pebble (scenario 8's ACME server); PyPI: certbot (scenario 8's peer) into the venv.
# Safe to run again: it installs only what is missing. A peer that cannot be installed is
# reported here and again, as missing, in the suite's table.
set -uo pipefail
venv=${1:-.venv}
export DEBIAN_FRONTEND=noninteractive

missing=()
for pkg in golang-cfssl pebble; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "bench setup: apt-get install ${missing[*]}"
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || echo "bench setup: could not install ${missing[*]}" >&2
  else
    echo "bench setup: missing Debian packages (run as root to install): ${missing[*]}" >&2
  fi
fi
if [[ ! -x $venv/bin/certbot ]]; then
  echo "bench setup: pip install certbot"
  "$venv/bin/python" -m pip install -q 'certbot>=2' || echo "bench setup: certbot not installed" >&2
fi
exit 0
