#!/usr/bin/env bash
# Runs the example multiply exchange (spec §16.1) between the Python reference's example
# server/client and our example server/client on 127.0.0.1, in all four pairings:
#
#   py-server  <-> py-client    (baseline: proves the reference checkout works here)
#   py-server  <-> cpp-client
#   cpp-server <-> py-client
#   cpp-server <-> cpp-client
#
# --variant basic (default) uses the reference's basic examples (*ExampleNeutrino.py) and our
# neutrino-core examples; --variant reliable uses *ExampleNeutrinoReliable.py and our
# neutrino-reliable examples (spec §12). --through-proxy "<inspector args>" puts
# neutrino-inspector between every client and the server (e.g. "--drop 0.1 --duplicate 0.05").
#
# Prints one PASS/FAIL line per pairing and a final "N passed, M failed" line. Exits 0 when
# every pairing passed, 1 when any failed, 2 on a usage error and 77 (the automake/CTest
# "skipped" code) when the reference checkout or a PyNaCl-capable Python is not available.
#
# The reference is NOT part of this repository. Pass the path of a checkout of
# etkaar/Neutrino (commit 43c12bd, see README.md) as the first argument or in
# NEUTRINO_PYTHON_REFERENCE. The script copies its source/Python tree into a temporary
# directory and applies the scratch edits listed in README.md there; the checkout itself is
# never modified.
#
# Usage:
#   run_reference_interop.sh [--variant basic|reliable] [--through-proxy "<inspector args>"]
#                            [<reference-checkout>] [<build-dir>]
#
# Environment:
#   NEUTRINO_PYTHON_REFERENCE  reference checkout (root, or its source/Python directory)
#   NEUTRINO_BUILD_DIR         build tree holding examples/ and inspector/ (default: <repo>/build/dev)
#   NEUTRINO_PYTHON            Python with PyNaCl (default: first of /usr/bin/python3, python3
#                              that can import nacl.bindings)
#   NEUTRINO_INTEROP_VARIANT   basic or reliable (the --variant option wins)
#   NEUTRINO_INTEROP_PROXY     inspector arguments (the --through-proxy option wins)
#   NEUTRINO_INTEROP_PORT      UDP port (default 22753, the examples' port)
#   NEUTRINO_INTEROP_PROXY_PORT  UDP port the proxy listens on (default: port + 1)
#   NEUTRINO_INTEROP_ANSWERS   multiply answers each pairing must show (default 3)
#   NEUTRINO_INTEROP_SECONDS   reliable: how long each pairing runs (default 10)
#   NEUTRINO_INTEROP_PAIRINGS  space-separated subset of: py-py py-cpp cpp-py cpp-cpp
#   NEUTRINO_INTEROP_KEEP      1 = keep the work directory (logs) even when all passed
#   NEUTRINO_INTEROP_VERBOSE   1 = print the check details under PASS lines too
#   NEUTRINO_INTEROP_CHECK_CLOSE  0 = do not require the reference side to see the peer's
#                              CLIENT_GOOD_BYE / SERVER_SHUTDOWN (default 1: require it; never
#                              required through the proxy, which may drop that datagram)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

