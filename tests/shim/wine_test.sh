#!/usr/bin/env bash
# tether-shim.exe under Wine: one scenario per call (tests/shim/CMakeLists.txt
# registers each as shim.wine.<name>). The environment comes from ctest:
# SHIM_EXE_DIR, SHIM_WINE, SHIM_WINESERVER, SHIM_SRC, SHIM_WORK,
# FAKE_WSL_INIT_BIN, TETHERD_BIN, TETHER_BIN, and SHIM_SKIP (a reason to skip).
set -uo pipefail

scenario=${1:?usage: wine_test.sh SCENARIO}
if [ -n "${SHIM_SKIP:-}" ]; then
	echo "SKIP: $SHIM_SKIP"
	exit 77
fi

export WINEPREFIX="$SHIM_WORK/prefix" WINEDEBUG=-all
# No Mono or Gecko prompts at wineboot; no display: console programs only.
export WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY
SHIM="$SHIM_EXE_DIR/tether-shim.exe"
SHIMW="$SHIM_EXE_DIR/tether-shimw.exe"
FAKE="$SHIM_EXE_DIR/fake-wsl/wsl.exe"
T=""          # this scenario's directory
RUN_PID=""    # the `run` under test

# Unix path -> Windows path through Wine's Z: drive; J: the same, JSON-escaped.
W() { local p=$1; printf 'Z:%s' "${p//\//\\}"; }
J() { W "$1" | sed 's/\\/\\\\/g'; }

dump() {
	[ -n "$T" ] || return
	for f in "$T"/shim.log "$T"/argv.log "$T"/run.out "$T"/state/out; do
		[ -f "$f" ] && { echo "---- $f"; tail -n 40 "$f"; }
	done
}
fail() {
	echo "FAIL ($scenario): $*"
	dump
	exit 1
}
cleanup() {
	if [ -n "$RUN_PID" ] && kill -0 "$RUN_PID" 2>/dev/null; then
		kill -9 "$RUN_PID" 2>/dev/null
	fi
	if [ -n "$T" ] && [ -f "$T/state/child.pid" ]; then
		kill -9 "$(cat "$T/state/child.pid")" 2>/dev/null
	fi
	return 0
}
trap cleanup EXIT

# wait_for SECONDS COMMAND...: polls every 0.1 s.
wait_for() {
	local limit=$1; shift
	local end=$((SECONDS + limit))
	while ! "$@" 2>/dev/null; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.1
	done
}
in_log() { grep -qF -- "$1" "$T/shim.log"; }
wait_log() { wait_for "${2:-15}" in_log "$1" || fail "no log line containing: $1"; }
starts() {
	local n=0
	[ -f "$T/argv.log" ] && n=$(grep -c -- '"--exec","tether","anchor"' "$T/argv.log")
	echo "${n:-0}"
}
starts_ge() { [ "$(starts)" -ge "$1" ]; }
argv_line() { sed -n "${1}p" "$T/argv.log" | cut -f2; }

# The fake wsl.exe rewrites state/lease every 100 ms while it lives.
fake_alive() {
	local a b
	a=$(cat "$T/state/lease" 2>/dev/null)
	sleep 0.5
	b=$(cat "$T/state/lease" 2>/dev/null)
	[ -n "$b" ] && [ "$a" != "$b" ]
}
fake_dead() { ! fake_alive; }

# case_dir NAME: a fresh directory, the shim's (TETHER_SHIM_DIR) and the fake's.
case_dir() {
	T="$SHIM_WORK/$1"
	rm -rf "$T"
	mkdir -p "$T/state"
	export TETHER_SHIM_DIR FAKE_WSL_LOG FAKE_WSL_STATE FAKE_WSL_INIT FAKE_WSL_LIST
	TETHER_SHIM_DIR=$(W "$T")
	FAKE_WSL_LOG=$(W "$T/argv.log")
	FAKE_WSL_STATE=$(W "$T/state")
	FAKE_WSL_INIT=$FAKE_WSL_INIT_BIN
	FAKE_WSL_LIST=$(W "$SHIM_SRC/fixtures/wsl-list-verbose.utf16le")
	[ "$1" = no_distros ] && FAKE_WSL_LIST=none
	return 0
}
# config 'JSON members': shim.json with wsl_exe set to the fake.
config() {
	printf '{\n  "wsl_exe": "%s",\n  %s\n}\n' "$(J "$FAKE")" "$1" >"$T/shim.json"
}
start_run() { # start_run [exe]
	"$SHIM_WINE" "${1:-$SHIM}" run >"$T/run.out" 2>&1 &
	RUN_PID=$!
}
shim() { "$SHIM_WINE" "$SHIM" "$@"; }
stop_run() { # stops RUN_PID through `tether-shim stop`, checks it exits 0
	local out rc
	out=$(shim stop 2>&1); rc=$?
	[ $rc = 0 ] || fail "stop exited $rc: $out"
	wait_for 15 bash -c "! kill -0 $RUN_PID" || fail "run did not exit after stop"
	wait "$RUN_PID"; rc=$?
	[ $rc = 0 ] || fail "run exited $rc after stop"
	RUN_PID=""
}

