#!/usr/bin/env bash
# Lab smoke job: tools/lab/run test/lab/smoke.sh
# Checks the VM has the Debian kernel, kernel TLS, the host's JDK and the results share.
set -euo pipefail
echo "kernel: $(uname -r)"
echo "hostname: $(hostname)"
modprobe tls
echo "tcp_available_ulp: $(cat /proc/sys/net/ipv4/tcp_available_ulp)"
grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp || { echo "tls ULP not available" >&2; exit 1; }
[ -e /proc/net/tls_stat ] || { echo "/proc/net/tls_stat missing" >&2; exit 1; }
echo "tls_stat:"; sed 's/^/  /' /proc/net/tls_stat
ip -brief link show lo
getent hosts localhost
/usr/lib/jvm/temurin-25-jdk-amd64/bin/java -version
[ -n "${LAB_OUT:-}" ] && [ -d "$LAB_OUT" ] || { echo "LAB_OUT not set or missing" >&2; exit 1; }
{ echo "kernel=$(uname -r)"; echo "ulp=$(cat /proc/sys/net/ipv4/tcp_available_ulp)"; } >"$LAB_OUT/smoke.txt"
echo "wrote $LAB_OUT/smoke.txt"
echo "smoke: OK"