skip() { echo "SKIP: $*" >&2; exit 77; }
die() { echo "error: $*" >&2; exit 2; }
usage() { sed -n '/^# Usage:/,/^# Environment:/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

variant=${NEUTRINO_INTEROP_VARIANT:-basic}
proxy_args=${NEUTRINO_INTEROP_PROXY:-}
positional=()
while (($#)); do
    case $1 in
    --variant) (($# >= 2)) || die "--variant needs a value (basic or reliable)"; variant=$2; shift 2 ;;
    --variant=*) variant=${1#*=}; shift ;;
    --through-proxy) (($# >= 2)) || die "--through-proxy needs the inspector's arguments (may be \"\")"; proxy_args=$2; proxy_on=1; shift 2 ;;
    --through-proxy=*) proxy_args=${1#*=}; proxy_on=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; positional+=("$@"); break ;;
    -*) usage >&2; die "unknown option '$1'" ;;
    *) positional+=("$1"); shift ;;
    esac
done
((${#positional[@]} <= 2)) || { usage >&2; die "too many arguments"; }
case $variant in basic | reliable) ;; *) die "--variant must be basic or reliable, not '$variant'" ;; esac
[[ -n ${proxy_on:-} || -n $proxy_args ]] && proxy_on=1 || proxy_on=0

reference=${positional[0]:-${NEUTRINO_PYTHON_REFERENCE:-}}
build_dir=${positional[1]:-${NEUTRINO_BUILD_DIR:-$repo/build/dev}}
port=${NEUTRINO_INTEROP_PORT:-22753}
proxy_port=${NEUTRINO_INTEROP_PROXY_PORT:-$((port + 1))}
seconds=${NEUTRINO_INTEROP_SECONDS:-10}
answers=${NEUTRINO_INTEROP_ANSWERS:-3}
pairings=${NEUTRINO_INTEROP_PAIRINGS:-py-py py-cpp cpp-py cpp-cpp}
keep=${NEUTRINO_INTEROP_KEEP:-0}
check_close=${NEUTRINO_INTEROP_CHECK_CLOSE:-1}
verbose=${NEUTRINO_INTEROP_VERBOSE:-0}

# The example keypair the reference's example scripts use (spec §7.1). Public values,
# published in the spec; only ever used on loopback here.
example_public=a923e0968a713987d76eba139c434ec3d85d7903f7605b02dcbf09996a6b535d
example_secret=59a13dd4ed21a0e87432094c3677ae9e34a0f5c1f19686280b54421b603a2bed

case $port in '' | *[!0-9]*) die "NEUTRINO_INTEROP_PORT must be a number" ;; esac
case $proxy_port in '' | *[!0-9]*) die "NEUTRINO_INTEROP_PROXY_PORT must be a number" ;; esac
case $answers in '' | *[!0-9]*) die "NEUTRINO_INTEROP_ANSWERS must be a number" ;; esac
case $seconds in '' | *[!0-9]*) die "NEUTRINO_INTEROP_SECONDS must be a whole number" ;; esac
[[ $proxy_on == 0 || $proxy_port != "$port" ]] || die "the proxy port must differ from the server port"

# The example programs of each variant (reference in source/Python/examples, ours in the build).
if [[ $variant == reliable ]]; then
    py_server_file=ServerExampleNeutrinoReliable.py
    py_client_file=ClientExampleNeutrinoReliable.py
    py_needed="Monitoring.py NeutrinoReliable.py exceptions/ExceptionsBase.py exceptions/ExceptionsReliable.py"
else
    py_server_file=ServerExampleNeutrino.py
    py_client_file=ClientExampleNeutrino.py
    py_needed="Monitoring.py exceptions/ExceptionsBase.py"
fi

# --- reference checkout --------------------------------------------------------------------
[[ -n $reference ]] || skip "no Python reference given; pass the path of an etkaar/Neutrino checkout (commit 43c12bd) as the first argument or set NEUTRINO_PYTHON_REFERENCE (see tests/interop/README.md)"
if [[ -f $reference/source/Python/Neutrino.py ]]; then
    ref_py=$reference/source/Python
elif [[ -f $reference/Neutrino.py && -d $reference/examples ]]; then
    ref_py=$reference
else
    skip "'$reference' is not an etkaar/Neutrino checkout (no source/Python/Neutrino.py)"
fi
for f in $py_needed examples/$py_server_file examples/$py_client_file; do
    [[ -f $ref_py/$f ]] || skip "reference checkout lacks source/Python/$f (needed by --variant $variant)"
done

# --- Python with PyNaCl ---------------------------------------------------------------------
python=${NEUTRINO_PYTHON:-}
if [[ -z $python ]]; then
    for candidate in /usr/bin/python3 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import nacl.bindings' >/dev/null 2>&1; then
            python=$(command -v "$candidate")
            break
        fi
    done