case "$scenario" in
prefix)
	rm -rf "$WINEPREFIX"
	mkdir -p "$SHIM_WORK"
	"$SHIM_WINE" wineboot -i >"$SHIM_WORK/wineboot.log" 2>&1 ||
		{ cat "$SHIM_WORK/wineboot.log"; fail "wineboot failed"; }
	out=$("$SHIM_WINE" "$SHIM" --version 2>&1) || fail "--version: $out"
	[[ "$out" == "tether-shim "* ]] || fail "--version printed: $out"
	objdump=$(command -v x86_64-w64-mingw32-objdump || true)
	if [ -n "$objdump" ]; then
		# Statically linked: only DLLs every Windows has.
		dlls=$("$objdump" -p "$SHIM" | sed -n 's/.*DLL Name: //p' | tr 'A-Z' 'a-z' | sort | tr '\n' ' ')
		[ "$dlls" = "advapi32.dll kernel32.dll msvcrt.dll user32.dll ws2_32.dll " ] ||
			fail "unexpected DLLs: $dlls"
	fi
	echo "prefix ready: $WINEPREFIX"
	;;

cleanup)
	"$SHIM_WINESERVER" -k 2>/dev/null
	exit 0
	;;

argv_and_stop)
	# The default distro (from `wsl.exe -l -v`, UTF-16LE), then the exact
	# anchor command; `status` while it runs; `stop`.
	case_dir argv
	export FAKE_WSL_SCENARIO=hang
	config '"health_interval_ms": 60000, "health_timeout_ms": 1000, "stop_timeout_ms": 500'
	start_run
	wait_for 15 starts_ge 1 || fail "the anchor was not started"
	[ "$(argv_line 1)" = '["-l","-v"]' ] || fail "first call: $(argv_line 1)"
	[ "$(argv_line 2)" = '["-d","Ubuntu-22.04","--exec","tether","anchor"]' ] ||
		fail "anchor argv: $(argv_line 2)"
	sed -n 2p "$T/argv.log" | cut -f3 | grep -qF 'wsl.exe -d Ubuntu-22.04 --exec tether anchor"' ||
		fail "command line: $(sed -n 2p "$T/argv.log" | cut -f3)"
	wait_log "anchor: fake anchor: hanging"
	out=$(shim status 2>&1); rc=$?
	[ $rc = 1 ] || fail "status exited $rc (want 1: running, daemon not answering): $out"
	for want in "shim for (default): running" "distro: Ubuntu-22.04" "state: running" \
		"anchor: wsl.exe pid" "wsl: distro Ubuntu-22.04 is Running (WSL 2, the default)" \
		"daemon: not answering on 127.0.0.1:7420"; do
		grep -qF -- "$want" <<<"$out" || fail "status lacks '$want': $out"
	done
	fake_alive || fail "the fake wsl.exe is not running"
	stop_run
	in_log "closing the anchor's stdin" || fail "no stdin close logged"
	# The hanging fake ignores its stdin: killed after stop_timeout_ms.
	in_log "the anchor did not exit within 500 ms: terminating its job" || fail "no kill logged"
	in_log "stopped" || fail "no 'stopped' logged"
	fake_dead || fail "the fake wsl.exe outlived the shim"
	out=$(shim stop 2>&1); rc=$?
	[ $rc = 3 ] || fail "a second stop exited $rc: $out"
	;;

