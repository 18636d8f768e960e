#!/usr/bin/env bash
# The README's demo: the example server and client of neutrino-core on loopback, answering
# ten multiply requests. Usage: examples/demo.sh <build-dir>
set -euo pipefail
build=${1:?usage: examples/demo.sh <build-dir>}
bin="$build/examples/core"
port=${NEUTRINO_DEMO_PORT:-22753}

server_pid=
cleanup() { [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null || true; }
trap cleanup EXIT

echo "== neutrino-core demo: server on 127.0.0.1:$port, one client, 10 multiply requests =="
"$bin/neutrino-core-server" --bind "127.0.0.1:$port" --interval 200 --count 10 --duration 20 \
    > >(sed -u 's/^/server | /') 2>&1 &
server_pid=$!
sleep 0.3
status=0
"$bin/neutrino-core-client" --server "127.0.0.1:$port" --count 10 --duration 20 > >(sed -u 's/^/client | /') 2>&1 || status=$?
wait "$server_pid" || status=$?
server_pid=
if [[ $status -eq 0 ]]; then echo "== demo passed =="; else echo "== demo FAILED ($status) =="; fi
exit "$status"
