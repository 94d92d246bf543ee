#!/usr/bin/env bash
# Onboard one device and print its bundle.
#
#   scripts/onboard-device.sh DSN000001 [ROLE]
#
# Makes the device's key, certificate, p12 and dynamic security client in one
# step (mqtls device add), then its bundle folder and zip (mqtls device
# bundle), and prints connection.json. Environment:
#   MQTLS          the mqtls binary (default: mqtls on the PATH)
#   MQTLS_PKI      the PKI folder (default: ./pki)
#   MQTLS_CA_PASSWORD_FILE  the file holding the CA password (or the
#                  password itself in MQTLS_CA_PASSWORD; without either,
#                  mqtls asks on the terminal)
#   DYNSEC_FILE    dynamic-security.json, edited while the broker is stopped
#                  (default: ./dynamic-security.json)
#   BROKER_ADMIN   instead of DYNSEC_FILE: a dynsec admin of the running
#                  broker at BROKER_ADMIN_HOST:BROKER_ADMIN_PORT (default
#                  localhost:1883), password in BROKER_ADMIN_PASSWORD_FILE
#   BROKER_HOST    the host name devices connect to (default: localhost)
#   BUNDLE_DIR     where bundles go (default: ./bundles)
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
	echo "usage: $0 DEVICE_ID [ROLE]" >&2
	exit 2
fi
id=$1
role=${2:-device}
mqtls=${MQTLS:-mqtls}
bundles=${BUNDLE_DIR:-./bundles}

if [[ -n ${BROKER_ADMIN:-} ]]; then
	target=(-h "${BROKER_ADMIN_HOST:-localhost}" -p "${BROKER_ADMIN_PORT:-1883}" -u "$BROKER_ADMIN"
		--password-file "${BROKER_ADMIN_PASSWORD_FILE:?set BROKER_ADMIN_PASSWORD_FILE}")
else
	target=(-f "${DYNSEC_FILE:-./dynamic-security.json}")
fi

"$mqtls" device add "$id" --role "$role" "${target[@]}"
"$mqtls" device bundle "$id" --out "$bundles" --device-host "${BROKER_HOST:-localhost}" "${target[@]}"
echo
echo "== $bundles/$id/connection.json"
cat "$bundles/$id/connection.json"
echo "send $bundles/$id.zip to the device; the p12 password is in $bundles/$id/$id.p12.pass (send it apart)"
