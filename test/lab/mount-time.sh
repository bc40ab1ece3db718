#!/usr/bin/env bash
# Benchmark (run by tools/bench-vm through tools/lab/run): how long an NFSv4.2 mount over TLS
# takes on a real Linux kernel in the lab VM with our daemons (rpc.tlsservd + rpc.tlsclntd) as
# the handshake agent and, when TLSHD=/path/to/tlshd is given, with ktls-utils' tlshd, in the
# same VM boot. Prints figures; asserts nothing about speed. Exits non-zero when a timed mount
# fails or an agent cannot be started (a failed warm-up attempt is reported, not fatal: the
# first handshake after our daemons start can outlast the kernel's timeout under TCG).
# Details and results: docs/performance-vm.md.
#
# Env: TLSHD (a tlshd binary; without it only our daemons are measured, with a loud SKIP),
#      MOUNT_TIME_REPEATS (timed mounts per agent and mode, default 10),
#      BENCH_VM_HOST_ECDSA (the host's "sign/s verify/s" from openssl speed, for the CPU ratio).
set -uo pipefail
# tools/lab/run copies the job and starts it in the caller's directory (the project root)
ROOT=${ROOT:-$PWD}
[ -f "$ROOT/test/lab/lib.sh" ] || [ "${1:-}" = --summary ] || { echo "run from the project root (ROOT=$ROOT)"; exit 2; }
OUT=${LAB_OUT:-/tmp/out}; [ "${1:-}" = --summary ] || mkdir -p "$OUT"
[ -f "$ROOT/test/lab/lib.sh" ] && . "$ROOT/test/lab/lib.sh"
R=${MOUNT_TIME_REPEATS:-10}
[[ "$R" =~ ^[1-9][0-9]*$ ]] || { echo "MOUNT_TIME_REPEATS wants a positive count, not '$R'"; exit 2; }
TLSHD=${TLSHD:-}
TRACE=/sys/kernel/tracing
RESULTS=$OUT/mount-times.tsv     # one line per timed mount
failures=0 warmup_failures=0

fail() { echo "BENCHMARK FAILED: $*"; for f in "$OUT"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done; exit 1; }
now_ns() { local t=$EPOCHREALTIME; echo "${t/./}000"; }   # bash's clock: no fork around the mount
mark() { echo "rpctls-bench $*" > "$TRACE/trace_marker" 2>/dev/null || true; }

# The counters of connections in kernel TLS right now, on both ends ("0 0" when none).
tls_current() { echo "$(tls_stat TlsCurrTxSw) $(tls_stat TlsCurrRxSw)"; }

# After umount the client tears its transport down asynchronously and the server closes its end
# when it sees the FIN. Wait (at most 10 s) until no connection is in kernel TLS any more, so
# that each timed mount starts from the same state and no teardown overlaps it.
wait_idle() {
    for _ in $(seq 100); do [ "$(tls_current)" = "0 0" ] && return 0; sleep 0.1; done
    echo "note: kernel TLS connections still open 10 s after umount: $(tls_current)"
}

# one_mount AGENT MODE LABEL: mount localhost:/ with xprtsec=MODE, print the time in ms, umount.
# The default mount options (no timeo/retrans) as a user would mount; a 120 s guard.
one_mount() {
    local agent=$1 mode=$2 label=$3 dir=/mnt/bench t0 t1
    mkdir -p "$dir"
    mark "begin $agent $mode $label"
    t0=$(now_ns)
    timeout 120 mount -t nfs4 -o "vers=4.2,xprtsec=$mode" localhost:/ "$dir" > "$OUT/mount.err" 2>&1
    local rc=$?
    t1=$(now_ns)
    mark "end $agent $mode $label"
    if [ $rc -ne 0 ]; then
        echo "mount xprtsec=$mode with $agent FAILED (exit $rc after $(((t1 - t0) / 1000000)) ms): $(cat "$OUT/mount.err")"
        failures=$((failures + 1))
        return 1
    fi
    # something must have been read through the mount: the root's attributes
    stat -c %i "$dir" > /dev/null || { echo "stat on the mount failed"; failures=$((failures + 1)); }
    local u0 u1; u0=$(now_ns)
    umount "$dir" || { echo "umount failed"; failures=$((failures + 1)); }
    u1=$(now_ns)
    wait_idle
    echo $(((t1 - t0) / 1000)) > "$OUT/last.us"
    echo $(((u1 - u0) / 1000)) > "$OUT/last-umount.us"
}

