#!/usr/bin/env bash
# The real thing, inside the lab VM: rpc.tlsservd and rpc.tlsclntd serve a real Linux kernel's
# handshake upcalls for an NFSv4.2 mount over TLS (xprtsec=tls, then xprtsec=mtls) on loopback.
set -uo pipefail
# tools/lab/run copies the job and starts it in the caller's directory (the project root)
ROOT=${ROOT:-$PWD}
[ -f "$ROOT/test/lab/lib.sh" ] || { echo "run from the project root (ROOT=$ROOT)"; exit 2; }
OUT=${LAB_OUT:-/tmp/out}; mkdir -p "$OUT"
. "$ROOT/test/lab/lib.sh"
fail() { echo "DEMO FAILED: $*"; for f in "$OUT"/*.log; do echo "--- $f"; tail -20 "$f"; done; exit 1; }

log "kernel $(uname -r); kTLS ULP: $(modprobe tls && cat /proc/sys/net/ipv4/tcp_available_ulp)"
make_pki || fail "PKI"
start_nfsd || fail "nfsd"
log "nfsd exports /srv/export (tmpfs)"
start_daemon servd tlsservd -D "$PKI/servd" -m -l "$PKI/ca.pem" || fail "rpc.tlsservd"
start_daemon clntd tlsclntd -D "$PKI/clntd" -m -l "$PKI/ca.pem" || fail "rpc.tlsclntd"
log "rpc.tlsservd and rpc.tlsclntd serve the kernel's handshake upcall"

for mode in tls mtls; do
    t0=$(date +%s.%N)
    mount -t nfs4 -o vers=4.2,xprtsec=$mode localhost:/ /mnt/$mode || fail "mount xprtsec=$mode"
    t1=$(date +%s.%N)
    log "mounted localhost:/ on /mnt/$mode with xprtsec=$mode in $(echo "$t1 - $t0" | bc) s"
    echo "written over NFS with xprtsec=$mode at $(date)" > /mnt/$mode/hello-$mode.txt || fail "write"
    log "read back: $(cat /mnt/$mode/hello-$mode.txt)"
done
cmp /mnt/tls/hello-tls.txt /srv/export/hello-tls.txt && log "the server's tmpfs holds the same bytes"
log "/proc/net/tls_stat:"; sed 's/^/    /' /proc/net/tls_stat
log "rpc.tlsservd log:"; sed 's/^/    /' "$OUT/tlsservd.log"
log "rpc.tlsclntd log:"; sed 's/^/    /' "$OUT/tlsclntd.log"
umount /mnt/mtls; umount /mnt/tls
stop_daemon tlsclntd; stop_daemon tlsservd
tx=$(tls_stat TlsTxSw); rx=$(tls_stat TlsRxSw)
[ "${tx:-0}" -ge 4 ] && [ "${rx:-0}" -ge 4 ] || fail "kTLS counters TlsTxSw=$tx TlsRxSw=$rx (want 4 each: two mounts, both ends)"
log "DEMO OK: two NFS-over-TLS mounts, kernel TLS in both directions on both ends (TlsTxSw=$tx TlsRxSw=$rx)"
