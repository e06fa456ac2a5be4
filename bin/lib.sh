# Shared by the scripts in bin/: finds a JDK 25 and builds the jars when they are missing
# or older than the sources. Sourced, not run.

CONVERGE_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONVERGE_VERSION=0.1.0-SNAPSHOT

find_java25() {
  local candidates=()
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  candidates+=(/usr/lib/jvm/temurin-25* /usr/lib/jvm/*-25* /usr/lib/jvm/java-25*)
  local home version
  for home in "${candidates[@]}"; do
    [ -x "$home/bin/java" ] || continue
    version=$("$home/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    if [ "${version%%.*}" -ge 25 ] 2>/dev/null; then
      export JAVA_HOME="$home"
      return 0
    fi
  done
  echo "converge: no JDK 25 found (set JAVA_HOME, or install Temurin 25 under /usr/lib/jvm)" >&2
  return 1
}

# Builds the reactor (without tests) when the daemon's jar is missing or a source is newer.
ensure_built() {
  local jar="$CONVERGE_HOME/converge-daemon/target/converge-daemon-$CONVERGE_VERSION.jar"
  local bench="$CONVERGE_HOME/converge-bench/target/converge-bench-$CONVERGE_VERSION.jar"
  if [ -f "$jar" ] && [ -f "$bench" ] && [ -z "$(find "$CONVERGE_HOME" -path '*/src/main/*' -newer "$jar" -print -quit 2>/dev/null)" ] \
     && [ -z "$(find "$CONVERGE_HOME" -name pom.xml -newer "$jar" -print -quit 2>/dev/null)" ]; then
    return 0
  fi
  echo "converge: building (mvn package -DskipTests) ..." >&2
  # Quietly: Maven 3.8 on JDK 25 warns about sun.misc.Unsafe in its own guava and writes ANSI
  # resets even in batch mode; the user sees Maven's output only when the build fails.
  local log
  log=$(mktemp "${TMPDIR:-/tmp}/converge-build.XXXXXX")
  if ! (cd "$CONVERGE_HOME" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" \
        mvn -B -q -Dstyle.color=never -DskipTests package >"$log" 2>&1); then
    cat "$log" >&2
    rm -f "$log"
    echo "converge: build failed" >&2
    return 1
  fi
  rm -f "$log"
  touch "$jar"
}

# Runs a main class of the daemon module with its runtime class path.
run_main() {
  local main="$1"; shift
  local target="$CONVERGE_HOME/converge-daemon/target"
  exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED ${CONVERGE_JAVA_OPTS:-} \
    -cp "$target/converge-daemon-$CONVERGE_VERSION.jar:$target/lib/*" "$main" "$@"
}
