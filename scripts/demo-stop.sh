#!/usr/bin/env bash
# make demo-stop: stop the demo's edge daemon and gateway.
set -uo pipefail
cd "$(dirname "$0")/.."
export MEMPROXY_HOME="$PWD/.memproxy/edge"
bin/memedge shutdown 2>/dev/null || true
if [ -f .memproxy/gateway.pid ]; then
  kill "$(cat .memproxy/gateway.pid)" 2>/dev/null && echo "gateway stopped"
  rm -f .memproxy/gateway.pid
fi
