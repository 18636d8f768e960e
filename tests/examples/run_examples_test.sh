#!/usr/bin/env bash
# What a new user meets in the example programs (issue #17), on loopback:
#  1. every example binary's --help lists the same six observation options;
#  2. each pair writes the --pcap, --keylog and --events files it is asked for, and the capture
#     decrypts with the key log;
#  3. a client whose handshake gets no answer says what it tried and the likely causes (a v3
#     client towards a v2-only server; a client towards a port where nothing listens);
#  4. the final lines of a server and its client say what each counted, in words that agree.
# Usage: run_examples_test.sh <build-dir>. Exit 0 when all pass, 1 otherwise.
set -euo pipefail

build=${1:?usage: run_examples_test.sh <build-dir>}
ex="$build/examples"
monitor="$build/monitor/neutrino-monitor"
work=$(mktemp -d "${TMPDIR:-/tmp}/neutrino-examples-test.XXXXXX")
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

failures=0 passes=0
pass() {
    echo "ok   $*"
    passes=$((passes + 1))
}
fail() {
    echo "FAIL $*"
    failures=$((failures + 1))
}

# A free UDP port on 127.0.0.1 from a start value.
free_port() {
    local p=$1
    while ss -Hlun "sport = :$p" 2>/dev/null | grep -q .; do p=$((p + 1)); done
    echo "$p"
}

# --- 1. one set of observation options ------------------------------------------------------
for bin in core/neutrino-core-server core/neutrino-core-client reliable/neutrino-reliable-server \
    reliable/neutrino-reliable-client extended/neutrino-send extended/neutrino-recv; do
    help=$("$ex/$bin" --help)
    missing=()
    for opt in --monitor --monitor-filter --pcap --keylog --events --log-level; do
        grep -q -- "$opt" <<<"$help" || missing+=("$opt")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then pass "$bin --help lists the six observation options"; else fail "$bin --help lacks ${missing[*]}"; fi
done

# --- 2. the files each pair writes -------------------------------------------------------------
run_pair() {  # name server-bin client-bin port server-args client-args
    local name=$1 sbin=$2 cbin=$3 port=$4 sargs=$5 cargs=$6 d="$work/$1"
    mkdir -p "$d"
    # shellcheck disable=SC2086
    timeout 30 "$ex/$sbin" --bind "127.0.0.1:$port" $sargs --pcap "$d/s.pcapng" --keylog "$d/s.keys" \
        --events "$d/s.jsonl" >"$d/server.log" 2>&1 &
    local spid=$!
    pids+=("$spid")
    sleep 0.3
    # shellcheck disable=SC2086
    timeout 30 "$ex/$cbin" --server "127.0.0.1:$port" $cargs --pcap "$d/c.pcapng" --keylog "$d/c.keys" \
        --events "$d/c.jsonl" >"$d/client.log" 2>&1 || true
    wait "$spid" || true
    local f
    for f in s.pcapng s.keys s.jsonl c.pcapng c.keys c.jsonl; do
        [[ -s $d/$f ]] || { fail "$name: $f was not written"; return; }
    done
    grep -q '"ev":"send"' "$d/c.jsonl" && grep -q '"ev":"recv"' "$d/s.jsonl" ||
        { fail "$name: the events logs lack send/recv lines"; return; }
    local out
    out=$("$monitor" decrypt --keylog "$d/s.keys" "$d/s.pcapng" "$d/s-dec.pcapng" 2>&1 || true)
    if grep -q ' 0 without key, 0 failed' <<<"$out"; then
        pass "$name: --pcap, --keylog and --events written on both sides; the capture decrypts"
    else
        fail "$name: decrypt says: $out"
    fi
}
port=$(free_port 24711)
run_pair core core/neutrino-core-server core/neutrino-core-client "$port" \
    "--count 2 --interval 200 --duration 10" "--count 2 --duration 8"
