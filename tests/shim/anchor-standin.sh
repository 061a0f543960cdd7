#!/bin/sh
# Stands in for `tether anchor` (issue 6) in the shim's end-to-end test until
# it lands: the fake wsl.exe runs this for `wsl.exe -d D --exec tether anchor`
# and it runs the real tetherd in the foreground (its settings, port and
# runtime dir, come from $XDG_CONFIG_HOME/tether/tetherd.json, which the test
# writes), stopping on SIGTERM as the anchor does. To test with the real
# anchor, wine_test.sh's end_to_end sets FAKE_WSL_TETHER to "$TETHER_BIN"
# instead of this file (one line).
if [ "$1" != anchor ]; then
	echo "anchor-standin: expected 'anchor', got '$*'" >&2
	exit 64
fi
exec "$TETHERD_BIN"
