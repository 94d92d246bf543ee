#!/usr/bin/env bash
# The openssl recipe of the README's PKI section in a loop: per device a new
# EC P-256 key, a CSR, a certificate signed by an issuing CA, and a 3DES p12
# (the same work as mqtls's BenchmarkDeviceParallel, one process per step).
# Usage: ca/testdata/openssl-loop.sh [N]   (prints devices per second)
set -euo pipefail
n=${1:-50}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt \
  -days 1825 -subj "/CN=loop CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' > client.ext
start=$(date +%s.%N)
for i in $(seq 1 "$n"); do
  id=$(printf 'DSN%06d' "$i")
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$id.key" 2>/dev/null
  openssl req -new -key "$id.key" -subj "/CN=$id" -out "$id.csr"
  openssl x509 -req -in "$id.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -extfile client.ext -out "$id.crt" 2>/dev/null
  pw=$(openssl rand -hex 12)
  openssl pkcs12 -export -in "$id.crt" -inkey "$id.key" -certfile ca.crt -out "$id.p12" -passout "pass:$pw" \
    -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1
done
end=$(date +%s.%N)
awk -v n="$n" -v s="$start" -v e="$end" 'BEGIN { printf "%d devices in %.2f s: %.1f devices/s\n", n, e-s, n/(e-s) }'
