# Sourced by tools/*: selects a JDK >= 22 and Maven settings. POSIX sh / bash.
_rpctls_root=$(cd "$(dirname "${BASH_SOURCE:-$0}")/.." && pwd)
. "$_rpctls_root/common/src/dist/java-select.sh"
if ! JAVA_HOME=$(rpctls_find_java_home); then
    echo "tools: no JDK 22 or newer found. Debian: Temurin 25 in /usr/lib/jvm; FreeBSD: pkg install openjdk25;" >&2
    echo "       or set RPCTLS_JAVA_HOME=/path/to/jdk" >&2
    return 1 2>/dev/null || exit 1
fi
export JAVA_HOME
export PATH="$JAVA_HOME/bin:$PATH"
# Maven 3.8.7's bundled Guava calls sun.misc.Unsafe; JDK 25 warns about that on every run.
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
RPCTLS_ROOT=$_rpctls_root
export RPCTLS_ROOT
