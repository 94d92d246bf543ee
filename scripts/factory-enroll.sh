#!/usr/bin/env bash
# The factory flow of zero-touch enrollment: put a claim certificate into a
# firmware image on the line, and enroll the device on its first boot.
#
#   scripts/factory-enroll.sh image IMAGE_DIR CLAIM_NAME
#       on the line: copies the claim (issued/claim-NAME.crt and .key), the
#       CA the device checks the broker with, the broker's address and this
#       script into IMAGE_DIR/mqtls/. Make the claim first:
#       mqtls cert claim NAME --max-uses N
#   scripts/factory-enroll.sh first-boot IMAGE_DIR DATA_DIR DEVICE_ID
#       on the device (IMAGE_DIR/mqtls/factory-enroll.sh first-boot ...): unless
#       DATA_DIR already holds DEVICE_ID.crt and DEVICE_ID.key, makes a key,
#       enrolls DEVICE_ID with the claim (mqtls enroll) and writes the key
#       (0600), the certificate and ca.crt into DATA_DIR. Safe to run at every
#       boot: an enrolled device is left alone.
#
# Environment:
#   MQTLS        the mqtls binary (default: mqtls on the PATH)
#   MQTLS_PKI    the PKI folder, for image (default: ./pki)
#   BROKER_HOST  the broker's host name, for image (default: localhost)
#   BROKER_PORT  its listener with enrollment true, for image (default: 8883)
set -euo pipefail

usage() {
	echo "usage: $0 image IMAGE_DIR CLAIM_NAME | $0 first-boot IMAGE_DIR DATA_DIR DEVICE_ID" >&2
	exit 2
}
mqtls=${MQTLS:-mqtls}

case ${1:-} in
image)
	[[ $# -eq 3 ]] || usage
	image=$2 claim=$3
	pki=${MQTLS_PKI:-./pki}
	crt=$pki/issued/claim-$claim.crt key=$pki/issued/claim-$claim.key
	if [[ ! -f $crt || ! -f $key ]]; then
		echo "$0: no claim $claim in $pki: make it with mqtls cert claim $claim --max-uses N" >&2
		exit 1
	fi
	dir=$image/mqtls
	mkdir -p "$dir"
	install -m 0644 "$crt" "$dir/claim.crt"
	install -m 0600 "$key" "$dir/claim.key"
	install -m 0644 "$pki/root.crt" "$dir/ca.crt"
	printf 'BROKER_HOST=%q\nBROKER_PORT=%q\n' "${BROKER_HOST:-localhost}" "${BROKER_PORT:-8883}" >"$dir/broker.env"
	install -m 0755 "$0" "$dir/factory-enroll.sh"
	echo "claim $claim is in $dir; the device runs at first boot: mqtls/factory-enroll.sh first-boot IMAGE_DIR DATA_DIR DEVICE_ID"
	;;
first-boot)
	[[ $# -eq 4 ]] || usage
	image=$2 data=$3 id=$4
	dir=$image/mqtls
	if [[ -f $data/$id.crt && -f $data/$id.key ]]; then
		echo "$id is enrolled already ($data/$id.crt)"
		exit 0
	fi
	# shellcheck source=/dev/null
	. "$dir/broker.env"
	mkdir -p -m 0700 "$data"
	"$mqtls" enroll --id "$id" --claim-cert "$dir/claim.crt" --claim-key "$dir/claim.key" \
		-h "$BROKER_HOST" -p "$BROKER_PORT" --cafile "$dir/ca.crt" --out "$data"
	install -m 0644 "$dir/ca.crt" "$data/ca.crt"
	;;
*)
	usage
	;;
esac
