# Shared by the scripts in bin/: finds a JDK 25, builds the jars when they are missing or older
# than the sources, trains the JVM's start-up (AOT) caches, and runs a main class with the
# JVM options of a per-VM daemon. Sourced, not run. The same scripts serve the release archive
# (./bin/dist): there the runtime, the jars and the caches sit next to bin/ and nothing is built.

# Every fork costs the daemon's start-up a few milliseconds on a small host: the paths below are
# found with parameter expansion, not dirname or a subshell, where that is unambiguous.
# (The AOT cache is valid only for the class path it was trained with, so the home must come
# out the same however the script was called: any . or .. goes through cd and pwd.)
_converge_bin=${BASH_SOURCE[0]%/*}
[ "$_converge_bin" = "${BASH_SOURCE[0]}" ] && _converge_bin=.
_converge_bin=${_converge_bin#./}
case "$_converge_bin" in /*) ;; *) _converge_bin="$PWD/$_converge_bin" ;; esac
case "$_converge_bin" in
  */.|*/..|*/./*|*/../*|*//*|*/bin/*) CONVERGE_HOME="$(cd "$_converge_bin/.." && pwd)" ;;
  */bin) CONVERGE_HOME="${_converge_bin%/bin}" ;;
  *) CONVERGE_HOME="$(cd "$_converge_bin/.." && pwd)" ;;
esac
unset _converge_bin
CONVERGE_VERSION=0.1.0-SNAPSHOT

# A release archive has lib/ (the jars) and runtime/ (a jlink'ed Java); a checkout has neither.
if [ -d "$CONVERGE_HOME/lib" ]; then
  CONVERGE_LIB="$CONVERGE_HOME/lib"
  CONVERGE_AOT_DIR="$CONVERGE_HOME/lib"
  CONVERGE_RELEASE=1
else
  CONVERGE_LIB="$CONVERGE_HOME/converge-daemon/target"
  CONVERGE_AOT_DIR="$CONVERGE_HOME/converge-daemon/target"
  CONVERGE_RELEASE=0
fi

# The daemon's JVM: Serial GC (no GC threads, small heap bookkeeping; it returns memory when the
# heap shrinks after a full collection), a heap that starts small and is capped for one VM's
# daemon (bulk data lives off the heap, in FFM arenas), and the AOT cache mapped where it was
# built so its pages stay clean and shared between daemons; glibc's free memory (the compilers'
# arenas after a burst of compilation) trimmed back to the system every second.
# CONVERGE_JAVA_OPTS adds or overrides.
CONVERGED_JVM=(-XX:+UseSerialGC -Xms8m "-Xmx${CONVERGE_HEAP:-256m}" -XX:MinHeapFreeRatio=10 -XX:MaxHeapFreeRatio=30
  -XX:TrimNativeHeapInterval=1000 -XX:+UnlockDiagnosticVMOptions -XX:ArchiveRelocationMode=0)
# The CLI lives for a few hundred milliseconds: the quick compiler only, a small heap, and no
# hsperfdata file (the jps/jstat counters, a file created and mapped at every start).
CONVERGE_CLI_JVM=(-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xmx64m -XX:-UsePerfData -XX:+UnlockDiagnosticVMOptions
  -XX:ArchiveRelocationMode=0)
# glibc's per-thread malloc arenas cost megabytes of resident memory each for nothing here.
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"

