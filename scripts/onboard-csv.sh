#!/usr/bin/env bash
# Onboard every device of a CSV file and make their bundles.
#
#   scripts/onboard-csv.sh devices.csv
#
# devices.csv has one device per line: id,role,group,days (group and days
# optional). Bad lines are reported with their line numbers and the rest are
# onboarded; running it again skips what is done and finishes what an
# interruption left half-done. Exits 1 when any device failed, after making
# the bundles of the others. Environment: as scripts/onboard-device.sh.
set -euo pipefail

if [[ $# -ne 1 ]]; then
	echo "usage: $0 devices.csv" >&2
	exit 2
fi
csv=$1
mqtls=${MQTLS:-mqtls}
bundles=${BUNDLE_DIR:-./bundles}

if [[ -n ${BROKER_ADMIN:-} ]]; then
	target=(-h "${BROKER_ADMIN_HOST:-localhost}" -p "${BROKER_ADMIN_PORT:-1883}" -u "$BROKER_ADMIN"
		--password-file "${BROKER_ADMIN_PASSWORD_FILE:?set BROKER_ADMIN_PASSWORD_FILE}")
else
	target=(-f "${DYNSEC_FILE:-./dynamic-security.json}")
fi

status=0
"$mqtls" device import "$csv" "${target[@]}" || status=$?
if [[ $status -eq 2 ]]; then
	exit 2
fi

# Bundles for every device that is onboarded now (failed lines have no
# current certificate and are left out).
made=0
while IFS=, read -r id _; do
	id=${id//[[:space:]]/}
	[[ -z $id || $id == \#* || $id == id ]] && continue
	if "$mqtls" device bundle "$id" --out "$bundles" --device-host "${BROKER_HOST:-localhost}" "${target[@]}" >/dev/null 2>&1; then
		made=$((made + 1))
	fi
done <"$csv"
echo "bundles: $made in $bundles"
exit "$status"
