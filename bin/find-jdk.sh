# Sourced by bin/vectorstream, bin/test and .ci/run: sets JAVA_HOME to a JDK >= 21, or explains.
# Order: $JAVA_HOME if it qualifies, then the usual install locations, then `java` on the PATH.

vs_java_feature() { # prints the feature version (17, 21, 25, …) of the java binary $1, or nothing
  # A JDK's `release` file names its version: reading it costs nothing, starting a JVM to ask costs ~0.15 s.
  local release v
  release="$(dirname "$(dirname "$1")")/release"
  if [ -r "$release" ]; then
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$release")
    if [ -n "$v" ] && [ "$v" != 1 ]; then echo "$v"; return; fi
  fi
  "$1" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2; exit}'
}

vs_find_jdk() {
  local candidates=() c v
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  for c in /usr/lib/jvm/* /opt/java/* /opt/jdk* /usr/local/jdk* /Library/Java/JavaVirtualMachines/*/Contents/Home "$HOME"/.sdkman/candidates/java/*; do
    [ -d "$c" ] && candidates+=("$c")
  done
  if command -v java >/dev/null 2>&1; then
    candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  fi
  for c in "${candidates[@]}"; do
    [ -x "$c/bin/java" ] && [ -x "$c/bin/javac" ] || continue
    v=$(vs_java_feature "$c/bin/java")
    v=${v%%.*}
    if [ -n "$v" ] && [ "$v" -ge 21 ] 2>/dev/null; then
      export JAVA_HOME="$c"
      return 0
    fi
  done
  echo "vectorstream: no JDK 21 or newer found (looked at JAVA_HOME, /usr/lib/jvm, /opt/java and the PATH)." >&2
  echo "Install one (e.g. 'apt-get install openjdk-21-jdk' or Temurin 21/25) or point JAVA_HOME at it." >&2
  return 1
}

vs_require_maven() {
  if ! command -v mvn >/dev/null 2>&1; then
    echo "vectorstream: Maven (mvn) is needed to build; install it (e.g. 'apt-get install maven')." >&2
    return 1
  fi
}