# The major version a JDK's release file states (JAVA_VERSION="25.0.1" -> 25), read without a fork.
java_release_version() {
  local line
  [ -r "$1/release" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      JAVA_VERSION=*) line=${line#JAVA_VERSION=\"}; echo "${line%%[!0-9]*}"; return 0 ;;
    esac
  done <"$1/release"
}

find_java25() {
  if [ -x "$CONVERGE_HOME/runtime/bin/java" ]; then
    export JAVA_HOME="$CONVERGE_HOME/runtime"
    return 0
  fi
  local candidates=()
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  candidates+=(/usr/lib/jvm/temurin-25* /usr/lib/jvm/*-25* /usr/lib/jvm/java-25*)
  local home version
  for home in "${candidates[@]}"; do
    [ -x "$home/bin/java" ] || continue
    # The release file says the version without starting a JVM (that alone costs ~100 ms).
    version=$(java_release_version "$home")
    [ -n "$version" ] || version=$("$home/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    if [ "${version%%.*}" -ge 25 ] 2>/dev/null; then
      export JAVA_HOME="$home"
      return 0
    fi
  done
  echo "converge: no JDK 25 found (set JAVA_HOME, or install Temurin 25 under /usr/lib/jvm)" >&2
  return 1
}

# Builds the reactor (without tests) when the daemon's jar is missing or a source is newer,
# then trains the AOT caches. Nothing to do in a release archive.
ensure_built() {
  # CONVERGE_NO_BUILD=1: run what is there (benchmarks set it for the daemons they time).
  [ "$CONVERGE_RELEASE" = 1 ] || [ "${CONVERGE_NO_BUILD:-0}" = 1 ] && return 0
  local jar="$CONVERGE_HOME/converge-daemon/target/converge-daemon-$CONVERGE_VERSION.jar"
  local bench="$CONVERGE_HOME/converge-bench/target/converge-bench-$CONVERGE_VERSION.jar"
  if [ -f "$jar" ] && [ -f "$bench" ] && [ -z "$(find "$CONVERGE_HOME" -path '*/src/main/*' -newer "$jar" -print -quit 2>/dev/null)" ] \
     && [ -z "$(find "$CONVERGE_HOME" -name pom.xml -newer "$jar" -print -quit 2>/dev/null)" ]; then
    # A cache trained on older jars is refused by the JVM: train again after any rebuild.
    if [ "${CONVERGE_AOT:-1}" != 0 ] && { [ ! "$CONVERGE_AOT_DIR/converged.aot" -nt "$jar" ] || [ ! "$CONVERGE_AOT_DIR/converge.aot" -nt "$jar" ]; }; then
      aot_train || echo "converge: no start-up cache (training failed; see above)" >&2
    fi
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
  [ "${CONVERGE_AOT:-1}" = 0 ] || aot_train || echo "converge: no start-up cache (training failed; see above)" >&2
}

# The runtime class path: this module's jar and its dependencies, in a fixed order (an AOT
# cache is valid only for the class path it was trained with).
class_path() {
  set_class_path
  echo "$CONVERGE_CP"
}

# The same into CONVERGE_CP, without the subshell of $(class_path).
set_class_path() {
  local j
  if [ "$CONVERGE_RELEASE" = 1 ]; then
    CONVERGE_CP=""
    for j in "$CONVERGE_LIB"/*.jar; do CONVERGE_CP="${CONVERGE_CP:+$CONVERGE_CP:}$j"; done
  else
    CONVERGE_CP="$CONVERGE_LIB/converge-daemon-$CONVERGE_VERSION.jar"
    for j in "$CONVERGE_LIB"/lib/*.jar; do CONVERGE_CP="$CONVERGE_CP:$j"; done
  fi
}

# JVM options for the AOT cache NAME (converged or converge) when it exists and fits this JVM.
aot_opts() {
  set_aot_opts "$1"
  [ ${#CONVERGE_AOT_OPTS[@]} -eq 0 ] || echo "${CONVERGE_AOT_OPTS[*]}"
}

# The same into the array CONVERGE_AOT_OPTS, without a subshell.
set_aot_opts() {
  local cache="$CONVERGE_AOT_DIR/$1.aot"
  CONVERGE_AOT_OPTS=()
  [ "${CONVERGE_AOT:-1}" = 0 ] && return 0
  [ -f "$cache" ] && CONVERGE_AOT_OPTS=("-XX:AOTCache=$cache" -Xlog:aot=off -Xlog:cds=off)
  return 0
}

# Trains the AOT caches: a daemon and a CLI run a short, typical session (QMP greeting, block
# nodes, a mirror to READY and its completion, the job table, events) with -XX:AOTCacheOutput;
# each JVM writes the classes it loaded and linked, so the next start maps them instead.
aot_train() {
  local dir cp pid i
  dir=$(mktemp -d "${TMPDIR:-/tmp}/converge-aot.XXXXXX")
  cp=$(class_path)
  echo "converge: training the start-up caches ..." >&2
  "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED "${CONVERGED_JVM[@]}" -XX:AOTCacheOutput="$dir/converged.aot" \
      -Xlog:aot=off -Xlog:cds=off -cp "$cp" dev.converge.daemon.Converged --qmp "unix:$dir/qmp.sock" \
      --blockdev "null-co,node-name=src,size=67108864" --blockdev "null-co,node-name=dst,size=67108864" \
      >"$dir/daemon.log" 2>&1 &
  pid=$!
  for i in $(seq 300); do [ -S "$dir/qmp.sock" ] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  local jvm=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED "${CONVERGE_CLI_JVM[@]}")
  local main=(-cp "$cp" dev.converge.daemon.cli.ConvergeCli --qmp "unix:$dir/qmp.sock")
  local ok=1
  "${jvm[@]}" "${main[@]}" qmp '{"execute": "blockdev-mirror", "arguments": {"job-id": "m0", "device": "src", "target": "dst", "sync": "full", "auto-dismiss": false}}' \
    >"$dir/cli.log" 2>&1 || ok=0
  "${jvm[@]}" "${main[@]}" job wait m0 --interval 20 >>"$dir/cli.log" 2>&1 &
  local waiter=$!
  for i in $(seq 300); do
    "${jvm[@]}" "${main[@]}" jobs 2>/dev/null | grep -q ' ready ' && break
    kill -0 "$waiter" 2>/dev/null || break
    sleep 0.1
  done
  # The CLI's cache learns from the short, frequent call (a job table with a row): every class in the
  # cache is loaded at start, so a cache trained on a long `job wait` made each short call slower.
  "${jvm[@]}" -XX:AOTCacheOutput="$dir/converge.aot" -Xlog:aot=off -Xlog:cds=off "${main[@]}" jobs >>"$dir/cli.log" 2>&1 || ok=0
  "${jvm[@]}" "${main[@]}" job complete m0 >>"$dir/cli.log" 2>&1 || ok=0
  wait "$waiter" || ok=0
  "${jvm[@]}" "${main[@]}" job dismiss m0 >>"$dir/cli.log" 2>&1 || ok=0
  "${jvm[@]}" "${main[@]}" qmp '{"execute": "quit"}' >>"$dir/cli.log" 2>&1 || ok=0
  wait "$pid" || ok=0
  if [ "$ok" = 1 ] && [ -f "$dir/converged.aot" ] && [ -f "$dir/converge.aot" ]; then
    mv "$dir/converged.aot" "$dir/converge.aot" "$CONVERGE_AOT_DIR/"
    rm -rf "$dir"
    return 0
  fi
  cat "$dir/daemon.log" "$dir/cli.log" >&2
  rm -rf "$dir"
  return 1
}

# Runs a main class with the runtime class path; $1 is converged or converge (which JVM options).
run_main() {
  local which="$1" main="$2"; shift 2
  local jvm
  if [ "$which" = converged ]; then jvm=("${CONVERGED_JVM[@]}"); else jvm=("${CONVERGE_CLI_JVM[@]}"); fi
  set_aot_opts "$which"
  set_class_path
  # shellcheck disable=SC2086
  exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED "${jvm[@]}" "${CONVERGE_AOT_OPTS[@]}" ${CONVERGE_JAVA_OPTS:-} \
    -cp "$CONVERGE_CP" "$main" "$@"
}