# series AGENT MODE: one successful warm-up mount (reported, not counted; up to 3 attempts, a
# failed attempt is reported and counted apart), then R timed mounts.
series() {
    local agent=$1 mode=$2 pass=${3:-1} tx0 rx0 de0 i label times=() umounts=()
    wait_idle
    for i in 1 2 3; do
        if one_mount "$agent" "$mode" "warmup-$pass.$i"; then
            printf '  %-6s %-5s warm-up mount %8.1f ms (not counted)\n' "$agent" "$mode" "$(echo "$(cat "$OUT/last.us") / 1000" | bc -l)"
            break
        fi
        failures=$((failures - 1)); warmup_failures=$((warmup_failures + 1))
        echo "  $agent $mode: warm-up mount attempt $i failed (reported above; not counted as a benchmark failure)"
        echo "$agent $mode attempt $i" >> "$OUT/warmup-failures.txt"
        wait_idle
    done
    tx0=$(tls_stat TlsTxSw); rx0=$(tls_stat TlsRxSw); de0=$(tls_stat TlsDecryptError)
    for i in $(seq "$R"); do
        label=$(((pass - 1) * R + i))
        one_mount "$agent" "$mode" "$label" || continue
        times+=("$(cat "$OUT/last.us")"); umounts+=("$(cat "$OUT/last-umount.us")")
        printf '%s\t%s\t%s\t%s\t%s\n' "$agent" "$mode" "$label" "$(cat "$OUT/last.us")" "$pass" >> "$RESULTS"
    done
    local dtx=$(($(tls_stat TlsTxSw) - tx0)) drx=$(($(tls_stat TlsRxSw) - rx0)) dde=$(($(tls_stat TlsDecryptError) - de0))
    printf '  %-6s %-5s %d timed mounts (ms): %s\n' "$agent" "$mode" "${#times[@]}" \
        "$(for t in "${times[@]}"; do printf '%.0f ' "$(echo "$t / 1000" | bc -l)"; done)"
    printf '  %-6s %-5s umount (ms): %s\n' "$agent" "$mode" \
        "$(for t in "${umounts[@]}"; do printf '%.0f ' "$(echo "$t / 1000" | bc -l)"; done)"
    if [ "$mode" = none ]; then
        printf '  %-6s %-5s kTLS: TlsTxSw +%d, TlsRxSw +%d (no TLS expected)\n' "$agent" "$mode" "$dtx" "$drx"
    else
        # each mount is one new connection: kernel TLS on both of its ends, both directions
        local verdict="as expected (2 per mount: both ends)"
        { [ "$dtx" -ne $((2 * ${#times[@]})) ] || [ "$drx" -ne $((2 * ${#times[@]})) ]; } &&
            verdict="UNEXPECTED: want $((2 * ${#times[@]})) each"
        [ "$dde" -ne 0 ] && verdict="$verdict; TlsDecryptError +$dde"
        printf '  %-6s %-5s kTLS: TlsTxSw +%d, TlsRxSw +%d over %d mounts: %s\n' "$agent" "$mode" "$dtx" "$drx" "${#times[@]}" "$verdict"
        echo "$agent $mode $dtx $drx ${#times[@]}" >> "$OUT/ktls.txt"
    fi
}

# The kernel's handshake trace events: when the request was submitted (client: the RPC transport
# worker; server: an nfsd thread), when the agent took the socket (ACCEPT), when it reported
# DONE, and when the kernel completed the request. Saved per agent and mode for the breakdown.
trace_start() {
    [ -d "$TRACE/events/handshake" ] || return 0
    echo 0 > "$TRACE/tracing_on"; echo > "$TRACE/trace"
    for e in handshake_submit handshake_cmd_accept handshake_cmd_done handshake_complete; do
        echo 1 > "$TRACE/events/handshake/$e/enable"
    done
    echo 1 > "$TRACE/tracing_on"
}
trace_save() { # FILE
    [ -d "$TRACE/events/handshake" ] || return 0
    echo 0 > "$TRACE/tracing_on"; cat "$TRACE/trace" > "$1"; echo > "$TRACE/trace"; echo 1 > "$TRACE/tracing_on"
}

# ---- the breakdown from the kernel's handshake trace events, per mount (ms):
#  pre: mount start -> client handshake submitted (mount.nfs, RPC client setup, TCP connect,
#       the AUTH_TLS probe);  c_wait: submit -> the agent's ACCEPT (netlink notification, wake-up;
#       the kernel traces the submit after notifying, so this can be slightly negative);
#  c_agent: ACCEPT -> DONE (the TLS handshake itself, certificate checks, kTLS setup);
#  c_hs: submit -> kernel completion (client side);  s_wait, s_agent, s_hs: the same, nfsd side;
#  post: client handshake completed -> mount returned (NFSv4.2 EXCHANGE_ID, CREATE_SESSION, ...).
# With retries (a handshake timed out) the last request of each side counts.
breakdown() { # trace (stdin) -> lines "label pre c_wait c_agent c_hs s_wait s_agent s_hs post"
    awk '
    function ts(   i) { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) return substr($i, 1, length($i) - 1) + 0; return -1 }
    function req(   s) { if (match($0, /req=[0-9a-fx]+/)) return substr($0, RSTART + 4, RLENGTH - 4); return "" }
    function ms(a, b) { return (a > 0 && b > 0) ? sprintf("%.1f", (b - a) * 1000) : "-" }
    / rpctls-bench begin / { n = split($0, w, " "); label = w[n]; B = ts(); delete sub_t; delete acc; delete dn; delete cpl; cl = ""; sv = ""; next }
    # the kernel reuses request addresses: a new submit forgets the events of the old one
    /handshake_submit:/ { r = req(); sub_t[r] = ts(); delete acc[r]; delete dn[r]; delete cpl[r]; comm = $1; sub(/-[0-9]+$/, "", comm)
                          if (comm ~ /^nfsd/) sv = r; else cl = r; next }
    /handshake_cmd_accept:/ { acc[req()] = ts(); next }
    /handshake_cmd_done:/ { dn[req()] = ts(); next }
    /handshake_complete:/ { cpl[req()] = ts(); next }
    / rpctls-bench end / { E = ts()
        print label, ms(B, sub_t[cl]), ms(sub_t[cl], acc[cl]), ms(acc[cl], dn[cl]), ms(sub_t[cl], cpl[cl]),
              ms(sub_t[sv], acc[sv]), ms(acc[sv], dn[sv]), ms(sub_t[sv], cpl[sv]), ms(cpl[cl], E) }
    '
}

stats() { # numbers (one a line; "-" ignored) -> "median min max"
    sort -g | awk '$1 != "-" { v[n++] = $1 } END { if (!n) { print "- - -"; exit }
        m = (n % 2) ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2; printf "%.1f %.1f %.1f\n", m, v[0], v[n - 1] }'
}

# summary DIR: the tables from the raw results in DIR (mount-times.tsv, trace-*.txt, ktls.txt).
summary() {
    local dir=$1 key med min max late n row col v f r1 r2 mode
    declare -A median hs_median
    echo
    echo "==== NFSv4.2 mount time over TLS, localhost:/, kernel $(cat "$dir/kernel.txt" 2>/dev/null), qemu TCG (ms) ===="
    echo "  each series: one warm-up mount (not counted), then the timed mounts; late = median of the second half"
    echo "  of each series (JIT warm-up shows as median > late); tlshd: two passes, before and after ours, pooled"
    printf '%-6s %-5s %3s %9s %9s %9s %9s  %s\n' agent mode n median min max late "pass 1 / pass 2 medians"
    for key in "none none" "ours tls" "ours mtls" "tlshd tls" "tlshd mtls"; do
        set -- $key
        # lines: pass, index within the pass, ms
        awk -F'\t' -v a="$1" -v m="$2" '$1 == a && $2 == m { p = ($5 == "" ? 1 : $5); print p, ++k[p], $4 / 1000 }' \
            "$dir/mount-times.tsv" > "$dir/sel.txt"
        [ -s "$dir/sel.txt" ] || continue
        n=$(wc -l < "$dir/sel.txt")
        read -r med min max <<< "$(cut -d' ' -f3 "$dir/sel.txt" | stats)"
        late=$(awk '{ c[$1]++; v[NR] = $0 } END { for (i = 1; i <= NR; i++) { split(v[i], f, " "); if (f[2] > c[f[1]] / 2) print f[3] } }' "$dir/sel.txt" | stats | cut -d' ' -f1)
        passes=""
        if [ "$(cut -d' ' -f1 "$dir/sel.txt" | sort -u | wc -l)" -gt 1 ]; then
            passes="$(awk '$1 == 1 { print $3 }' "$dir/sel.txt" | stats | cut -d' ' -f1) / $(awk '$1 == 2 { print $3 }' "$dir/sel.txt" | stats | cut -d' ' -f1)"
        fi
        median[$1.$2]=$med
        printf '%-6s %-5s %3d %9s %9s %9s %9s  %s\n' "$1" "$2" "$n" "$med" "$min" "$max" "$late" "$passes"
    done
    echo
    echo "Where the time goes (medians over the timed mounts, ms; from the kernel's handshake trace events):"
    echo "  pre = mount start -> client handshake request; wait = request -> agent ACCEPT; agent = ACCEPT -> DONE;"
    echo "  hs = request -> kernel completion; post = client handshake done -> mount returns; c_ client, s_ server (nfsd)"
    printf '%-6s %-5s %7s %7s %8s %7s %7s %8s %7s %7s\n' agent mode pre c_wait c_agent c_hs s_wait s_agent s_hs post
    for key in "ours tls" "ours mtls" "tlshd tls" "tlshd mtls"; do
        set -- $key
        cat "$dir/trace-$1-$2.txt" "$dir/trace-$1-$2-"[0-9].txt 2>/dev/null | breakdown > "$dir/breakdown-$1-$2.txt"
        [ -s "$dir/breakdown-$1-$2.txt" ] || continue
        row=()
        for col in 2 3 4 5 6 7 8 9; do
            v=$(awk -v c=$col '$1 !~ /^warmup/ { print $c }' "$dir/breakdown-$1-$2.txt" | stats | cut -d' ' -f1)
            row+=("$v")
        done
        hs_median[$1.$2]=${row[3]}
        printf '%-6s %-5s %7s %7s %8s %7s %7s %8s %7s %7s\n' "$1" "$2" "${row[@]}"
    done
    echo
    echo "Warm-up mounts (the first of each agent is its first handshake since it started), same columns:"
    for key in "ours tls" "ours mtls" "tlshd tls" "tlshd mtls"; do
        set -- $key
        [ -s "$dir/breakdown-$1-$2.txt" ] || continue
        awk -v a="$1" -v m="$2" '$1 ~ /^warmup/ { printf "%-6s %-5s %-9s %7s %7s %8s %7s %7s %8s %7s %7s\n", a, m, $1, $2, $3, $4, $5, $6, $7, $8, $9 }' "$dir/breakdown-$1-$2.txt"
    done
    echo
    ratio() { [ -n "${1:-}" ] && [ -n "${2:-}" ] && [ "$1" != - ] && [ "$2" != - ] && echo "scale=2; $1 / $2" | bc; }
    for mode in tls mtls; do
        r1=$(ratio "${median[ours.$mode]:-}" "${median[tlshd.$mode]:-}")
        r2=$(ratio "${hs_median[ours.$mode]:-}" "${hs_median[tlshd.$mode]:-}")
        [ -n "$r1" ] && echo "RATIO ours/tlshd xprtsec=$mode: median mount time ${r1}x (${median[ours.$mode]} / ${median[tlshd.$mode]} ms);" \
            "median client handshake (c_hs) ${r2:-?}x (${hs_median[ours.$mode]:-?} / ${hs_median[tlshd.$mode]:-?} ms)"
    done
    echo "kTLS counters per series (agent mode TlsTxSw+ TlsRxSw+ mounts): $(tr '\n' ';' < "$dir/ktls.txt")"
    [ -s "$dir/warmup-failures.txt" ] && echo "Failed warm-up mount attempts: $(tr '\n' ';' < "$dir/warmup-failures.txt")"
    return 0
}

# bash test/lab/mount-time.sh --summary DIR (anywhere): the tables again from a run's saved results.
if [ "${1:-}" = --summary ]; then summary "${2:?usage: mount-time.sh --summary DIR}"; exit 0; fi

# ---- setup
log "kernel $(uname -r); $(grep -c ^processor /proc/cpuinfo) vCPUs ($(grep -m 1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'))"
log "qemu TCG (software CPU emulation, ${RPCTLS_LAB_TCG_THREAD:-single}-threaded): absolute times are several times the host's; compare agents by their ratio"
vm_ecdsa=$(openssl speed -seconds 1 ecdsap256 2>/dev/null | awk '/nistp256/ { print $(NF-1), $NF }')
log "ECDSA P-256 in the VM: ${vm_ecdsa% *} sign/s, ${vm_ecdsa#* } verify/s (openssl speed)"
if [ -n "${BENCH_VM_HOST_ECDSA:-}" ]; then
    log "ECDSA P-256 on the host: ${BENCH_VM_HOST_ECDSA% *} sign/s, ${BENCH_VM_HOST_ECDSA#* } verify/s:" \
        "the VM is $(echo "scale=1; ${BENCH_VM_HOST_ECDSA% *} / ${vm_ecdsa% *}" | bc)x slower at signing"
fi
make_pki || fail "PKI"
start_nfsd || fail "nfsd"
nfsd_started=$SECONDS
mountpoint -q "$TRACE" || mount -t tracefs tracefs "$TRACE" 2>/dev/null
echo global > "$TRACE/trace_clock" 2>/dev/null   # one clock across CPUs
: > "$RESULTS"; : > "$OUT/ktls.txt"; : > "$OUT/warmup-failures.txt"; uname -r > "$OUT/kernel.txt"
log "nfsd exports /srv/export (tmpfs); NFSv4 grace and lease 10 s; $R timed mounts per agent and mode, each after one warm-up mount"

# The grace period does not block a mount, but stay clear of it anyway: no timed mount before
# it has ended.
while ((SECONDS - nfsd_started < 12)); do sleep 1; done

# ---- baseline: no TLS, no agent involved
log "baseline: xprtsec=none (plain TCP, no handshake)"
trace_start
series none none
trace_save "$OUT/trace-none-none.txt"

# ---- the agents. The machine's load changes while the VM runs (other work shares the host's
# CPUs), so tlshd (cheap to start) is measured twice, before and after our daemons, and its two
# passes are pooled: a load change then shows as a difference between them (printed) instead of
# favouring one agent.
run_ours() {
    start_daemon servd tlsservd -D "$PKI/servd" -m -l "$PKI/ca.pem" || fail "rpc.tlsservd"
    start_daemon clntd tlsclntd -D "$PKI/clntd" -m -l "$PKI/ca.pem" || fail "rpc.tlsclntd"
    log "ours: rpc.tlsservd and rpc.tlsclntd running (started before the timing; the JVM start is not measured)"
    for mode in tls mtls; do
        trace_start; series ours "$mode"; trace_save "$OUT/trace-ours-$mode.txt"
    done
    stop_daemon tlsclntd; stop_daemon tlsservd
    log "ours: stopped; $(grep -c 'SSL handshake ok' "$OUT/tlsclntd.log" "$OUT/tlsservd.log" | tr '\n' ' ')successful handshakes;" \
        "$(grep -m 1 -o 'SSL handshake ok <[^>]*>' "$OUT/tlsclntd.log")"
}

run_tlshd() { # PASS (1: before ours, 2: after)
    local pass=$1 conf=$OUT/tmp/tlshd.conf mode
    mkdir -p "$OUT/tmp"
    # The same PKI as our daemons: the client trusts ca.pem and has the client certificate for
    # mtls; the server has the server certificate and verifies client certificates against ca.pem.
    cat > "$conf" <<CONF
[debug]
loglevel=1
tls=0
nl=0

[authenticate.client]
x509.truststore=$PKI/ca.pem
x509.certificate=$PKI/clntd/cert.pem
x509.private_key=$PKI/clntd/certkey.pem

[authenticate.server]
x509.truststore=$PKI/ca.pem
x509.certificate=$PKI/servd/cert.pem
x509.private_key=$PKI/servd/certkey.pem
CONF
    "$TLSHD" -s -c "$conf" > "$OUT/tlshd-$pass.log" 2>&1 &
    local tlshd_pid=$!
    # tlshd says nothing when it starts listening; it reads its configuration and joins the
    # "tlshd" group at once. Two seconds are plenty (the warm-up mount would show otherwise).
    sleep 2
    kill -0 "$tlshd_pid" 2>/dev/null || fail "tlshd exited at start"
    log "tlshd pass $pass: running (pid $tlshd_pid, config $conf)"
    for mode in tls mtls; do
        trace_start; series tlshd "$mode" "$pass"; trace_save "$OUT/trace-tlshd-$mode-$pass.txt"
    done
    kill -TERM "$tlshd_pid"; wait "$tlshd_pid" 2>/dev/null
    log "tlshd pass $pass: stopped; its log: $(grep -c 'Handshake with .* succeeded' "$OUT/tlshd-$pass.log") successful handshakes;" \
        "$(grep -m 1 'Session description' "$OUT/tlshd-$pass.log" | sed 's/.*: //')"
}

if [ -z "$TLSHD" ]; then
    echo "SKIP: tlshd not measured: TLSHD=/path/to/tlshd was not given (see docs/performance-vm.md)"
    run_ours
elif [ ! -x "$TLSHD" ]; then
    fail "TLSHD=$TLSHD is not an executable file in the VM"
else
    log "tlshd: $("$TLSHD" -v 2>&1 | head -1)"
    run_tlshd 1
    run_ours
    run_tlshd 2
fi
vm_ecdsa2=$(openssl speed -seconds 1 ecdsap256 2>/dev/null | awk '/nistp256/ { print $(NF-1), $NF }')
log "ECDSA P-256 in the VM at the end: ${vm_ecdsa2% *} sign/s, ${vm_ecdsa2#* } verify/s (at the start: ${vm_ecdsa% *}, ${vm_ecdsa#* })"

summary "$OUT"
echo "Raw figures in LAB_OUT: mount-times.tsv (one timed mount a line, µs), trace-*.txt (kernel trace), breakdown-*.txt;"
echo "  daemon logs tlsservd.log, tlsclntd.log, tlshd-1.log, tlshd-2.log. Re-print: bash test/lab/mount-time.sh --summary <LAB_OUT_HOST>"
echo "Note: qemu TCG emulates the CPU in software (single-threaded by default): absolute times are several times"
echo "  the host's (see the ECDSA figures above); the ratio between agents is the meaningful figure."
[ "$failures" -eq 0 ] || { echo "BENCHMARK: $failures mount or umount failures (see above)"; exit 1; }
echo "BENCHMARK DONE"
