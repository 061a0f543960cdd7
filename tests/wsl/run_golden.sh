#!/bin/sh
# Runs the real `tether doctor --json` on one fixture tree and compares its
# output with tests/wsl/golden/NAME.json.
#
#   run_golden.sh TETHER_BIN WORK_DIR NAME            compare (a ctest entry per fixture)
#   run_golden.sh TETHER_BIN WORK_DIR NAME --update   rewrite the golden file
#
# To regenerate every golden file after an intended change (then read the diff):
#   for f in tests/wsl/fixtures/*.env; do n=$(basename "$f" .env);
#     tests/wsl/run_golden.sh build/tether /tmp/tether-golden "$n" --update; done
#
# The fixture is copied first: git keeps neither directory modes nor 0600
# files, so the copy's runtime dir and token get the modes tetherd gives them.
# The environment is emptied and set from fixtures/NAME.env (WSL_DISTRO_NAME
# and the like), so the machine running the test does not leak into it. The
# doctor's exit code must match the "exit_code" it reports.
set -eu
bin=$1 work=$2 name=$3 mode=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
golden=$here/golden/$name.json

rm -rf "$work/$name" "$work/$name.out"
mkdir -p "$work"
cp -a "$here/fixtures/$name" "$work/$name"
if [ -d "$work/$name/tether-runtime" ]; then
	chmod 700 "$work/$name/tether-runtime"
	[ ! -f "$work/$name/tether-runtime/token" ] || chmod 600 "$work/$name/tether-runtime/token"
fi

rc=0
(cd "$work" && env -i PATH=/usr/bin:/bin $(cat "$here/fixtures/$name.env") \
	"$bin" doctor --json --root "$name" --runtime-dir "$name/tether-runtime") \
	>"$work/$name.out" || rc=$?

reported=$(sed -n 's/^	"exit_code":	\([0-9]*\),$/\1/p' "$work/$name.out")
if [ "$reported" != "$rc" ]; then
	echo "tether doctor exited $rc but reported exit_code ${reported:-(none)}" >&2
	cat "$work/$name.out" >&2
	exit 1
fi
if [ "$mode" = --update ]; then
	cp "$work/$name.out" "$golden"
	echo "wrote $golden (exit $rc)"
	exit 0
fi
if ! diff -u "$golden" "$work/$name.out"; then
	echo "tether doctor --json on fixture $name differs from $golden (see tests/wsl/run_golden.sh to regenerate)" >&2
	exit 1
fi
