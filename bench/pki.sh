#!/usr/bin/env bash
# Makes the benchmarks' certificates in DIR (default target/bench-pki), as the integration tests'
# TestPki makes them: ECDSA P-256 keys, SHA-256 signatures, a CA, a server certificate for
# localhost / 127.0.0.1, a client certificate; DIR/serverdir and DIR/clientdir are daemon
# certificate directories (cert.pem, certkey.pem). Reuses DIR when it is already complete.
set -euo pipefail
dir=${1:-target/bench-pki}
mkdir -p "$dir"
cd "$dir"
if [ -s serverdir/cert.pem ] && [ -s clientdir/cert.pem ] && [ -s ca.pem ]; then exit 0; fi
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout cakey.pem -out ca.pem -days 30 -subj "/CN=bench test CA" \
    -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
issue() { # name cn eku san
    printf 'basicConstraints = critical,CA:false\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = %s\nsubjectAltName = %s\n' \
        "$3" "$4" >"$1.ext"
    openssl req -new "${ec[@]}" -keyout "$1key.pem" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey cakey.pem -CAcreateserial -days 30 -sha256 \
        -extfile "$1.ext" -out "$1.pem" 2>/dev/null
}
issue server localhost serverAuth "DNS:localhost,IP:127.0.0.1"
issue client nfsclient clientAuth "DNS:localhost"
for role in server client; do
    mkdir -p "${role}dir"
    cp "$role.pem" "${role}dir/cert.pem"
    cp "${role}key.pem" "${role}dir/certkey.pem"
done
