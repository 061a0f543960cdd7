#!/usr/bin/env bash
# The README's two commands:
#   scripts/dev.sh run [tetherd options]  set up, build, run tetherd in the foreground
#   scripts/dev.sh test                   set up, build, run the whole test suite
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
jobs=$(nproc 2>/dev/null || echo 2)

build() { # build DIR [cmake args...]
  local dir=$1; shift
  cmake -S . -B "$dir" -DTETHER_WERROR=ON "$@" >"$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j "$jobs" 2>&1 | grep -E "warning|error|Error" && return 1
  cmake --build "$dir" -j "$jobs" >/dev/null
}

passed=0 failed=0
suite() { # suite NAME DIR [ctest args...]: runs ctest, adds to the totals
  local name=$1 dir=$2; shift 2
  echo "== $name"
  local log="$dir/ctest.log" rc=0
  (cd "$dir" && ctest --output-on-failure -j "$jobs" "$@") >"$log" 2>&1 || rc=$?
  grep -E "tests passed|Test +#|Failed|\*\*\*" "$log" | sed 's/^/   /' | tail -n 60
  local line; line=$(grep -E "tests passed, [0-9]+ tests failed out of" "$log" || true)
  if [ -z "$line" ]; then
    echo "   ctest did not run ($name)"; failed=$((failed + 1)); return
  fi
  local total fail
  total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
  fail=$(sed -E 's/.* ([0-9]+) tests failed.*/\1/' <<<"$line")
  passed=$((passed + total - fail)); failed=$((failed + fail))
  if [ "$rc" != 0 ] && [ "$fail" = 0 ]; then failed=$((failed + 1)); fi
}

case "${1:-}" in
run)
  shift
  scripts/setup.sh
  build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
  exec build/tetherd "$@"
  ;;
test)
  scripts/setup.sh
  start=$(date +%s)
  build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
  for prog in build/tetherd build/tether; do   # where the README and `run` find them
    [ -x "$prog" ] || { echo "   $prog is missing"; failed=$((failed + 1)); }
  done
  suite "unit + integration" build

  # The same suite under AddressSanitizer + UndefinedBehaviorSanitizer. The
  # daemons the integration tests start write any report under sanitizer/.
  build build-asan -DCMAKE_BUILD_TYPE=Debug -DTETHER_SANITIZE=ON
  rm -rf build-asan/sanitizer && mkdir -p build-asan/sanitizer
  export ASAN_OPTIONS="log_path=$root/build-asan/sanitizer/asan:detect_leaks=1"
  export UBSAN_OPTIONS="log_path=$root/build-asan/sanitizer/ubsan:print_stacktrace=1:halt_on_error=1"
  suite "unit + integration under ASan/UBSan" build-asan
  unset ASAN_OPTIONS UBSAN_OPTIONS
  if compgen -G "build-asan/sanitizer/*" >/dev/null; then
    echo "   sanitizer reports:"; cat build-asan/sanitizer/* | head -n 80
    failed=$((failed + 1))
  fi

  build build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTETHER_FUZZ=ON
  suite "fuzz (libFuzzer, brief)" build-fuzz -L fuzz

  echo "== $(( $(date +%s) - start )) s"
  echo "tests: $passed passed, $failed failed"
  [ "$failed" = 0 ]
  ;;
*)
  echo "usage: scripts/dev.sh run [tetherd options] | scripts/dev.sh test" >&2
  exit 2
  ;;
esac