port=$(free_port $((port + 1)))
run_pair reliable reliable/neutrino-reliable-server reliable/neutrino-reliable-client "$port" \
    "--count 2 --interval 200 --duration 10" "--count 2 --duration 8"
port=$(free_port $((port + 1)))
head -c 300000 /dev/urandom >"$work/file.bin"
mkdir -p "$work/inbox"
run_pair extended extended/neutrino-recv extended/neutrino-send "$port" \
    "--once --out $work/inbox --duration 20" "$work/file.bin"

# --- 3. no answer: what was tried, and why it may have failed ------------------------------------
port=$(free_port $((port + 1)))
timeout 20 "$ex/core/neutrino-core-server" --bind "127.0.0.1:$port" --wire v2 --duration 8 \
    >"$work/v2server.log" 2>&1 &
pids+=($!)
sleep 0.3
timeout 20 "$ex/core/neutrino-core-client" --server "127.0.0.1:$port" --wire v3 --duration 5 \
    >"$work/mismatch.log" 2>&1 || true
if grep -q 'no answer from 127.0.0.1:'"$port"' to the wire v3 handshake' "$work/mismatch.log" &&
    grep -q 'try --wire v2' "$work/mismatch.log"; then
    pass "a v3 client towards a v2-only server names the wire versions and suggests --wire v2"
else
    fail "wire mismatch: $(tail -3 "$work/mismatch.log")"
fi
port=$(free_port $((port + 1)))
timeout 20 "$ex/reliable/neutrino-reliable-client" --server "127.0.0.1:$port" --wire v2 --connect-timeout 1.5 --duration 3 \
    >"$work/nothing.log" 2>&1 || true
if grep -q 'nothing is listening at that address and port' "$work/nothing.log" &&
    grep -q 'try --wire v3' "$work/nothing.log"; then
    pass "a client towards a silent port says what it tried and the likely causes"
else
    fail "silent port: $(tail -3 "$work/nothing.log")"
fi
port=$(free_port $((port + 1)))
timeout 20 "$ex/extended/neutrino-send" --server "127.0.0.1:$port" --connect-timeout 2 "$work/file.bin" \
    >"$work/send-nothing.log" 2>&1 || true
if grep -q 'no answer from 127.0.0.1:'"$port"' to the wire v3 handshake within 2.0 s' "$work/send-nothing.log"; then
    pass "neutrino-send towards a silent port says the same"
else
    fail "neutrino-send, silent port: $(tail -3 "$work/send-nothing.log")"
fi

# --- 4. final lines that agree and explain themselves -------------------------------------------
s=$(grep 'done:' "$work/core/server.log" || true)
c=$(grep 'done:' "$work/core/client.log" || true)
if [[ $s =~ sent\ ([0-9]+)\ multiply\ requests\;\ ([0-9]+)\ answers\ arrived\ \(([0-9]+)\ correct ]] &&
    [[ $c =~ done:\ ([0-9]+)\ multiply\ requests\ arrived\ and\ were\ answered ]]; then
    answered=${BASH_REMATCH[1]}
    [[ $s =~ ([0-9]+)\ answers\ arrived ]] && arrived=${BASH_REMATCH[1]}
    if ((arrived <= answered)); then
        pass "core: server '${s#*done: }' / client '${c#*done: }'"
    else
        fail "core: the server counts more answers ($arrived) than the client sent ($answered)"
    fi
else
    fail "core final lines: server '$s' client '$c'"
fi
if grep -q '(answer [0-9]' "$work/core/client.log" || grep -q '([0-9]* of [0-9]* answered)' "$work/core/client.log"; then
    pass "core client: progress reads 'N of M answered' (no bare '(1/0)')"
else
    fail "core client progress: $(grep '×' "$work/core/client.log" | head -1)"
fi
if grep -q '/0)' "$work/core/client.log" "$work/core/server.log" "$work/reliable/client.log" "$work/reliable/server.log"; then
    fail "a bare '(n/0)' counter is still printed"
fi

echo "examples: $passes passed, $failures failed"
exit $((failures == 0 ? 0 : 1))