fi
[[ -n $python ]] || skip "no Python 3 with PyNaCl found (Debian: apt install python3-nacl; or set NEUTRINO_PYTHON)"
"$python" -c 'import nacl.bindings' >/dev/null 2>&1 || skip "$python cannot import nacl (PyNaCl)"

if [[ $variant == reliable ]]; then
    cpp_server=$build_dir/examples/reliable/neutrino-reliable-server
    cpp_client=$build_dir/examples/reliable/neutrino-reliable-client
else
    cpp_server=$build_dir/examples/core/neutrino-core-server
    cpp_client=$build_dir/examples/core/neutrino-core-client
fi
inspector=$build_dir/inspector/neutrino-inspector
# Where the clients send: the server, or the proxy in front of it.
client_port=$port
((proxy_on == 0)) || client_port=$proxy_port

# --- work directory, scratch copy of the reference, cleanup -------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/neutrino-interop.XXXXXX")
pids=()
nap_pid=
failed_any=0

cleanup() {
    local pid
    [[ -z $nap_pid ]] || kill "$nap_pid" 2>/dev/null || true
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ $keep == 1 || $failed_any == 1 ]]; then
        echo "logs kept in $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cp -R "$ref_py" "$work/ref"
find "$work/ref" -name __pycache__ -prune -exec rm -rf {} + 2>/dev/null || true

# Scratch edit 1 (README.md): the example server binds 0.0.0.0; bind loopback only.
# Scratch edit 2 (only if NEUTRINO_INTEROP_PORT is not 22753): move the server's port.
# Scratch edit 3 (only if the client port is not 22753, i.e. through the proxy or with
# NEUTRINO_INTEROP_PORT): move the client's port.
srv_py=$work/ref/examples/$py_server_file
cli_py=$work/ref/examples/$py_client_file
sed -i "s/host='0\.0\.0\.0'/host='127.0.0.1'/" "$srv_py"
[[ $port == 22753 ]] || sed -i "s/port=22753/port=$port/" "$srv_py"
[[ $client_port == 22753 ]] || sed -i "s/port=22753/port=$client_port/" "$cli_py"
grep -q "init(host='127.0.0.1', port=$port, server=True)" "$srv_py" ||
    skip "could not patch the reference server example to 127.0.0.1:$port (unexpected reference version?)"
grep -q "init(host='127.0.0.1', port=$client_port, server=False)" "$cli_py" ||
    skip "reference client example does not dial 127.0.0.1:$client_port (unexpected reference version?)"

# Our own launcher, not reference code: a backgrounded job of a non-interactive shell starts
# with SIGINT ignored, and Python then never raises KeyboardInterrupt, which is how the
# examples are meant to be stopped. Restore the default handler, then run the example.
cat >"$work/launch.py" <<'EOF'
import runpy, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
path = sys.argv[1]
sys.argv = [path]
runpy.run_path(path, run_name='__main__')
EOF

# Our own parsing of the reference's Monitoring lines, shared by both log checkers below.
cat >"$work/ref_log.py" <<'EOF'
import ast, re

# The reference's Monitoring output has had two shapes: `◄ RECV` … `Payload: [b'…', …]` and
# `❓RECV`/`✅RECV` … `Payload (N Words): ['…' (n bytes), …]` (43c12bd); accept both.
RECV_MARKS = ('◄ RECV', '❓RECV', '✅RECV')
def is_recv(line):
    return any(m in line for m in RECV_MARKS)
def has_payload(line):
    return 'Payload: ' in line or re.search(r'Payload \(\d+ Words\): ', line) is not None
def payload(line):
    try:
        if 'Payload: ' in line:
            return [w.decode() for w in ast.literal_eval(line.split('Payload: ', 1)[1].strip())]
        body = re.split(r'Payload \(\d+ Words\): ', line, maxsplit=1)[1]
        items = re.findall(r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*") \(\d+ bytes\)""", body)
        return [ast.literal_eval(w) for w in items]
    except Exception:
        return None
EOF

# Our own log checker, not reference code. Reads the reference Monitoring output
# (ANSI colours stripped) of one Python endpoint and checks the multiply exchange.
cat >"$work/check_py_log.py" <<'EOF'
import ast, re, sys

