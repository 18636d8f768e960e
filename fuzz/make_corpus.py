#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/ (deterministic).

Run with Debian's python3 (it has PyNaCl: python3-nacl):  /usr/bin/python3 fuzz/make_corpus.py
Reads the reference vectors from tests/vectors/neutrino-python.json when that exists, else from
../shared/vectors/ beside the repository; the generated files are committed, so nothing outside
the repository is needed to fuzz. The input formats are described in each fuzz_*.cpp.
"""
import hashlib
import json
import pathlib
import struct

import nacl.bindings as sodium

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
VECTOR_PATHS = [ROOT / "tests/vectors/neutrino-python.json",
                ROOT.parent / "shared/vectors/neutrino-python.json"]

PROTOCOL_ID = 0x5BAA260C
# Key of the pre-seal hook in fuzz_datagram.cpp
HOOK_KEY = bytes(range(32))


def u16(v): return struct.pack("<H", v)
def u32(v): return struct.pack("<I", v)
def u64(v): return struct.pack("<Q", v)


def encode_words(words, count_fmt="<B", size_fmt="<H"):
    out = struct.pack(count_fmt, len(words))
    for w in words:
        out += struct.pack(size_fmt, len(w)) + w
    return out


def seal(key, type_, sid, pn, keyword, payload, nonce, pad_to=0):
    header = u32(PROTOCOL_ID) + bytes([2, type_]) + u64(sid)
    plain = u64(pn) + u32(keyword) + payload
    if len(header) + len(plain) < pad_to:
        plain += bytes(pad_to - len(header) - len(plain))
    ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plain, b"", nonce, key)
    return header + nonce + ct


def load_vectors():
    for p in VECTOR_PATHS:
        if p.exists():
            return json.loads(p.read_text())
    raise SystemExit("neutrino-python.json not found in " + ", ".join(map(str, VECTOR_PATHS)))


class corpus:
    def __init__(self, name):
        self.dir = HERE / "corpus" / name
        self.dir.mkdir(parents=True, exist_ok=True)
        for f in self.dir.iterdir():
            f.unlink()

    def add(self, label, data):
        digest = hashlib.sha1(data).hexdigest()[:12]
        (self.dir / f"{label}-{digest}").write_bytes(data)


def words_corpus(vectors):
    c = corpus("words")
    c.add("empty-list", encode_words([]))
    c.add("one-word", encode_words([b"hello"]))
    c.add("three-words", encode_words([b"374", b"", b"3.5"]))
    c.add("padded", encode_words([b"abc", b"de"]) + bytes(40))
    c.add("key-word", encode_words([bytes(range(32))]) + bytes(1219))
    c.add("255-empty", encode_words([b""] * 255))
    c.add("truncated", encode_words([b"abcdef"])[:-2])
    c.add("bad-padding", encode_words([b"x"]) + b"\x00\x01")
    c.add("ext-two", encode_words([b"alpha", b"beta"], "<H", "<I"))
    c.add("ext-empty", encode_words([], "<H", "<I") + bytes(8))
    c.add("ext-300", encode_words([b"z"] * 300, "<H", "<I"))
    seen = set()
    for s in vectors["scenarios"]:
        for p in s["packets"]:
            payload = bytes.fromhex(p.get("payload_hex") or "")
            if payload and payload not in seen:
                seen.add(payload)
                c.add(f"vector-{s['name']}-{p['index']}", payload)


def datagram_corpus(vectors):
    c = corpus("datagram")
    seen = set()
    for s in vectors["scenarios"]:
        for p in s["packets"]:
            wire = bytes.fromhex(p["wire_hex"])
            if wire not in seen:
                seen.add(wire)
                c.add(f"vector-{s['name']}-{p['index']}-{p['header']['packet_type_name']}", wire)
    # Pre-seal form: pn (u64), keyword (u32), word-encoded payload.
    c.add("preseal-data", u64(1000) + u32(0) + encode_words([b"374", b"", b"3.5"]))
    c.add("preseal-empty", u64(64) + u32(7) + encode_words([]))
    c.add("preseal-padded", u64(2**31 - 1) + u32(0) + encode_words([b"a"]) + bytes(30))
    c.add("preseal-max", u64(2**63) + u32(0xFFFFFFFF) + encode_words([bytes(1211)]))
    c.add("preseal-bad-words", u64(65) + u32(0) + b"\x02\x05\x00ab")
    # Sealed with the hook key and a zero nonce, as the hook would.
    c.add("hook-sealed", seal(HOOK_KEY, 0x47, 64, 1000, 0, encode_words([b"hi"]), bytes(24)))
    c.add("too-short", u32(PROTOCOL_ID) + bytes([2, 0x47]) + u64(64) + bytes(20))


# --- machine programs (see fuzz_server.cpp / fuzz_client.cpp) -------------------------------

def w(*words):
    out = bytes([len(words)])
    for x in words:
        out += bytes([len(x)]) + x
    return out


NO_EDIT = b"\x00"


def edit(mode, pos, val):
    return bytes([mode]) + u16(pos) + bytes([val])


def edits(*es):
    return bytes([len(es)]) + b"".join(es)


def server_corpus(vectors):
    c = corpus("server")
    hello1 = bytes.fromhex(vectors["scenarios"][0]["packets"][0]["wire_hex"])
    data_pkt = bytes.fromhex(vectors["scenarios"][0]["packets"][3]["wire_hex"])
    raw = lambda d, a=0: b"\x00" + u16(len(d)) + d + bytes([a])
    c.add("handshake-only", b"\x00")
    c.add("data", b"\x00" + b"\x01" + w(b"374", b"", b"3.5") + NO_EDIT + b"\x00")
    c.add("data-padded", b"\x03" + b"\x01" + w(b"x" * 31) + NO_EDIT + b"\x00")
    c.add("data-flip", b"\x00" + b"\x01" + w(b"abc") + edits(edit(1, 40, 0x10)) + b"\x00")
    # DATA with no words, its clear type set to KEEP_ALIVE (the v2 header is not authenticated)
    c.add("type-to-keepalive", b"\x00" + b"\x01" + w() + edits(edit(0, 5, 0x04)) + b"\x00")
    c.add("type-to-goodbye", b"\x00" + b"\x01" + w() + edits(edit(0, 5, 0x05)) + b"\x00")
    c.add("migrate", b"\x00" + b"\x01" + w(b"m") + NO_EDIT + b"\x02" + b"\x04\x20")
    c.add("replay", b"\x00" + b"\x01" + w(b"r") + NO_EDIT + b"\x00" + b"\x02\xff" + NO_EDIT + b"\x00")
    c.add("hello1-new", b"\x00" + b"\x03" + bytes(range(1, 33)) + NO_EDIT + b"\x02")
    c.add("hello1-flood", b"\x00" + (b"\x03" + bytes(range(1, 33)) + NO_EDIT + b"\x01") * 6)
    c.add("hello1-lowkey", b"\x00" + b"\x03" + bytes(32) + NO_EDIT + b"\x03")
    c.add("hello1-vector", b"\x00" + raw(hello1, 2))
    c.add("vector-data", b"\x00" + raw(data_pkt, 0))
    c.add("timeouts", b"\x00" + b"\x04\x90" + b"\x04\xa0" + b"\x04\x10")
    c.add("keepalive", b"\x00" + b"\x04\x87" + b"\x04\x87")
    c.add("goodbye-redial", b"\x00" + b"\x05" + b"\x06" + b"\x01" + w(b"again") + NO_EDIT + b"\x00")
    c.add("server-send", b"\x00" + b"\x07" + w(b"s2c") + b"\x87" + w(b"all"))
    c.add("drop", b"\x00" + b"\x08" + b"\x04\x90")
    c.add("shutdown", b"\x00" + b"\xf8" + b"\x01" + w(b"late") + NO_EDIT + b"\x00")
    c.add("hold-hello2", b"\x00" + b"\x09" + b"\x05\x06" + b"\x04\x30")
    c.add("hold-c2s", b"\x00" + b"\x89" + b"\x04\x87" + b"\x89" + b"\x02\x00" + NO_EDIT + b"\x00")


def client_corpus(vectors):
    c = corpus("client")
    raw = lambda d, src=1: b"\x00" + u16(len(d)) + d + bytes([src])
    pkts = vectors["scenarios"][0]["packets"]
    shutdown = bytes.fromhex(vectors["scenarios"][1]["packets"][3]["wire_hex"])
    c.add("handshake-only", b"\x00")
    c.add("server-data", b"\x00" + b"\x01" + w(b"374", b"", b"3.5") + NO_EDIT + b"\x01")
    c.add("server-data-wrong-peer", b"\x00" + b"\x01" + w(b"x") + NO_EDIT + b"\x00")
    c.add("server-data-flip", b"\x00" + b"\x01" + w(b"abc") + edits(edit(1, 50, 0x01)) + b"\x01")
    c.add("type-to-shutdown", b"\x00" + b"\x01" + w() + edits(edit(0, 5, 0x06)) + b"\x01")
    c.add("type-to-hello2", b"\x00" + b"\x01" + w() + edits(edit(0, 5, 0x02)) + b"\x01")
    c.add("replay-hello2", b"\x00" + b"\x02\x00" + NO_EDIT + b"\x01")
    c.add("keepalive", b"\x00" + b"\x03\x87" + b"\x03\x87")
    c.add("timeout-redial", b"\x00" + b"\x07" + b"\x03\x9f" + b"\x03\xa0" + b"\x08" + b"\x03\x90")
    c.add("client-data", b"\x00" + b"\x04" + w(b"hi") + b"\x04" + w(b"x" * 31, b"y"))
    c.add("close-connect", b"\x00" + b"\x05" + b"\x06" + b"\x03\x10")
    c.add("pending-hello2", b"\x00" + b"\x07" + b"\x08" + b"\x03\xa0\x03\x90" + b"\x02\x0f" + NO_EDIT + b"\x01")
    c.add("shutdown", b"\x00" + b"\xf7" + b"\x03\x90" + b"\x03\x90")
    c.add("padded", b"\x03" + b"\x01" + w(b"p") + NO_EDIT + b"\x01")
    for p in pkts:
        if p["direction"] == "s2c":
            c.add(f"vector-{p['index']}", b"\x00" + raw(bytes.fromhex(p["wire_hex"])))
    c.add("vector-shutdown", b"\x00" + raw(shutdown))


def replay_window_corpus():
    c = corpus("replay_window")
    op = lambda o, v: bytes([o]) + u64(v)
    c.add("in-order", b"".join(op(1, i) for i in range(1, 20)))
    c.add("reset-then-gaps", op(0x80, 1000) + op(1, 5) + op(2, 3) + op(1, 70) + op(2, 64))
    c.add("wrap", op(0x80, 2**64 - 5) + op(3, 0) + op(3, 2) + op(0, 0))
    c.add("far-jump", op(0, 10) + op(1, 5000) + op(2, 100) + op(0x41, 1))


def reassembler_corpus():
    # see fuzz_reassembler.cpp: setup byte, then (keyword, u16 length, payload) operations
    c = corpus("reassembler")
    frag = 1214

    def op(keyword, payload):
        k = bytes([keyword]) if keyword < 8 else b"\xff" + u32(keyword)
        return k + u16(len(payload)) + payload

    def series(message):
        if len(message) <= frag:
            return op(0, message)
        chunks = [message[i:i + frag] for i in range(0, len(message), frag)]
        return b"".join(op(len(chunks) - i, ch) for i, ch in enumerate(chunks))

    one = encode_words([b"hello", b"world"], "<H", "<I")
    three = encode_words([bytes(range(256)) * 12], "<H", "<I")  # 3 fragments
    six = encode_words([b"x" * 5000, b"", b"y" * 2000], "<H", "<I")  # 6 fragments
    c.add("whole", b"\x00" + series(one))
    c.add("three-fragments", b"\x00" + series(three) + series(one))
    c.add("streamed", b"\x01" + series(six) + series(three))
    c.add("broken-then-valid", b"\x00" + series(six)[:2 * (frag + 3)] + series(one) + series(three))
    c.add("oversize", b"\x00" + op(200, b"z" * frag) + series(one))
    c.add("budget", b"\x08" + series(encode_words([b"q" * 30000], "<H", "<I")) + series(one))


# --- v3 targets (see fuzz_v3_handshake.cpp / fuzz_v3_receive.cpp) ---------------------------

V3_VECTOR_PATHS = [ROOT / "tests/vectors/neutrino-v3.json", ROOT.parent / "shared/vectors/neutrino-v3.json"]


def v3_corpora():
    v3 = None
    for p in V3_VECTOR_PATHS:
        if p.exists():
            v3 = json.loads(p.read_text())
            break
    if v3 is None:
        raise SystemExit("neutrino-v3.json not found in " + ", ".join(map(str, V3_VECTOR_PATHS)))
    dgrams = [(s["name"], d) for s in v3["scenarios"] for d in s["datagrams"]]
    wire = lambda d: bytes.fromhex(d["wire_hex"])
    raw = lambda d, src: u16(len(d)) + d + bytes([src])

    # fuzz_v3_handshake: byte 0 = config, then operations (op % 13)
    c = corpus("v3_handshake")
    b_hello1 = b"\x02" + NO_EDIT + b"\x01"             # B's HELLO1 → server, from B's address
    to_b = lambda i: b"\x03" + bytes([i]) + NO_EDIT    # the server's i-th datagram for B → B
    c.add("established-only", b"\x00")
    c.add("nk-flow", b"\x00" + b_hello1 + to_b(0))
    c.add("ik-flow", b"\x10" + b_hello1 + to_b(0))
    c.add("all-variants", b"\x04" + b_hello1 + to_b(0))
    c.add("cookie-flow", b"\x01" + b_hello1 + to_b(0) + b_hello1 + to_b(1))
    c.add("cookie-wrong-source", b"\x01" + b_hello1 + b"\x83\x00" + NO_EDIT + b"\x02")
    c.add("require-key", b"\x02" + b_hello1 + to_b(0))
    c.add("ik-refused", b"\x18" + b_hello1 + to_b(0))
    c.add("duplicate-hello1", b"\x00" + b_hello1 + b_hello1 + b"\x02" + NO_EDIT + b"\x02" + to_b(1))
    c.add("hello2-flip", b"\x00" + b_hello1 + b"\x03\x00" + edits(edit(1, 60, 0x04)))
    c.add("hello2-sid", b"\x00" + b_hello1 + b"\x03\x00" + edits(edit(1, 7, 0x01)))
    c.add("hello1-flip-mac1", b"\x00" + b"\x82" + edits(edit(1, 300, 0x20)) + b"\x01")
    c.add("hello1-mac2", b"\x09" + b"\x02" + edits(edit(0, 1270, 0x55)) + b"\x01")
    c.add("load-toggle", b"\x00" + b"\x09" + b_hello1 + to_b(0) + b"\x09" + b_hello1)
    c.add("retransmit-timeout", b"\x00" + b"\x07\x81" + b"\x07\x90" + b"\x07\xa0" + b_hello1)
    c.add("redial", b"\x00" + b"\x88" + b_hello1 + to_b(0) + b"\x08")
    c.add("replay-a", b"\x00" + b"\x0a\x00" + NO_EDIT + b"\x00" + b"\x0a\x01" + NO_EDIT + b"\x02")
    c.add("to-a", b"\x00" + b_hello1 + b"\x0b\x00" + b"\x8b" + raw(bytes(70), 0)[:-1])
    sid = b"\x02" + u16(0x1234)
    c.add("forged-hello2-ok", b"\x00" + b"\x05" + b"\x00\x00" + u16(0) + sid + bytes(range(7, 39)))
    c.add("forged-hello2-ext", b"\x04" + b"\x05" + b"\x00\x02" + u16(1) + u16(1238) + b"\x00" + sid + bytes(32))
    c.add("forged-hello2-refused", b"\x00" + b"\x05" + b"\x02\x07" + u16(0) + b"\x00" + bytes(32))
    c.add("forged-hello2-bad", b"\x00" + b"\x05" + b"\x09\x00" + u16(0) + b"\x85" + bytes(32))
    c.add("forged-cookie", b"\x00" + b"\x06\x00" + bytes(range(24)) + bytes(range(100, 116)) + b_hello1)
    c.add("forged-cookie-other-mac1", b"\x00" + b"\x06\x01" + bytes(16) + bytes(24) + bytes(16))
    offer = bytes([1, 3, 1, 0]) + u32(0) + bytes(8)
    answer = bytes([0, 1, 0, 0]) + u32(0) + u64(1 << 40)
    c.add("decoders", b"\x00" + b"\x0c" + bytes([len(offer)]) + offer + b"\x0c" + bytes([len(answer)]) + answer)
    for name, d in dgrams:
        if d["name"] == "CLIENT_HELLO1":
            c.add(f"vector-{name}-{d['index']}", b"\x00" + b"\x00" + raw(wire(d), 2))
            c.add(f"vector-{name}-{d['index']}-fixed", b"\x00" + b"\x81" + wire(d) + b"\x03")
        elif d["name"] in ("SERVER_HELLO2", "COOKIE_REPLY"):
            c.add(f"vector-{name}-{d['index']}", b"\x00" + b"\x04" + raw(wire(d), 1))

    # fuzz_v3_receive: byte 0 = pair (basic, reliable, extended), then operations (op % 8)
    c = corpus("v3_receive")
    for pair, pname in ((0, "basic"), (1, "reliable"), (2, "extended")):
        p = bytes([pair])
        c.add(f"{pname}-data", p + b"\x02" + w(b"374", b"", b"3.5") + NO_EDIT + b"\x00")
        c.add(f"{pname}-data-s2c", p + b"\x03" + w(b"s2c") + NO_EDIT + b"\x01")
        c.add(f"{pname}-keepalive", p + b"\x0a" + NO_EDIT + b"\x00" + b"\x0b" + NO_EDIT + b"\x01")
        for pos, x, what in ((5, 0x42, "type"), (5, 0x80, "phase"), (14, 0x01, "pn"),
                             (21, 0x80, "pn-space"), (22, 0x01, "keyword"), (6, 0x01, "session"),
                             (4, 0x01, "version"), (0, 0x01, "identifier"), (42, 0x01, "tag")):
            c.add(f"{pname}-flip-{what}", p + b"\x02" + w(b"abc") + edits(edit(1, pos, x)) + b"\x00")
        c.add(f"{pname}-truncate", p + b"\x02" + w(b"abc") + edits(edit(2, 42, 0)) + b"\x00")
        c.add(f"{pname}-extend", p + b"\x03" + w(b"abc") + edits(edit(3, 0, 0x10)) + b"\x01")
        c.add(f"{pname}-other-source", p + b"\x02" + w(b"mig") + NO_EDIT + b"\x02")
        c.add(f"{pname}-replay", p + b"\x02" + w(b"r") + NO_EDIT + b"\x00" + b"\x04\x00" + NO_EDIT + b"\x00"
              + b"\x03" + w(b"q") + NO_EDIT + b"\x01" + b"\x84\x00" + NO_EDIT + b"\x01")
        c.add(f"{pname}-key-update", p + b"\x06" + b"\x02" + w(b"k") + NO_EDIT + b"\x00"
              + b"\x03" + w(b"k") + edits(edit(1, 5, 0x80)) + b"\x01" + b"\x86" + b"\x03" + w(b"s") + NO_EDIT + b"\x01")
        c.add(f"{pname}-time", p + b"\x05\x90" + b"\x05\xa0" + b"\x02" + w(b"t") + NO_EDIT + b"\x00")
        c.add(f"{pname}-junk-encoded", p + b"\x47\xff\x03" + u16(5) + b"\x00\x01\x02\x03\x04")
        c.add(f"{pname}-junk-type", p + b"\x07\x03" + w() + b"\x07\x04" + w(b"x") + b"\x87\x06" + w())
        for name, d in dgrams if pair == 0 else ():
            if d["kind"] == "transport":
                op = b"\x00" if d["direction"] == "c2s" else b"\x01"
                c.add(f"{pname}-vector-{name}-{d['index']}", p + op + raw(wire(d), 1 if op == b"\x01" else 0))
    c.add("reliable-request", b"\x01" + b"\x12" + u16(3) + NO_EDIT + b"\x00" + b"\x13" + u16(1) + NO_EDIT + b"\x01")
    c.add("extended-raw", b"\x02" + b"\x1a\x00" + b"\x05abcde" + NO_EDIT + b"\x00" + b"\x1b\x01" + b"\x03xyz" + NO_EDIT + b"\x01")


# --- QOTP (see fuzz_qotp_*.cpp) ---------------------------------------------------------------

QOTP_VECTORS = ROOT / "tests/vectors/qotp/vectors.txt"


def load_qotp_vectors():
    v = {}
    for line in QOTP_VECTORS.read_text().splitlines():
        if line and not line.startswith("#"):
            name, *fields = line.split()
            v.setdefault(name, fields)
    return v


def qotp_corpora():
    v = load_qotp_vectors()
    payloads = {k: bytes.fromhex(f[0]) for k, f in v.items() if k.startswith("proto_")}

    c = corpus("qotp_message")
    # even mode byte: a raw datagram (the vectors open under S / S0 and must re-seal identically)
    for name in ("data_i2r_sn0", "data_i2r_sn123456789a", "data_r2i_sn0", "initrcv_sn0",
                 "initcryptorcv_sn0", "initcryptosnd_hex"):
        c.add(f"raw-{name}", b"\x00" + bytes.fromhex(v[name][0]))
    initsnd = bytes.fromhex(v["initsnd_first67"][0])
    c.add("raw-initsnd", b"\x00" + initsnd + bytes(1232 - len(initsnd)))
    c.add("raw-short", b"\x00" + bytes([0x80]) + bytes(40))
    c.add("raw-bad-version", b"\x00" + bytes([0x81]) + bytes(60))
    # odd mode byte: type selector (0 InitRcv, 1 InitCryptoSnd, 2 InitCryptoRcv, 3 Data), u48 sn,
    # payload; sealed, opened, then one byte changed
    for i, (name, p) in enumerate(sorted(payloads.items())):
        c.add(f"seal-{name}", bytes([1 + 2 * i, i % 4]) + (i * 0x1111).to_bytes(6, "little") + p)
    c.add("seal-data-max-sn", b"\x07\x03" + b"\xff" * 6 + payloads["proto_data_ack"])
    c.add("seal-crypto-snd-big", b"\x09\x01" + bytes(6) + payloads["proto_data_noack"] + bytes(1100))

    c = corpus("qotp_payload")
    for name, p in sorted(payloads.items()):
        c.add(name, p)
    ku = bytes(range(32))
    c.add("key-update-both", b"\x32\xac\x05\x82" + ku + ku[::-1] + u32(5) + b"\x00\x00\x00" + b"data")
    c.add("ack-extend", b"\x05\xd0\x04\x10" + u32(1) + (2**40).to_bytes(6, "little") + u16(9))
    c.add("reserved-bits", b"\xc1" + payloads["proto_ackonly"][1:])
    c.add("truncated-ack", payloads["proto_ackonly"][:9])
    c.add("trailing", payloads["proto_ackonly"] + b"\x00")

    c = corpus("qotp_rwnd")
    rows = [int(line.split()[1]) for line in QOTP_VECTORS.read_text().splitlines()
            if line.startswith("rwnd ")]
    c.add("vector-rows", b"".join(u64(x) for x in rows))
    c.add("edges", b"".join(u64(x) for x in (0, 1, 127, 128, 255, 256, 893353197567, 893353197568,
                                               893353197569, 2**63, 2**64 - 1)))
    c.add("powers", b"".join(u64(2**k - 1) + u64(2**k) for k in range(64)))


# RFC 5769 §2.1 sample request, §2.2 sample IPv4 response, §2.3 sample IPv6 response (the same
# bytes as p2p/tests/vectors/rfc5769.hpp).
RFC5769 = {
    "rfc5769-request": "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420"
                       "636c69656e74002400046e0001ff80290008932ff9b151263b3600060009657674"
                       "6a3a6836765920202000080014" "9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2"
                       "80280004e57a3bcf",
    "rfc5769-ipv4-response": "0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563"
                             "746f7220002000080001a147e112a64300080014" "2b91f599fd9e90c38c74"
                             "89f92af9ba53f06be7d780280004c07d4c96",
    "rfc5769-ipv6-response": "010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563"
                             "746f7220002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d900080014"
                             "a382954e4be67bf11784c97c8292c275bfe3ed4180280004c8fb0b4c",
}
# Key of the PROBE MACs in fuzz_probe.cpp
PROBE_FUZZ_KEY = bytes([0x42] * 32)


def p2p_corpora():
    c = corpus("stun")
    for label, hexdata in RFC5769.items():
        c.add(label, bytes.fromhex(hexdata))
    c.add("bare-request", bytes.fromhex("000100002112a442") + bytes(12))

    c = corpus("probe")
    def probe(attempt, sender, nonce, echo):
        body = b"\x02" + u64(attempt) + sender + u64(nonce) + u64(echo)
        return body + hashlib.blake2b(body, digest_size=16, key=PROBE_FUZZ_KEY).digest()
    c.add("valid", probe(1, bytes(range(16)), 0x1122334455667788, 0))
    c.add("valid-echo", probe(2**64 - 1, bytes(16), 7, 0x0102030405060708))
    c.add("bad-mac", probe(1, bytes(range(16)), 2, 3)[:-1] + b"\x00")
    c.add("relayed", b"\x04" + u64(0xABCDEF) + b"payload")
    rendezvous_corpus()


# The rendezvous control messages (p2p/rendezvous_message.hpp): one of each type, as the encoders
# write them (padding before the required fields, which come last), and a relayed datagram.
# fuzz_rendezvous.cpp's server takes the sender of a REGISTER from its node id (key i is 32 bytes
# of i + 1), else from the last byte mod 4: the seeds register keys 0..3, and key 1 connects to
# key 2 (attempt id 0x01...).
def rendezvous_corpus():
    c = corpus("rendezvous")
    def tlv(tag, value):
        return bytes([tag]) + u16(len(value)) + value
    def addr4(ip, port):
        return b"\x04" + bytes(ip) + u16(port)
    def pad_to(msg, size, tail):
        need = size - len(msg) - tail
        return msg + tlv(0, bytes(max(need - 3, 0))) if need > 0 else msg
    def node_id(key):
        return hashlib.blake2b(key, digest_size=32).digest()[:16]
    keys = [bytes([i + 1] * 32) for i in range(4)]
    key1, key2 = keys[1], keys[2]
    host = tlv(4, b"\x00" + addr4([192, 168, 1, 10], 5000)
               + b"\x01\x06" + bytes(15) + b"\x01" + u16(5001))
    reg = b"\x01" + tlv(2, b"demo") + tlv(3, b"token") + host + tlv(5, b"\x01")
    c.add("register", pad_to(reg, 48, 19) + tlv(1, node_id(key1)))
    for i, key in enumerate(keys):
        c.add(f"register-minimal-{i}", pad_to(b"\x01", 48, 19) + tlv(1, node_id(key)))
    c.add("registered", b"\x02" + tlv(6, addr4([203, 0, 113, 7], 40000)) + tlv(7, u32(60))
          + tlv(8, u64(123456)))
    c.add("keepalive", pad_to(b"\x03", 48, 11) + tlv(9, u64(1)))
    c.add("keepalive-ack", b"\x04" + tlv(9, u64(1)) + tlv(6, addr4([203, 0, 113, 7], 40000)))
    c.add("connect", pad_to(b"\x05", 48, 30) + tlv(1, node_id(key2))
          + tlv(10, u64(0x0100000000000077)))
    c.add("introduce", b"\x06" + host + tlv(1, node_id(key2)) + tlv(11, key2) + tlv(10, u64(77))
          + tlv(12, b"\x01") + tlv(13, bytes(range(32))) + tlv(14, u64(0xABCDEF))
          + tlv(15, u64(123456)))
    c.add("peer-update", b"\x07" + host + tlv(1, node_id(key2)))
    c.add("error", b"\x08" + tlv(10, u64(77)) + tlv(16, u16(1)))
    c.add("bye", b"\x09")
    c.add("unknown-tlv", b"\x05" + tlv(0x7F, b"xyz") + tlv(1, node_id(key2)) + tlv(10, u64(5)))
    c.add("relayed", b"\x04" + u64(0xABCDEF) + b"payload")
    rendezvous_client_corpus()


# Scripts for fuzz_rendezvous_client.cpp (opcodes in its header comment): the client registers,
# keeps alive, connects, is introduced (op 3 builds a valid INTRODUCE), is updated, is refused,
# loses the server, moves; its key is 32 bytes of 1, the fixed peer's 32 bytes of 2.
def rendezvous_client_corpus():
    c = corpus("rendezvous_client")
    def tlv(tag, value):
        return bytes([tag]) + u16(len(value)) + value
    def addr4(ip, port):
        return b"\x04" + bytes(ip) + u16(port)
    def msg(m):
        return b"\x00" + bytes([len(m)]) + m
    def step(n):
        return b"\x01" + bytes([n])
    peer_pk = sodium.crypto_scalarmult_base(bytes([2] * 32))
    peer_id = hashlib.blake2b(peer_pk, digest_size=32).digest()[:16]
    registered = msg(b"\x02" + tlv(6, addr4([203, 0, 113, 7], 40000)) + tlv(7, u32(60))
                     + tlv(8, u64(1)))
    ack1 = msg(b"\x04" + tlv(9, u64(1)) + tlv(6, addr4([203, 0, 113, 7], 40000)))
    moved = msg(b"\x04" + tlv(9, u64(1)) + tlv(6, addr4([203, 0, 113, 8], 40001)))
    update = msg(b"\x07" + tlv(4, b"\x02" + addr4([192, 0, 2, 9], 7)) + tlv(1, peer_id))
    error = msg(b"\x08" + tlv(16, u16(4)))
    c.add("register", registered)
    c.add("keepalive", registered + step(20) + ack1 + step(20))
    c.add("move", registered + step(20) + moved + registered)
    c.add("lost", registered + step(70) + step(10) + step(20) + registered)
    c.add("introduce", registered + b"\x03" + u64(77) + b"\x00" + b"\x03" + u64(78) + b"\x01"
          + update)
    c.add("connect", registered + b"\x02" + step(60) + b"\x02" + error + b"\x04\x03")
    c.add("close", registered + b"\x05")


def main():
    vectors = load_vectors()
    words_corpus(vectors)
    datagram_corpus(vectors)
    server_corpus(vectors)
    client_corpus(vectors)
    replay_window_corpus()
    reassembler_corpus()
    v3_corpora()
    qotp_corpora()
    p2p_corpora()
    for d in sorted((HERE / "corpus").iterdir()):
        print(f"{d.name}: {len(list(d.iterdir()))} files")


if __name__ == "__main__":
    main()
