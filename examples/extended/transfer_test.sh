#!/usr/bin/env bash
# Integration test of the neutrino-extended file transfer pair on loopback (builds nothing):
#  1. neutrino-recv --once and neutrino-send on wire v3, directly;
#  2. the same through neutrino-inspector with 2% loss each way (skipped with --no-proxy, or
#     when the inspector was not built);
#  3. wire v2, directly.
# Each run sends a fresh random 20 MB file; it passes when both programs exit 0, the received
# file is byte for byte the source (cmp) and no .part file is left. Ports are free ones picked
# at random; every program is bounded by --duration; the temporary directory and any process
# still running are removed on exit.
# Usage: examples/extended/transfer_test.sh <build-dir> [--no-proxy]
# Environment: NEUTRINO_TRANSFER_SIZE (bytes, default 20000000), NEUTRINO_TRANSFER_SEED (the
# inspector's seed, default random; printed).
set -euo pipefail
build=${1:?usage: examples/extended/transfer_test.sh <build-dir> [--no-proxy]}
proxy=yes
[[ ${2:-} == --no-proxy ]] && proxy=no
bin="$build/examples/extended"
inspector="$build/inspector/neutrino-inspector"
size=${NEUTRINO_TRANSFER_SIZE:-20000000}
seed=${NEUTRINO_TRANSFER_SEED:-$((RANDOM * 32768 + RANDOM))}

for b in "$bin/neutrino-send" "$bin/neutrino-recv"; do
    [[ -x $b ]] || { echo "missing $b (build the neutrino-send and neutrino-recv targets)"; exit 1; }
done
if [[ $proxy == yes && ! -x $inspector ]]; then
    echo "note: $inspector not built: the run through the proxy is skipped"
    proxy=no
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/neutrino-transfer.XXXXXX")
recv_pid='' proxy_pid='' send_pid=''
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    local pid
    for pid in $send_pid $proxy_pid $recv_pid; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# A UDP port nothing is bound to on 127.0.0.1 (best effort: it could be taken before use).
free_port() {
    if command -v python3 >/dev/null; then
        python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
        return
    fi
    local p
    while :; do
        p=$(shuf -i 20000-60999 -n 1)
        ss -Hlun "sport = :$p" | grep -q . || { echo "$p"; return; }
    done
}

# run <name> <wire> <extra inspector options or empty>: one transfer; returns non-zero on
# failure.
run() {
    local name=$1 wire=$2 impair=$3 status=0
    local out="$tmp/out-$name" src="$tmp/src-$name/data-$name.bin"
    mkdir -p "$out" "$(dirname "$src")"
    head -c "$size" /dev/urandom > "$src"
    local port target
    port=$(free_port)
    target=$port
    echo "== $name: $size random bytes, wire $wire, neutrino-recv on 127.0.0.1:$port${impair:+, neutrino-inspector ($impair, seed $seed)} =="
    "$bin/neutrino-recv" --wire "$wire" --port "$port" --out "$out" --once --duration 90 \
        > >(sed -u "s/^/recv   | /") 2>&1 &
    recv_pid=$!
    if [[ -n $impair ]]; then
        target=$(free_port)
        # shellcheck disable=SC2086  # $impair holds several options
        "$inspector" --listen "127.0.0.1:$target" --target "127.0.0.1:$port" --seed "$seed" $impair \
            --duration 100 > >(sed -u "s/^/proxy  | /") 2>&1 &
        proxy_pid=$!
    fi
    sleep 0.3
    "$bin/neutrino-send" --wire "$wire" --server "127.0.0.1:$target" --duration 80 "$src" \
        > >(sed -u "s/^/send   | /") 2>&1 &
    send_pid=$!
    wait "$send_pid" || { status=$?; echo "neutrino-send exited $status"; }
    send_pid=
    wait "$recv_pid" || { status=$?; echo "neutrino-recv exited $status"; }
    recv_pid=
    if [[ -n $proxy_pid ]]; then
        kill -INT "$proxy_pid" 2>/dev/null || true  # prints its summary, one line per direction
        wait "$proxy_pid" || { status=$?; echo "neutrino-inspector exited $status"; }
        proxy_pid=
    fi
    sleep 0.1  # let the sed prefixes flush
    if ! cmp "$src" "$out/$(basename "$src")"; then
        echo "the received file differs from the source"
        status=1
    fi
    if compgen -G "$out/*.part" >/dev/null; then
        echo "a .part file was left behind"
        status=1
    fi
    rm -f "$src" "$out/$(basename "$src")"
    if [[ $status -eq 0 ]]; then echo "== $name: passed =="; else echo "== $name: FAILED =="; fi
    return "$status"
}

status=0
run v3-direct v3 "" || status=1
if [[ $proxy == yes ]]; then
    run v3-lossy v3 "--drop 0.02" || status=1
fi
run v2-direct v2 "" || status=1
if [[ $status -eq 0 ]]; then echo "== transfer test passed =="; else echo "== transfer test FAILED =="; fi
exit "$status"
