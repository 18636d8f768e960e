#!/usr/bin/env bash
# Smoke test of the qotp example pair (issue #14) on loopback:
#  1. qotp_server and qotp_client answer --help with their options;
#  2. a server on a free port (--listen 127.0.0.1:0, the port read from its first line) echoes a
#     1-RTT client's and a 0-RTT client's bytes (the clients check them byte for byte);
#  3. --keylog: both sides write the same §19 lines; the 0-RTT connection has its
#     QOTP_SHARED_SECRET_ID line, the 1-RTT one has none;
#  4. a client towards a port where nothing listens fails (exit 1) within its --timeout.
# Usage: run_qotp_examples_test.sh <build-dir>. Exit 0 when all pass, 1 otherwise.
set -euo pipefail

build=${1:?usage: run_qotp_examples_test.sh <build-dir>}
bin="$build/examples/qotp"
work=$(mktemp -d "${TMPDIR:-/tmp}/neutrino-qotp-examples.XXXXXX")
server_pid=
cleanup() {
    if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; fi
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

failures=0
pass() { echo "ok   $*"; }
fail() {
    echo "FAIL $*"
    failures=$((failures + 1))
}

for b in qotp_server qotp_client; do
    help=$("$bin/$b" --help)
    for opt in --key --keylog --log-level; do
        grep -q -- "$opt" <<<"$help" || fail "$b --help lacks $opt"
    done
done
grep -q -- --listen <<<"$("$bin/qotp_server" --help)" || fail "qotp_server --help lacks --listen"
grep -q -- --connect <<<"$("$bin/qotp_client" --help)" || fail "qotp_client --help lacks --connect"
pass "--help"

"$bin/qotp_server" --listen 127.0.0.1:0 --keylog "$work/s.keys" --duration 30 \
    >"$work/server.log" 2>&1 &
server_pid=$!
port= key=
for _ in $(seq 100); do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/server.log")
    key=$(sed -n 's/^public key: \([0-9a-f]*\)$/\1/p' "$work/server.log")
    [[ -n $port && -n $key ]] && break
    sleep 0.1
done
if [[ -z $port || -z $key ]]; then
    fail "the server did not print its port and key"
    cat "$work/server.log"
    exit 1
fi

if "$bin/qotp_client" --connect "127.0.0.1:$port" --bytes 300000 --keylog "$work/c.keys" \
    --timeout 10 >"$work/one.log" 2>&1; then
    pass "1-RTT echo of 300000 bytes"
else
    fail "1-RTT echo"
    cat "$work/one.log"
fi
if "$bin/qotp_client" --connect "127.0.0.1:$port" --key "$key" --bytes 100000 \
    --keylog "$work/c.keys" --timeout 10 >"$work/zero.log" 2>&1; then
    pass "0-RTT echo of 100000 bytes"
else
    fail "0-RTT echo"
    cat "$work/zero.log"
fi

one_id=$(sed -n 's/.*(1-RTT), connection \([0-9a-f]*\)$/\1/p' "$work/one.log")
zero_id=$(sed -n 's/.*(0-RTT), connection \([0-9a-f]*\)$/\1/p' "$work/zero.log")
if [[ -n $one_id && -n $zero_id ]] && cmp -s "$work/s.keys" "$work/c.keys" &&
    grep -q "^QOTP_SHARED_SECRET $one_id [0-9a-f]\{64\}$" "$work/c.keys" &&
    ! grep -q "^QOTP_SHARED_SECRET_ID $one_id " "$work/c.keys" &&
    grep -q "^QOTP_SHARED_SECRET $zero_id [0-9a-f]\{64\}$" "$work/c.keys" &&
    grep -q "^QOTP_SHARED_SECRET_ID $zero_id [0-9a-f]\{64\}$" "$work/c.keys" &&
    [[ $(wc -l <"$work/c.keys") -eq 3 ]]; then
    pass "--keylog: the same three §19 lines on both sides"
else
    fail "--keylog lines (ids '$one_id' '$zero_id')"
    cat "$work/s.keys" "$work/c.keys" 2>/dev/null || true
fi

kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
server_pid=
grep -q "accepted 2 connections, echoed 400000 bytes" "$work/server.log" &&
    pass "server's final line" || fail "server's final line: $(tail -1 "$work/server.log")"

# Nothing listens on the server's old port any more.
start=$(date +%s)
if "$bin/qotp_client" --connect "127.0.0.1:$port" --timeout 1 >"$work/none.log" 2>&1; then
    fail "a client without a server succeeded"
elif (($(date +%s) - start > 5)); then
    fail "a client without a server took more than 5 s"
else
    pass "a client without a server fails within its --timeout"
fi

((failures == 0)) || exit 1
