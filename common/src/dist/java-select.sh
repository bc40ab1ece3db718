# Sourced by the rpctls launchers and tools/: find a JDK that has the final FFM API (22 or newer).
# POSIX sh, so that it works with FreeBSD's /bin/sh as well as bash.

# rpctls_java_major DIR: print the feature version of the JDK in DIR (from its release file).
rpctls_java_major() {
    [ -x "$1/bin/java" ] && [ -r "$1/release" ] || return 1
    v=$(sed -n 's/^JAVA_VERSION="\([0-9][0-9]*\).*/\1/p' "$1/release")
    [ -n "$v" ] && echo "$v"
}

# rpctls_find_java_home [EXTRA_DIR...]: print the first JDK >= 22 among $RPCTLS_JAVA_HOME,
# $JAVA_HOME, the given directories, the usual install places (Debian /usr/lib/jvm, FreeBSD ports
# /usr/local/openjdk*), and the java on PATH.
rpctls_find_java_home() {
    for d in "${RPCTLS_JAVA_HOME:-}" "${JAVA_HOME:-}" "$@" \
             /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*25* /usr/lib/jvm/* \
             /usr/local/openjdk25 /usr/local/openjdk2* \
             "$(dirname "$(dirname "$(readlink -f "$(command -v java 2>/dev/null || echo /nonexistent)")")")"; do
        [ -n "$d" ] || continue
        m=$(rpctls_java_major "$d") || continue
        if [ "$m" -ge 22 ]; then echo "$d"; return 0; fi
    done
    return 1
}
