#!/usr/bin/env bash
# make demo: run the gateway on its embedded defaults (SQLite under
# ./.memproxy/, the built-in mock model, memory on) and an edge for project
# "demo", teach the project one fact, then print curl lines that work as
# printed: the mock model echoes what it received, so the answer shows the
# fenced memory the gateway injected.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=.memproxy
HTTP_ADDR=${MEMPROXY_DEMO_HTTP:-127.0.0.1:8764}
GRPC_ADDR=${MEMPROXY_DEMO_GRPC:-127.0.0.1:8765}
# The demo keeps its edge state beside the gateway's, not in your real
# ~/.config/memproxy.
export MEMPROXY_HOME="$PWD/$DATA/edge"
mkdir -p "$DATA" "$MEMPROXY_HOME"

healthy() { curl -fsS "http://$HTTP_ADDR/health" >/dev/null 2>&1; }

if healthy; then
  echo "gateway already running on $HTTP_ADDR"
else
  nohup bin/memgateway serve --data-dir "$DATA" --http "$HTTP_ADDR" --grpc "$GRPC_ADDR" \
    >"$DATA/gateway.log" 2>&1 &
  echo $! >"$DATA/gateway.pid"
  for _ in $(seq 1 100); do healthy && break; sleep 0.1; done
  healthy || { echo "the gateway did not start; see $DATA/gateway.log" >&2; tail -20 "$DATA/gateway.log" >&2; exit 1; }
  echo "gateway started on $HTTP_ADDR (gRPC $GRPC_ADDR), log in $DATA/gateway.log"
fi

USER_ID=demo
bin/memedge login --gateway "$GRPC_ADDR" --key "$(cat "$DATA/master.key")" --user "$USER_ID" >/dev/null
out=$(bin/memedge start --project demo)
url=$(printf '%s\n' "$out" | sed -n 's/^project demo → \(http[^ ]*\)$/\1/p')
[ -n "$url" ] || { echo "$out" >&2; exit 1; }

FACT="The demo database listens on port 6543."
added=$(bin/memedge memory add --project demo "$FACT")
echo "taught project demo one fact: \"$FACT\" ($added)"

cat <<EOT

memproxy demo is running.
  edge for project "demo": $url   (no API key needed)
  gateway:                 http://$HTTP_ADDR   (master key in $DATA/master.key)

Ask about it (memory is on: the answer echoes the fenced memory the gateway
injected, and the x-memproxy-memories header names it):
  curl -si $url/v1/chat/completions -H 'Content-Type: application/json' \\
    -d '{"model":"mock","messages":[{"role":"user","content":"which port does the demo database listen on?"}]}'

Teach it more, and see what it knows:
  MEMPROXY_HOME=$MEMPROXY_HOME bin/memedge memory add --project demo "We deploy on Fridays."
  MEMPROXY_HOME=$MEMPROXY_HOME bin/memedge memory list --project demo

Streamed:
  curl -N $url/v1/chat/completions -H 'Content-Type: application/json' \\
    -d '{"model":"mock","stream":true,"messages":[{"role":"user","content":"hello"}]}'

See the usage log:
  curl -s http://$HTTP_ADDR/v1/usage -H "Authorization: Bearer \$(cat $DATA/master.key)"
  dashboard: http://$HTTP_ADDR/ui#key=\$(cat $DATA/master.key)   (paste the key if your browser drops the fragment)
  memory browser: http://$HTTP_ADDR/ui#key=\$(cat $DATA/master.key)&user=$USER_ID&project=demo   (the Memories panel)

Memory is on because no config file was given; a config file turns it on
with context_retrieval: {enabled: true} (docs/configuration.md). To run
without memory, start the gateway with a config that leaves it out, or send
x-memory-disable: 1 on a request.

Edge commands for this demo need: export MEMPROXY_HOME=$MEMPROXY_HOME
Stop everything: make demo-stop
EOT