role, path, need, close = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
text = re.sub(r'\x1b\[[0-9;]*m', '', open(path, encoding='utf-8', errors='replace').read())
lines = text.splitlines()
problems = []

from ref_log import is_recv, has_payload, payload

def data_lines(direction):
    out = []
    for line in lines:
        if (is_recv(line) if direction == 'RECV' else direction in line) and 'PACKET_DATA' in line and has_payload(line):
            words = payload(line)
            if words is not None:
                out.append(words)
    return out

if 'Traceback (most recent call last)' in text:
    problems.append('Python traceback in log')

# The server sends requests and receives answers; the client the other way round.
sent, received = data_lines('► SEND'), data_lines('RECV')
requests = [w for w in (sent if role == 'server' else received) if w and w[0] == '374']
replies = [w for w in (received if role == 'server' else sent) if w and w[0] == '630']

if role == 'server' and 'SESSION ESTABLISHED (3/3)' not in text:
    problems.append('no session established')
if role == 'client' and 'SESSION ESTABLISHING (2/3)' not in text:
    problems.append('no SERVER_HELLO2 accepted')

# How the session must have ended (spec §11.2, §11.3), when the peer ended it first.
if close == 'goodbye' and 'Client unregistered. – Reason: CLIENT_GOOD_BYE' not in text:
    problems.append('the peer ended the session, but no CLIENT_GOOD_BYE arrived (spec §11.2); '
                    'unregistered: %s' % ([l.split('Reason: ', 1)[1].split()[0]
                                           for l in lines if 'Client unregistered.' in l] or 'never'))
if close == 'shutdown' and 'Server announced shutdown.' not in text:
    problems.append('the peer shut down, but no SERVER_SHUTDOWN arrived (spec §11.3); session ends: %s'
                    % ([l.split('Reason: ', 1)[1].strip() for l in lines if 'Session destroyed.' in l]
                       or 'none'))

good = 0
for i, reply in enumerate(replies):
    if i >= len(requests):
        problems.append('answer %d without a request' % (i + 1))
        break
    req = requests[i]
    try:
        expected = int(req[1]) * float(req[2])
        got = float(reply[1])
    except (IndexError, ValueError) as e:
        problems.append('malformed words %r / %r (%s)' % (req, reply, e))
        continue
    if len(req) != 3 or len(reply) != 2:
        problems.append('unexpected word count %r / %r' % (req, reply))
    elif abs(got - expected) > 1e-9 * max(1.0, abs(expected)):
        problems.append('wrong product: %s * %s = %r, answer %r' % (req[1], req[2], expected, got))
    else:
        good += 1
if good < need:
    problems.append('only %d correct answers (need %d; %d requests, %d answers seen)'
                    % (good, need, len(requests), len(replies)))

drops = [l.strip() for l in lines if '❌DROP' in l]
print('%s: %d requests, %d answers, %d correct, %d dropped datagrams'
      % (role, len(requests), len(replies), good, len(drops)))
for d in drops[:5]:
    print('  drop: ' + d)
for p in problems:
    print('  problem: ' + p)
sys.exit(1 if problems else 0)
EOF

# Our own log checker for the Reliable examples, not reference code. Reliable delivers in
# order through reliable_event_on_packet_received, which is where the examples log their APP
# lines; so answers are read from those, requests from the server's SEND lines.
cat >"$work/check_py_reliable_log.py" <<'EOF'
import ast, re, sys

role, path, need, close = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
text = re.sub(r'\x1b\[[0-9;]*m', '', open(path, encoding='utf-8', errors='replace').read())
lines = text.splitlines()
problems, notes = [], []

from ref_log import is_recv, has_payload, payload


def close_enough(got, expected):
    return abs(got - expected) <= 1e-9 * max(1.0, abs(expected))