backoff)
	# A crash loop: starts spaced by 200, 400, 800, 800 ms (+ process start).
	case_dir backoff
	export FAKE_WSL_SCENARIO=exit:1:0 FAKE_WSL_DISTROS=Case-backoff
	config '"distro": "Case-backoff", "backoff_base_ms": 200, "backoff_max_ms": 800'
	start_run
	wait_for 20 starts_ge 6 || fail "only $(starts) starts"
	stop_run
	# Start to start (the fake's own clock) is never shorter than the backoff.
	mapfile -t t < <(cut -f1 "$T/argv.log")
	want=(200 400 800 800 800)
	for i in 0 1 2 3 4; do
		gap=$((t[i + 1] - t[i]))
		[ $gap -ge ${want[i]} ] || fail "start $((i + 1)) -> $((i + 2)) is $gap ms, under ${want[i]}"
	done
	# The shim's own wait, from its "exited ... restart in D ms" line to its next
	# "starting the anchor" line: Wine's process start and exit (hundreds of ms
	# on a busy machine) are outside it, so the band can be narrow.
	mapfile -t w < <(awk '
		function ms(hms,  a) { split(hms, a, ":"); return ((a[1] * 60 + a[2]) * 60 + a[3]) * 1000 }
		/the anchor exited with code 1/ { exited = ms($2); match($0, /restart in [0-9]+ ms/)
			delay = substr($0, RSTART + 11, RLENGTH - 14) }
		/starting the anchor:/ && exited { printf "%d %d\n", delay, ms($2) - exited; exited = 0 }
	' "$T/shim.log")
	[ ${#w[@]} -ge 5 ] || fail "only ${#w[@]} exit-to-start pairs in the shim's log"
	for i in 0 1 2 3 4; do
		read -r delay gap <<<"${w[i]}"
		echo "exit $((i + 1)) -> start $((i + 2)): ${gap} ms (backoff ${want[i]} ms)"
		[ "$delay" = "${want[i]}" ] || fail "restart $((i + 1)) was scheduled in $delay ms, want ${want[i]}"
		# One Windows timer tick (16 ms) early at most, as the log's clock is
		# the wall clock and the wait is on the monotonic one.
		[ $gap -ge $((want[i] - 16)) ] && [ $gap -le $((want[i] + 300)) ] ||
			fail "wait $((i + 1)) is $gap ms, want $((want[i] - 16))..$((want[i] + 300))"
	done
	for d in 200 400 800; do
		in_log "restart in $d ms" || fail "no 'restart in $d ms' logged"
	done
	in_log "restart in 1600 ms" && fail "backoff went past backoff_max_ms"
	in_log "the anchor exited with code 1" || fail "exit reason not logged"
	;;

wsl_error)
	# wsl.exe fails (-1) with its UTF-16LE message: decoded into the log.
	case_dir wsl_error
	export FAKE_WSL_SCENARIO=hang FAKE_WSL_DISTROS=Other
	config '"distro": "NoSuch", "backoff_base_ms": 300, "backoff_max_ms": 5000'
	start_run
	wait_log "wsl.exe failed (exit code -1): There is no distribution with the supplied name. Error code: Wsl/Service/WSL_E_DISTRO_NOT_FOUND"
	in_log "anchor: There is no distribution with the supplied name." || fail "message lines not logged"
	sleep 2
	n=$(starts)
	# Backoff, never a busy loop: 300 + 600 + 1200 ms fit at most 4 starts.
	[ "$n" -ge 2 ] && [ "$n" -le 4 ] || fail "$n starts in about 2.5 s"
	stop_run
	;;

quoting)
	# A distro name with spaces, quotes and a trailing backslash reaches
	# wsl.exe as exactly one argument (no shell anywhere).
	case_dir quoting
	export FAKE_WSL_SCENARIO=hang FAKE_WSL_DISTROS=Other
	config '"distro": "my \"odd\" distro\\", "backoff_base_ms": 5000, "backoff_max_ms": 5000'
	start_run
	wait_for 15 starts_ge 1 || fail "not started"
	[ "$(argv_line 1)" = '["-d","my \"odd\" distro\\","--exec","tether","anchor"]' ] ||
		fail "argv: $(argv_line 1)"
	sed -n 1p "$T/argv.log" | cut -f3 | grep -qF -- '-d \"my \\\"odd\\\" distro\\\\\" --exec tether anchor' ||
		fail "command line: $(sed -n 1p "$T/argv.log" | cut -f3)"
	wait_log "There is no distribution with the supplied name."
	out=$(shim stop 2>&1) || fail "stop: $out"
	wait_for 10 bash -c "! kill -0 $RUN_PID" || fail "run did not stop"
	RUN_PID=""
	;;

kill_on_close)
	# The shim killed outright: the job object takes the fake wsl.exe with it.
	case_dir kill_on_close
	export FAKE_WSL_SCENARIO=hang FAKE_WSL_DISTROS=Case-kill
	config '"distro": "Case-kill"'
	start_run
	wait_log "anchor: fake anchor: hanging"
	fake_alive || fail "the fake wsl.exe is not running"
	kill -9 "$RUN_PID"
	wait "$RUN_PID" 2>/dev/null
	RUN_PID=""
	wait_for 5 fake_dead || fail "the fake wsl.exe survived the shim's death"
	;;

