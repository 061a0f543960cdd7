#!/usr/bin/env bash
# Installs exactly what tether's build and tests need on Debian 12, and the
# integration tests' npm packages. Idempotent and non-interactive: it installs
# only what is missing, so a second run does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config git
  libwebsockets-dev libwebsockets-evlib-uv   # libwebsockets + its libuv glue (a plugin)
  libuv1-dev libcjson-dev libsystemd-dev
  systemd                                    # tests: systemd-socket-activate, systemd-analyze verify
  clang libclang-rt-14-dev                   # libFuzzer targets, sanitizers
  curl procps                                # tests read /proc, probe HTTP
  gcc-mingw-w64-x86-64                       # tether-shim.exe (windows-shim/), cross-built
  wine64 wine                                # runs it in the shim's tests (wine: the launcher)
)
# Node.js runs the integration tests' real WebSocket client (ws). A machine
# that already has node and npm (e.g. from NodeSource) keeps them.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The integration tests' client packages, pinned by tests/integration/package-lock.json.
lock=tests/integration/package-lock.json
stamp=tests/integration/node_modules/.tether-lock
if [ ! -f "$stamp" ] || ! cmp -s "$lock" "$stamp"; then
  echo "setup: npm ci in tests/integration"
  (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
  cp "$lock" "$stamp"
fi

# The tokenizer oracles (llama-tokenizer-js, llama3-tokenizer-js, and Hugging Face's
# tokenizers library through @anush008/tokenizers for the pre-tokenizers), pinned by
# tests/tokenizer-oracle/package-lock.json.
lock=tests/tokenizer-oracle/package-lock.json
stamp=tests/tokenizer-oracle/node_modules/.tether-lock
if [ ! -f "$stamp" ] || ! cmp -s "$lock" "$stamp"; then
  echo "setup: npm ci in tests/tokenizer-oracle"
  (cd tests/tokenizer-oracle && npm ci --no-audit --no-fund --loglevel=error)
  cp "$lock" "$stamp"
fi