if 'Traceback (most recent call last)' in text:
    tail = text[text.index('Traceback (most recent call last)'):].strip().splitlines()
    last = tail[-1] if tail else ''
    problems.append('Python traceback in log: ' + last)
    m = re.search(r'Cannot fulfill opposite endpoints retransmission request for packet number <(\d+)>', text)
    if m:
        notes.append('reference weakness: it was asked for packet %s, which is not in its outgoing buffer, '
                     'and the exception escaped its event loop (spec §12.5, §18.2 item 11). OUR bug if we '
                     'asked for a number <= the acknowledgement we had sent (spec §17 item 8)' % m.group(1))

drops = [l.strip() for l in lines if '❌DROP' in l]
give_up = [d for d in drops if 'Giving up on packet number' in d]
if give_up:
    problems.append('the reference gave up on a packet after 8 requests; its session stalls from there '
                    '(reference weakness, spec §12.2, §18.3 item 17): ' + give_up[0])

count = lambda needle: sum(1 for l in lines if needle in l)
stats = ('%d requests for retransmission sent, %d received, %d retransmitted, %d duplicates, '
         '%d KEEP_ALIVE received, %d dropped datagrams'
         % (count('Retransmission of '), sum(1 for l in lines if is_recv(l) and 'REQUEST_RETRANSMISSION' in l),
            count('Packet retransmitted due to'), count('Duplicate packet detected'),
            sum(1 for l in lines if is_recv(l) and 'PACKET_KEEP_ALIVE' in l), len(drops)))

good = 0
if role == 'server':
    if 'SESSION ESTABLISHED (3/3)' not in text:
        problems.append('no session established')
    requests, answers = {}, {}
    for l in lines:
        if '► SEND' in l and 'PACKET_DATA' in l and has_payload(l):
            cid = re.search(r'(?:CID|Client ID): (\S+)', l)
            words = payload(l)
            if words is None:
                continue
            if cid and words and words[0] == '374':
                requests.setdefault(cid.group(1), []).append(words)
        m = re.search(r'Client <(\S+)> responded with a result\. – Result: (\S+)', l)
        if m:
            answers.setdefault(m.group(1), []).append(m.group(2))
    # In order and exactly once, per client: answer k belongs to request k.
    for cid, got in answers.items():
        sent = requests.get(cid, [])
        for k, a in enumerate(got):
            if k >= len(sent):
                problems.append('client %s: answer %d without a request' % (cid, k + 1))
                break
            req = sent[k]
            expected = int(req[1]) * float(req[2])
            if not close_enough(float(a), expected):
                problems.append('client %s: answer %d is %s, but request %d was %s * %s = %r (out of order, '
                                'lost or duplicated?)' % (cid, k + 1, a, k + 1, req[1], req[2], expected))
            else:
                good += 1
    summary = 'server: %d requests sent, %d answers, %d correct in order' % (
        sum(map(len, requests.values())), sum(map(len, answers.values())), good)
else:
    if 'SESSION ESTABLISHING (2/3)' not in text:
        problems.append('no SERVER_HELLO2 accepted')
    for l in lines:
        m = re.search(r'multiply two numbers\. – First Number: (\S+)\s+Second Number: (\S+)\s+Result: (\S+)', l)
        if m:
            if close_enough(float(m.group(3)), int(m.group(1)) * float(m.group(2))):
                good += 1
            else:
                problems.append('wrong product in ' + l.strip())
    summary = 'client: %d requests answered' % good
if good < need:
    problems.append('only %d correct answers (need %d)' % (good, need))

if close == 'goodbye' and 'Client unregistered. – Reason: CLIENT_GOOD_BYE' not in text:
    problems.append('the peer ended the session, but no CLIENT_GOOD_BYE arrived (spec §11.2); '
                    'unregistered: %s' % ([l.split('Reason: ', 1)[1].split()[0]
                                           for l in lines if 'Client unregistered.' in l] or 'never'))
if close == 'shutdown' and 'Server announced shutdown.' not in text:
    problems.append('the peer shut down, but no SERVER_SHUTDOWN arrived (spec §11.3); session ends: %s'
                    % ([l.split('Reason: ', 1)[1].strip() for l in lines if 'Session destroyed.' in l]
                       or 'none'))