second_instance)
	case_dir second
	export FAKE_WSL_SCENARIO=hang FAKE_WSL_DISTROS=Case-second
	config '"distro": "Case-second"'
	start_run
	wait_log "anchor: fake anchor: hanging"
	out=$(timeout 30 "$SHIM_WINE" "$SHIM" run 2>&1); rc=$?
	[ $rc = 1 ] || fail "the second run exited $rc: $out"
	grep -qF "another tether-shim run already supervises Case-second" <<<"$out" ||
		fail "the second run said: $out"
	in_log "another tether-shim run already supervises Case-second: exiting" ||
		fail "not logged"
	kill -0 "$RUN_PID" || fail "the first run died"
	[ "$(starts)" = 1 ] || fail "the second run started an anchor"
	stop_run
	;;

health_restart)
	# Nothing answers on the port (bad input: a port that never answers):
	# after health_failures failed checks the anchor is stopped, killed
	# (the hanging fake ignores stdin) and started again after the backoff.
	case_dir health
	export FAKE_WSL_SCENARIO=hang FAKE_WSL_DISTROS=Case-health
	config '"distro": "Case-health", "port": 1, "health_interval_ms": 300, "health_timeout_ms": 200,
  "health_failures": 2, "health_grace_ms": 0, "stop_timeout_ms": 300, "backoff_base_ms": 200'
	start_run
	wait_log "health check failed (1 of 2): connect to 127.0.0.1"
	wait_log "2 health checks in a row failed (last: connect to 127.0.0.1"
	wait_log "the anchor did not exit within 300 ms: terminating its job"
	wait_log "restart in 200 ms"
	wait_for 10 starts_ge 2 || fail "not restarted"
	stop_run
	;;

no_wsl)
	case_dir no_wsl
	printf '{"wsl_exe": "%s", "distro": "D", "backoff_base_ms": 200}\n' \
		"$(J "$T/missing/wsl.exe")" >"$T/shim.json"
	start_run
	wait_log "could not start the anchor: cannot start Z:"
	wait_log "restart in 400 ms"
	stop_run
	[ -f "$T/argv.log" ] && fail "something ran"
	exit 0
	;;

log_rotation)
	# log_max_bytes and log_files: shim.log rotated into shim.1.log, shim.2.log.
	case_dir log_rotation
	export FAKE_WSL_SCENARIO=exit:1:0 FAKE_WSL_DISTROS=Case-log
	config '"distro": "Case-log", "backoff_base_ms": 10, "backoff_max_ms": 10,
  "log_max_bytes": 4096, "log_files": 2'
	start_run
	wait_for 30 test -f "$T/shim.2.log" || fail "no shim.2.log"
	sleep 1
	stop_run
	[ -e "$T/shim.3.log" ] && fail "more than log_files rotated logs"
	for f in shim.log shim.1.log shim.2.log; do
		size=$(stat -c %s "$T/$f")
		# Rotated once a line takes it past the limit: at most one line over.
		[ "$size" -le $((4096 + 4096)) ] || fail "$f has $size bytes"
	done
	[ "$(stat -c %s "$T/shim.1.log")" -gt 4096 ] || fail "shim.1.log rotated before the limit"
	grep -q "restart in 10 ms" "$T/shim.1.log" || fail "shim.1.log does not hold the older lines"
	;;

no_distros)
	# No distro configured and WSL lists none: a clear reason, and backoff.
	case_dir no_distros
	config '"backoff_base_ms": 200'
	start_run
	wait_log "could not start the anchor: no default distro: wsl.exe -l -v failed (exit code -1): Windows Subsystem for Linux has no installed distributions."
	wait_log "restart in 400 ms"
	stop_run
	[ "$(starts)" = 0 ] || fail "an anchor was started"
	;;

bad_config)
	case_dir bad_config
	printf '{"port": 7420, "bogus": 1}' >"$T/shim.json"
	out=$(shim run 2>&1); rc=$?
	[ $rc = 1 ] || fail "run with an unknown key exited $rc"
	grep -qF 'shim.json: line 1, column 25: unknown key "bogus"' <<<"$out" || fail "said: $out"
	printf '{\n  "port": "7420"\n}' >"$T/shim.json"
	out=$(shim status 2>&1); rc=$?
	[ $rc = 1 ] || fail "status with a bad type exited $rc"
	grep -qF 'line 2, column 11: "port" must be an integer' <<<"$out" || fail "said: $out"
	printf '{"health_interval_ms": 50}' >"$T/shim.json"
	out=$(shim run 2>&1)
	grep -qF '"health_interval_ms" must be between 100 and 3600000, got 50' <<<"$out" || fail "said: $out"
	printf '{"distro": "x",' >"$T/shim.json"
	out=$(shim run 2>&1)
	grep -qF 'expected a string key' <<<"$out" || fail "said: $out"
	out=$(shim run --frobnicate 2>&1); rc=$?
	[ $rc = 2 ] || fail "an unknown option exited $rc: $out"
	[ -f "$T/argv.log" ] && fail "something ran"
	exit 0
	;;

