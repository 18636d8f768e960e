#!/usr/bin/env bash
# The README's demo, in two parts, each through the neutrino-inspector proxy on loopback:
#  1. neutrino-core: the example server and client (the client with --monitor: one line per
#     datagram it sends, receives or drops) until the server has ten correct multiply answers;
#  2. neutrino-reliable: a checked 20 MB bulk transfer at 5% loss and 5% duplication each way,
#     delivered exactly once and in order (the server verifies every byte).
# Usage: examples/demo.sh <build-dir>
#
# Basic has no retransmission: a lost request or answer only costs one --interval (the server
# sends a new request every 200 ms and checks the answer to its latest). The server therefore
# decides success (--count 10); the client runs with --count 0 (it cannot know which of its
# answers arrived) and is stopped with SIGINT once the server is done, which makes it say
# CLIENT_GOOD_BYE and exit 0. Exit status: non-zero when the server, the client or the proxy
# failed.
set -euo pipefail
build=${1:?usage: examples/demo.sh <build-dir>}
bin="$build/examples/core"
reliable="$build/examples/reliable"
inspector="$build/inspector/neutrino-inspector"
port=${NEUTRINO_DEMO_PORT:-22753}
proxy_port=${NEUTRINO_DEMO_PROXY_PORT:-22754}

server_pid= proxy_pid= client_pid=
cleanup() {
    local pid
    for pid in $client_pid $proxy_pid $server_pid; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

echo "== neutrino-core demo: server on 127.0.0.1:$port, neutrino-inspector on 127.0.0.1:$proxy_port" \
     "(10% loss, 5% duplicates each way), one client, 10 multiply answers =="
"$bin/neutrino-core-server" --bind "127.0.0.1:$port" --interval 200 --count 10 --duration 20 \
    > >(sed -u 's/^/server | /') 2>&1 &
server_pid=$!
"$inspector" --listen "127.0.0.1:$proxy_port" --target "127.0.0.1:$port" --seed 7 \
    --drop 0.1 --duplicate 0.05 --duration 25 > >(sed -u 's/^/proxy  | /') 2>&1 &
proxy_pid=$!
sleep 0.3
"$bin/neutrino-core-client" --server "127.0.0.1:$proxy_port" --count 0 --duration 22 --monitor \
    > >(sed -u 's/^/client | /') 2>&1 &
client_pid=$!

status=0
wait "$server_pid" || status=$?
server_pid=
kill -INT "$client_pid" 2>/dev/null || true
wait "$client_pid" || status=$?
client_pid=
kill -INT "$proxy_pid" 2>/dev/null || true  # prints its summary, one line per direction
wait "$proxy_pid" || status=$?
proxy_pid=
sleep 0.1  # let the sed prefixes flush
[[ $status -eq 0 ]] || { echo "== demo FAILED ($status) =="; exit "$status"; }

echo "== neutrino-reliable demo: 20 MB bulk through neutrino-inspector (5% loss, 5% duplicates each way) =="
"$reliable/neutrino-reliable-server" --bind "127.0.0.1:$port" --count 1 --duration 30 \
    > >(sed -u 's/^/server | /') 2>&1 &
server_pid=$!
"$inspector" --listen "127.0.0.1:$proxy_port" --target "127.0.0.1:$port" --seed 11 \
    --drop 0.05 --duplicate 0.05 --duration 35 > >(sed -u 's/^/proxy  | /') 2>&1 &
proxy_pid=$!
sleep 0.3
"$reliable/neutrino-reliable-client" --server "127.0.0.1:$proxy_port" --bulk 20000000 --duration 30 \
    > >(sed -u 's/^/client | /') 2>&1 || status=$?
wait "$server_pid" || status=$?
server_pid=
kill -INT "$proxy_pid" 2>/dev/null || true
wait "$proxy_pid" || status=$?
proxy_pid=
sleep 0.1
if [[ $status -eq 0 ]]; then echo "== demo passed =="; else echo "== demo FAILED ($status) =="; fi
exit "$status"
