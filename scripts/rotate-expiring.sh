#!/usr/bin/env bash
# Renew the device certificates that expire soon and remake their bundles.
#
#   scripts/rotate-expiring.sh [DAYS]     (default 30)
#
# Every current device certificate expiring within DAYS gets a new key,
# certificate and p12 (the old certificate is revoked as superseded and
# crl.pem regenerated). Run it from cron, daily. Environment: MQTLS,
# MQTLS_PKI, DYNSEC_FILE, BROKER_HOST and BUNDLE_DIR as in
# scripts/onboard-device.sh; the CA password from the file
# $MQTLS_CA_PASSWORD_FILE names, or from $MQTLS_CA_PASSWORD.
set -euo pipefail

days=${1:-30}
if ! [[ $days =~ ^[0-9]+$ ]]; then
	echo "usage: $0 [DAYS]" >&2
	exit 2
fi
mqtls=${MQTLS:-mqtls}
bundles=${BUNDLE_DIR:-./bundles}
read_roles=()
if [[ -f ${DYNSEC_FILE:-./dynamic-security.json} ]]; then
	read_roles=(-f "${DYNSEC_FILE:-./dynamic-security.json}")
fi

# NAME KIND SERIAL NOT-AFTER STATUS, one current certificate a line.
mapfile -t ids < <("$mqtls" cert list --expiring "${days}d" | awk 'NR > 1 && $2 == "client" { print $1 }')
if [[ ${#ids[@]} -eq 0 ]]; then
	echo "no device certificate expires within $days days"
	exit 0
fi
failed=0
for id in "${ids[@]}"; do
	if "$mqtls" device renew "$id" "${read_roles[@]}" &&
		"$mqtls" device bundle "$id" --out "$bundles" --device-host "${BROKER_HOST:-localhost}" "${read_roles[@]}" >/dev/null; then
		echo "renewed $id"
	else
		echo "failed to renew $id" >&2
		failed=$((failed + 1))
	fi
done
echo "renewed $((${#ids[@]} - failed)) of ${#ids[@]} devices expiring within $days days"
[[ $failed -eq 0 ]]
