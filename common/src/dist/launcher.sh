#!/bin/sh
# Launcher written by the rpctls build (common/src/dist/launcher.sh); runs @MAIN_CLASS@.
# Environment: RPCTLS_JAVA_HOME selects the JDK (>= 22), RPCTLS_JAVA_OPTS adds JVM options.
# Without -d the daemon goes to the background once it has started (as daemon(3) would) and
# the launcher exits 0; a start-up failure is printed and its exit status returned.
here=$(dirname "$(readlink -f "$0")")
lib=$(cd "$here/../lib" && pwd) || exit 1
. "$lib/java-select.sh"
prog=$(basename "$0")
jdk=$(rpctls_find_java_home "@BUILD_JAVA_HOME@") || {
    echo "$prog: no JDK 22 or newer found; install one (FreeBSD: pkg install openjdk25) or set RPCTLS_JAVA_HOME" >&2
    exit 1
}
# Foreground with -d (or --probe/--help/--version): scan the options as getopt would.
foreground=
skip=
for a in "$@"; do
    if [ -n "$skip" ]; then skip=; continue; fi
    case "$a" in
        --) break ;;
        --debuglevel|--probe|--probe=*|--help|--version) foreground=1 ;;
        --certdir|--ciphers|--verifylocs|--verifydir|--crl|--maxthreads|--domain|--pidfile|--upcall|--emulated-kernel|--handshake-timeout|--handoff-dir) skip=1 ;;
        --*) ;;
        -?*)
            rest=${a#-}
            while [ -n "$rest" ]; do
                c=${rest%"${rest#?}"}
                rest=${rest#?}
                case "$c" in
                    d) foreground=1 ;;
                    [CDlNnpr]) [ -z "$rest" ] && skip=1; rest= ;;
                esac
            done ;;
    esac
done
# The build's AOT cache (JEP 483, dist/lib/rpctls.aot): loaded classes and profiles from a training
# run, for a faster start. Used only with the JDK that made it (rpctls.aot.jdk holds lines of its
# release file); any other JDK would reject it with warnings. Nor when a jar is newer than the
# cache: JDK 25 was seen loading classes from a cache made before the jar was rebuilt, i.e.
# running the old code (a reload test failed that way), so we do not rely on its class path check.
# -Xlog:aot=off keeps the JVM quiet about caches it declines. Not used when RPCTLS_JAVA_OPTS sets
# AOT options itself (e.g. -XX:AOTMode=off, or a training run).
aot=
if [ -f "$lib/rpctls.aot" ] && [ -f "$lib/rpctls.aot.jdk" ] && [ -f "$jdk/release" ] &&
    [ "$(grep -E '^(IMPLEMENTOR|JAVA_RUNTIME_VERSION)=' "$jdk/release")" = "$(cat "$lib/rpctls.aot.jdk")" ] &&
    [ -z "$(find "$lib" -name '*.jar' -newer "$lib/rpctls.aot" 2>/dev/null)" ]; then
    aot=1
fi
case "${RPCTLS_JAVA_OPTS:-}" in *-XX:AOT*) aot= ;; esac
# Serial GC and a small heap: the daemons hold little Java state; native memory is OpenSSL's.
# -Xms8m: start small (the default initial heap, 1/64 of RAM, is touched as it is used);
# TrimNativeHeapInterval: give freed malloc memory back (after a burst of handshakes or sessions).
# TieredStopAtLevel=1 (C1 only): the CPU goes to OpenSSL, not to Java code; C2 cost about 10 MiB
# of RSS and half the start-up CPU, for no measurable handshake gain (docs/performance-mem.md).
# CompileCommand exclude StackMapGenerator::processBlock: at start-up the JDK spins classes (FFM
# downcall stubs, lambda forms) with its class-file API, and C1's compilation of that one huge
# method takes 6.4 MiB of compiler arena, which HotSpot keeps in its chunk pool until its
# cleaner (every 5 s) and the heap trim above give it back: 5 MiB of idle RSS for the first
# 10 s. Interpreted, it costs only where classes are generated: at start-up and on the first
# upcall of each kind, never per handshake. "quiet": the JVM would print the command on stdout.
set -- --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC -Xms8m -Xmx256m -XX:TrimNativeHeapInterval=10000 -XX:TieredStopAtLevel=1 \
    -XX:CompileCommand=quiet -XX:CompileCommand=exclude,jdk.internal.classfile.impl.StackMapGenerator::processBlock \
    ${aot:+"-XX:AOTCache=$lib/rpctls.aot"} ${aot:+-Xlog:aot=off} \
    ${RPCTLS_JAVA_OPTS:-} -cp "$lib/*" @MAIN_CLASS@ "$@"
[ -n "$foreground" ] && exec "$jdk/bin/java" "$@"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/$prog.XXXXXX") || exit 1
RPCTLS_READY_FILE="$tmp/ready" "$jdk/bin/java" "$@" </dev/null >"$tmp/log" 2>&1 &
pid=$!
status=0
while :; do
    if [ -s "$tmp/ready" ]; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid"; status=$?
        cat "$tmp/log" >&2
        [ "$status" -ne 0 ] || status=1
        break
    fi
    sleep 0.05
done
rm -rf "$tmp"
exit "$status"