install)
	# The logon entry: HKCU\...\Run, the GUI twin, exactly one value.
	case_dir install
	key='HKCU\Software\Microsoft\Windows\CurrentVersion\Run'
	out=$(shim install --distro Case-install 2>&1) || fail "install: $out"
	q=$("$SHIM_WINE" reg query "$key" /v "tether-shim Case-install" 2>&1) || fail "reg query: $q"
	grep -qF "tether-shimw.exe run --distro Case-install" <<<"$q" || fail "Run value: $q"
	out=$(shim uninstall --distro Case-install 2>&1) || fail "uninstall: $out"
	"$SHIM_WINE" reg query "$key" /v "tether-shim Case-install" >/dev/null 2>&1 &&
		fail "the Run value is still there"
	out=$(shim uninstall --distro Case-install 2>&1); rc=$?
	[ $rc = 3 ] || fail "a second uninstall exited $rc: $out"
	;;

endpoint)
	case_dir endpoint
	export FAKE_WSL_DISTROS=Case-ep
	export FAKE_WSL_ENDPOINT='{"url":"ws://127.0.0.1:7420/ws","port":7420}'
	config '"distro": "Case-ep"'
	out=$(shim endpoint) || fail "endpoint failed: $out"
	[ "$out" = "$FAKE_WSL_ENDPOINT" ] || fail "endpoint printed: $out"
	[ "$(argv_line 1)" = '["-d","Case-ep","--exec","tether","endpoint","--json"]' ] ||
		fail "argv: $(argv_line 1)"
	out=$(shim endpoint --distro Nope 2>&1); rc=$?
	[ $rc = 1 ] || fail "endpoint of an unknown distro exited $rc"
	grep -qF "wsl.exe failed (exit code -1): There is no distribution with the supplied name." <<<"$out" ||
		fail "said: $out"
	;;

end_to_end)
	# tether-shimw.exe (the GUI twin, as at logon) -> fake wsl.exe (Wine) ->
	# fake_wsl_init -> the anchor -> tetherd: healthy over real TCP; then
	# stopped, and nothing left running.
	case_dir end_to_end
	port=$((20000 + RANDOM % 20000))
	export FAKE_WSL_SCENARIO=exec FAKE_WSL_DISTROS=Case-e2e
	# tetherd's settings, wherever in the distro it is started from.
	export XDG_CONFIG_HOME="$T/xdg" TETHER_RUNTIME_DIR="$T/run"
	mkdir -p "$XDG_CONFIG_HOME/tether"
	printf '{"port": %d, "runtime_dir": "%s"}\n' "$port" "$T/run" >"$XDG_CONFIG_HOME/tether/tetherd.json"
	export FAKE_WSL_TETHER="$TETHER_BIN" XDG_STATE_HOME="$T/xdg-state"   # the real tether anchor
	config "\"distro\": \"Case-e2e\", \"port\": $port, \"health_interval_ms\": 500,
  \"health_timeout_ms\": 400, \"stop_timeout_ms\": 3000"
	start_run "$SHIMW"
	wait_log "daemon healthy on 127.0.0.1:$port (version " 30
	curl -sf "http://127.0.0.1:$port/healthz" | grep -q '"status":"ok"' || fail "curl /healthz"
	out=$(shim status 2>&1) || fail "status: $out"
	grep -qF "daemon: healthy on 127.0.0.1:$port" <<<"$out" || fail "status: $out"
	tetherd_pid=$(cat "$T/state/child.pid")
	kill -0 "$tetherd_pid" || fail "no tetherd"
	stop_run
	in_log "closing the anchor's stdin" || fail "no clean stop"
	in_log "terminating its job" && fail "the anchor had to be killed"
	wait_for 5 bash -c "! kill -0 $tetherd_pid" || fail "tetherd is still running"
	init_pid=$(cat "$T/state/init.pid")
	wait_for 5 bash -c "! kill -0 $init_pid" || fail "fake_wsl_init is still running"
	fake_dead || fail "the fake wsl.exe is still running"
	curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && fail "the port still answers"
	in_log "anchor ended (the anchor exited with code 0" || fail "exit not logged"
	;;

*)
	echo "unknown scenario $scenario" >&2
	exit 2
	;;
esac
echo "ok: $scenario"
