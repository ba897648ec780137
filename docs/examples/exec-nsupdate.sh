#!/bin/sh
# A certsmith exec DNS-01 hook (lego's exec convention): $1 is present|cleanup, $2 the record
# name (absolute, e.g. _acme-challenge.example.com.), $3 the TXT value. certsmith also sets
# CERTSMITH_DNS01_ZONE and CERTSMITH_DNS01_TTL. This one sends an RFC 2136 update with
# nsupdate; NSUPDATE_SERVER (host), NSUPDATE_PORT, TSIG_ALGORITHM and TSIG_KEY_NAME come from
# the Issuer's config.env, TSIG_SECRET from the Secret named in config.envFromSecret.
set -eu
case "$1" in
  present) op=add ;;
  cleanup) op=delete ;;
  *) echo "unknown action: $1" >&2; exit 2 ;;
esac
nsupdate -y "${TSIG_ALGORITHM}:${TSIG_KEY_NAME}:${TSIG_SECRET}" <<EOF
server ${NSUPDATE_SERVER} ${NSUPDATE_PORT:-53}
zone ${CERTSMITH_DNS01_ZONE}
update ${op} $2 ${CERTSMITH_DNS01_TTL} TXT "$3"
send
EOF
