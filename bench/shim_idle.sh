#!/usr/bin/env bash
# tether-shim.exe idle-supervising under Wine: private memory, CPU time and
# wake-ups (voluntary context switches) of the shim's process, against the
# floor of any Wine process (a PE that only sleeps), measured the same way.
#
#   bench/shim_idle.sh [BUILD_DIR]     (default build/; needs the plain tree built
#                                       with mingw-w64 and wine installed)
# Env: BENCH_SECONDS (default 30) per phase.
#
# Phase "no checks": health_interval_ms 3600000: nothing is due, so any wake-up
# is the shim polling. Phase "checks": the default 5000 ms against a live
# tetherd (reached through the fake wsl.exe as in tests/shim end_to_end).
# It prints figures; it never fails on a slow number.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
secs=${BENCH_SECONDS:-30}
exe="$build/windows-shim-mingw"
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)
[ -x "$exe/tether-shim.exe" ] || { echo "no $exe/tether-shim.exe: build the plain tree with mingw-w64" >&2; exit 1; }

work="$build/bench-shim"
rm -rf "$work"
mkdir -p "$work/state"   # run/: tetherd makes it, 0700
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY
W() { local p=$1; printf 'Z:%s' "${p//\//\\}"; }
J() { W "$1" | sed 's/\\/\\\\/g'; }
"$wine" wineboot -i >/dev/null 2>&1

# The floor: a PE that does nothing but sleep.
cat >"$work/sleeper.c" <<'EOF'
#include <windows.h>
int main(void) { Sleep(INFINITE); return 0; }
EOF
x86_64-w64-mingw32-gcc -O2 -static -o "$work/sleeper.exe" "$work/sleeper.c"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# sample PID: "private_kib utime+stime_ticks voluntary_switches" (all threads)
sample() {
	local pid=$1 priv ticks=0 sw=0
	priv=$(awk '/^Private_(Clean|Dirty):/ { s += $2 } END { print s }' "/proc/$pid/smaps_rollup")
	for t in /proc/"$pid"/task/*; do
		read -r -a st <"$t/stat"
		ticks=$((ticks + st[13] + st[14]))
		sw=$((sw + $(awk '/^voluntary_ctxt_switches/ { print $2 }' "$t/status")))
	done
	echo "$priv $ticks $sw"
}

# measure NAME PID: two samples $secs apart.
measure() {
	local name=$1 pid=$2 a b
	read -r -a a <<<"$(sample "$pid")"
	sleep "$secs"
	read -r -a b <<<"$(sample "$pid")"
	local hz; hz=$(getconf CLK_TCK)
	printf '%-34s private %6d KiB   cpu %5.2f ms/s   wake-ups %6.2f /s (%d in %d s)   threads %d\n' \
		"$name" "${b[0]}" "$(echo "(${b[1]} - ${a[1]}) * 1000 / $hz / $secs" | bc -l)" \
		"$(echo "(${b[2]} - ${a[2]}) / $secs" | bc -l)" $((b[2] - a[2])) "$secs" \
		"$(ls /proc/"$pid"/task | wc -l)"
}

"$wine" "$work/sleeper.exe" &
pids+=($!)
sleep 2
measure "floor: a sleeping PE under Wine" "${pids[-1]}"

port=$((20000 + RANDOM % 20000))
export TETHER_SHIM_DIR FAKE_WSL_STATE FAKE_WSL_INIT FAKE_WSL_TETHER FAKE_WSL_SCENARIO=exec
export FAKE_WSL_DISTROS=Bench TETHER_RUNTIME_DIR="$work/run" TETHERD_BIN="$build/tetherd"
export XDG_CONFIG_HOME="$work/xdg"   # tetherd's port and runtime dir
mkdir -p "$XDG_CONFIG_HOME/tether"
printf '{"port": %d, "runtime_dir": "%s"}\n' "$port" "$work/run" >"$XDG_CONFIG_HOME/tether/tetherd.json"
TETHER_SHIM_DIR=$(W "$work")
FAKE_WSL_STATE=$(W "$work/state")
FAKE_WSL_INIT="$build/tests/shim/fake_wsl_init"
FAKE_WSL_TETHER="$root/tests/shim/anchor-standin.sh"

run_phase() { # run_phase NAME INTERVAL
	printf '{"wsl_exe": "%s", "distro": "Bench", "port": %d, "health_interval_ms": %d, "health_grace_ms": 0}\n' \
		"$(J "$exe/fake-wsl/wsl.exe")" "$port" "$2" >"$work/shim.json"
	"$wine" "$exe/tether-shimw.exe" run &
	local pid=$!
	pids+=("$pid")
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
		sleep 0.1
	done
	sleep 5   # past the start: its output, the first check
	measure "$1" "$pid"
	"$wine" "$exe/tether-shim.exe" stop >/dev/null
	wait "$pid" || true
}
run_phase "shim, no health check due" 3600000
run_phase "shim, health check every 5 s" 5000
echo "(in the second phase every wake-up belongs to a check: $((secs / 5)) checks in $secs s;" \
	"Wine turns each Winsock and wait call into wineserver round trips)"
echo "tetherd on 127.0.0.1:$port answered; the shim's log: $work/shim.log"