print(summary + '; ' + stats)
for d in [d for d in drops if d not in give_up][:5]:
    print('  drop: ' + d)
for n in notes:
    print('  note: ' + n)
for p in problems:
    print('  problem: ' + p)
sys.exit(1 if problems else 0)
EOF

# --- process helpers ------------------------------------------------------------------------
# nap <seconds>: a sleep that a SIGINT/SIGTERM to this script interrupts at once (bash runs
# traps only after a foreground command ends, but interrupts the `wait` builtin).
nap() {
    sleep "$1" &
    nap_pid=$!
    wait "$nap_pid" || true
    nap_pid=
}

port_busy() { # port_busy [<port>]: default the server port
    if command -v ss >/dev/null 2>&1; then
        [[ -n $(ss -Hlun "sport = :${1:-$port}" 2>/dev/null) ]]
    else
        return 1
    fi
}

# wait_port_free <seconds> [<port>]
wait_port_free() {
    local deadline=$((SECONDS + $1))
    while port_busy "${2:-$port}"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# wait_port_bound <pid> <seconds> [<port>]: until the process listens (or dies, or time runs out)
wait_port_bound() {
    local deadline=$((SECONDS + $2))
    if ! command -v ss >/dev/null 2>&1; then
        sleep 1
        return 0
    fi
    until port_busy "${3:-$port}"; do
        kill -0 "$1" 2>/dev/null || return 1
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# start <log> <cmd...>: runs cmd in the background, sets $started to its pid
start() {
    local log=$1
    shift
    "$@" >"$log" 2>&1 &
    started=$!
    pids+=("$started")
}

# finish <pid> <seconds>: waits up to <seconds> for pid; sets $status (124 = had to be killed)
finish() {
    local pid=$1 deadline=$((SECONDS + $2))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        nap 1
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        status=124
    else
        status=0
        wait "$pid" || status=$?
    fi
    local p kept=()
    for p in "${pids[@]}"; do [[ $p == "$pid" ]] || kept+=("$p"); done
    pids=("${kept[@]+"${kept[@]}"}")
}

# stop_py <pid>: SIGINT (the examples' documented way to stop), then finish within 5 s
stop_py() {
    kill -INT "$1" 2>/dev/null || true
    finish "$1" 5
}

py_server() { start "$1" env PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 "$python" "$work/launch.py" "$srv_py"; }
py_client() { start "$1" env PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 "$python" "$work/launch.py" "$cli_py"; }

# basic: the C++ examples stop by themselves after --count answers (or --duration seconds,
# then with a non-zero exit status if the count was not reached).
# reliable: every program runs for NEUTRINO_INTEROP_SECONDS (the C++ ones with --count 0, so
# they exit 0 at the end unless an answer was wrong); the answers are counted in the logs.
if [[ $variant == reliable ]]; then
    cpp_duration=$seconds
    cpp_count=0
else
    cpp_duration=$((2 * answers + 6))
    cpp_count=$answers
fi
# The reference speaks only wire v2; our clients default to v3 and our servers to both, so every
# pairing here, cpp-cpp included, asks for v2 explicitly.
cpp_server_run() {
    start "$1" "$cpp_server" --wire v2 --bind "127.0.0.1:$port" --key "$example_secret" \
        --count "$cpp_count" --duration "$cpp_duration"
}
cpp_client_run() {
    start "$1" "$cpp_client" --wire v2 --server "127.0.0.1:$client_port" --key "$example_public" \
        --count "$cpp_count" --duration "$cpp_duration"
}

# The proxy (only with --through-proxy): neutrino-inspector on client_port -> port. It stops
# on SIGINT and prints its per-direction summary.
proxy_pid=
proxy_start() { # proxy_start <log>
    proxy_pid=
    ((proxy_on == 1)) || return 0
    # shellcheck disable=SC2086 # the inspector arguments are split on purpose
    start "$1" "$inspector" --listen "127.0.0.1:$proxy_port" --target "127.0.0.1:$port" $proxy_args
    proxy_pid=$started
    wait_port_bound "$proxy_pid" 5 "$proxy_port" || true
}
proxy_stop() { # proxy_stop <log> >> details: 0 if the proxy ran and exited 0
    ((proxy_on == 1)) || return 0
    kill -INT "$proxy_pid" 2>/dev/null || true
    finish "$proxy_pid" 5
    grep -E '^(c2s|s2c): |impairments' "$1" | sed 's/^/proxy: /'
    if [[ $status != 0 ]]; then
        echo "  problem: neutrino-inspector exit status $status; last lines:"
        tail -n 5 "$1" | sed 's/^/  | /'
        return 1
    fi
}

passed=0
failed=0
report() { # report <name> <ok 0|1> <details-file>
    if [[ $2 == 0 ]]; then
        echo "PASS $1"
        passed=$((passed + 1))
        [[ $verbose != 1 ]] || sed 's/^/    /' "$3"
    else
        echo "FAIL $1"
        failed=$((failed + 1))
        failed_any=1
        sed 's/^/    /' "$3"
    fi
}

check_py() { # check_py <role> <log> <exit-status> <close: goodbye|shutdown|none> >> details
    local ok=0 close=$4 checker=check_py_log.py
    [[ $check_close == 1 && $proxy_on == 0 ]] || close=none
    [[ $variant != reliable ]] || checker=check_py_reliable_log.py
    "$python" "$work/$checker" "$1" "$2" "$answers" "$close" || ok=1
    if [[ $3 != 0 ]]; then
        echo "  problem: python $1 exit status $3 (expected 0 after SIGINT)"
        ok=1
    fi
    return $ok
}

check_cpp() { # check_cpp <role> <log> <exit-status> >> details
    if [[ $3 == 0 && $variant == reliable ]]; then
        # --count 0: exit 0 says no answer was wrong; the answers must be there too
        local got
        got=$(sed -nE 's/.*done: ([0-9]+) (correct|requests answered|multiply requests arrived and were answered).*/\1/p' "$2" | tail -n 1)
        echo "cpp $1: exit 0, ${got:-no} correct answers"
        grep -E 'established|closed|shut|done:|warn|error' "$2" | sed 's/^/  | /'
        if ((${got:-0} < answers)); then
            echo "  problem: only ${got:-0} correct answers (need $answers)"
            return 1
        fi
        return 0
    fi
    if [[ $3 == 0 ]]; then
        echo "cpp $1: exit 0"
        grep -E 'established|correct|×|closed|done:|warn|error' "$2" | sed 's/^/  | /'
        return 0
    fi
    echo "cpp $1: exit status $3 (124 = still running at the deadline); last lines:"
    tail -n 15 "$2" | sed 's/^/  | /'
    return 1
}

precheck() { # precheck <name> <needs-cpp 0|1> <details>: 0 if the pairing can run
    if [[ $2 == 1 && (! -x $cpp_server || ! -x $cpp_client) ]]; then
        echo "  problem: C++ examples not built: $cpp_server, $cpp_client" >"$3"
        return 1
    fi
    if ((proxy_on == 1)) && [[ ! -x $inspector ]]; then
        echo "  problem: neutrino-inspector not built: $inspector" >"$3"
        return 1
    fi
    if ! wait_port_free 5; then
        echo "  problem: UDP port $port on this host is in use by another process" >"$3"
        return 1
    fi
    if ((proxy_on == 1)) && ! wait_port_free 5 "$proxy_port"; then
        echo "  problem: UDP port $proxy_port (proxy) on this host is in use by another process" >"$3"
        return 1
    fi
}

# --- the four pairings ----------------------------------------------------------------------
# How long a Python client runs against a Python server before its SIGINT.
if [[ $variant == reliable ]]; then py_run=$seconds; else py_run=$((2 * answers + 1)).5; fi

run_py_py() {
    local d=$work/py-py s c ss cs ok=0
    mkdir -p "$d"
    precheck "py-py" 0 "$d/details" || { report "py-server <-> py-client" 1 "$d/details"; return; }
    py_server "$d/server.log"; s=$started
    wait_port_bound "$s" 5 || true
    proxy_start "$d/proxy.log"
    py_client "$d/client.log"; c=$started
    nap "$py_run"
    stop_py "$c"; cs=$status
    sleep 0.3
    stop_py "$s"; ss=$status
    {
        check_py server "$d/server.log" "$ss" goodbye || ok=1
        check_py client "$d/client.log" "$cs" none || ok=1
        proxy_stop "$d/proxy.log" || ok=1
    } >"$d/details" 2>&1
    report "py-server <-> py-client" "$ok" "$d/details"
}

run_py_cpp() {
    local d=$work/py-cpp s c ss cs ok=0
    mkdir -p "$d"
    precheck "py-cpp" 1 "$d/details" || { report "py-server <-> cpp-client" 1 "$d/details"; return; }
    py_server "$d/server.log"; s=$started
    wait_port_bound "$s" 5 || true
    proxy_start "$d/proxy.log"
    cpp_client_run "$d/client.log"; c=$started
    finish "$c" $((cpp_duration + 3)); cs=$status
    sleep 0.3
    stop_py "$s"; ss=$status
    {
        check_py server "$d/server.log" "$ss" goodbye || ok=1
        check_cpp client "$d/client.log" "$cs" || ok=1
        proxy_stop "$d/proxy.log" || ok=1
    } >"$d/details" 2>&1
    report "py-server <-> cpp-client" "$ok" "$d/details"
}

run_cpp_py() {
    local d=$work/cpp-py s c ss cs ok=0
    mkdir -p "$d"
    precheck "cpp-py" 1 "$d/details" || { report "cpp-server <-> py-client" 1 "$d/details"; return; }
    cpp_server_run "$d/server.log"; s=$started
    wait_port_bound "$s" 5 || true
    proxy_start "$d/proxy.log"
    py_client "$d/client.log"; c=$started
    finish "$s" $((cpp_duration + 3)); ss=$status
    nap 0.5 # let the client read the SERVER_SHUTDOWN
    stop_py "$c"; cs=$status
    {
        check_cpp server "$d/server.log" "$ss" || ok=1
        check_py client "$d/client.log" "$cs" shutdown || ok=1
        proxy_stop "$d/proxy.log" || ok=1
    } >"$d/details" 2>&1
    report "cpp-server <-> py-client" "$ok" "$d/details"
}

run_cpp_cpp() {
    local d=$work/cpp-cpp s c ss cs ok=0
    mkdir -p "$d"
    precheck "cpp-cpp" 1 "$d/details" || { report "cpp-server <-> cpp-client" 1 "$d/details"; return; }
    cpp_server_run "$d/server.log"; s=$started
    wait_port_bound "$s" 5 || true
    proxy_start "$d/proxy.log"
    cpp_client_run "$d/client.log"; c=$started
    finish "$c" $((cpp_duration + 3)); cs=$status
    finish "$s" 5; ss=$status
    {
        check_cpp server "$d/server.log" "$ss" || ok=1
        check_cpp client "$d/client.log" "$cs" || ok=1
        proxy_stop "$d/proxy.log" || ok=1
    } >"$d/details" 2>&1
    report "cpp-server <-> cpp-client" "$ok" "$d/details"
}

echo "reference: $ref_py"
echo "python:    $python"
echo "build dir: $build_dir"
echo "variant:   $variant ($py_server_file, $py_client_file; $(basename "$cpp_server"), $(basename "$cpp_client"))"
echo "port:      127.0.0.1:$port, $answers answers per pairing"
if ((proxy_on == 1)); then
    echo "proxy:     neutrino-inspector 127.0.0.1:$proxy_port -> 127.0.0.1:$port, args: ${proxy_args:-(none)}"
fi
for p in $pairings; do
    case $p in
    py-py) run_py_py ;;
    py-cpp) run_py_cpp ;;
    cpp-py) run_cpp_py ;;
    cpp-cpp) run_cpp_cpp ;;
    *) die "unknown pairing '$p' (use py-py py-cpp cpp-py cpp-cpp)" ;;
    esac
done
echo "$passed passed, $failed failed"
((failed == 0))
