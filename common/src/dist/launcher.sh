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
# Serial GC and a small heap: the daemons hold little Java state; native memory is OpenSSL's.
set -- --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC -Xmx256m ${RPCTLS_JAVA_OPTS:-} -cp "$lib/*" @MAIN_CLASS@ "$@"
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
