#!/bin/sh
# tether doctor on this machine (root "/"): whatever the machine is, the output
# is one JSON object whose exit_code is the process's exit code, with live
# true; and usage errors exit 2. Run by ctest as wsl.doctor_live.
set -eu
bin=$1 out=$2
rc=0
"$bin" doctor --json >"$out" || rc=$?
case $rc in 0|1|3) ;; *) echo "tether doctor exited $rc" >&2; cat "$out" >&2; exit 1 ;; esac
grep -q '^	"live":	true,$' "$out" || { echo "not live" >&2; cat "$out" >&2; exit 1; }
reported=$(sed -n 's/^	"exit_code":	\([0-9]*\),$/\1/p' "$out")
[ "$reported" = "$rc" ] || { echo "exit $rc, reported ${reported:-none}" >&2; exit 1; }
"$bin" doctor >/dev/null 2>&1 || [ $? -ne 2 ] || { echo "text mode: usage error" >&2; exit 1; }
for bad in "--bogus" "--root" "--root /nonexistent-tether-root"; do
	rc=0
	"$bin" doctor $bad >/dev/null 2>&1 || rc=$?
	[ "$rc" = 2 ] || { echo "tether doctor $bad exited $rc, not 2" >&2; exit 1; }
done
echo "ok (exit $rc for the last usage error; doctor exited $reported)"
