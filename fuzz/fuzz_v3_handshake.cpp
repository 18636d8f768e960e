// Fuzz target: the v3 handshake (spec: neutrino-v3.md §7.3–§7.5, §7.9, §8, §9) through the
// core::v3 machines and the building blocks of handshake.hpp and cookie.hpp.
//
// Per input, on virtual time with seeded randomness: a basic_server with the static key of the
// test vectors (tests/vectors/neutrino-v3.json, so their HELLO1s pass mac1), a client A whose
// IK session (the vectors' client key) is established, and a client B with a pending handshake whose HELLO1s the input
// delivers (or not). Byte 0 configures the server (bit 0: always require a cookie, 1: require a
// client key, 2: serve every variant, 3: refuse every client key but A's) and B (bit 4: IK). Then one
// operation per step until the input ends (at most 48):
//   0 raw → server      u16 length (≤ 1400), bytes, u8 source (harness.hpp `addrs`)
//   1 mac1-fixed HELLO1 up to 1280 bytes (zero-padded), bit 7 of the op: a valid header and
//                       pattern byte; mac1 then recomputed, so arbitrary Noise message 1 bodies
//                       reach the DH and the AEAD → server from a source
//   2 B's HELLO1        the latest one B sent, 0–3 edits (bit 7: mac1 recomputed) → server
//   3 server → B        one of the server's datagrams for B (HELLO2, COOKIE_REPLY), 0–3 edits,
//                       → B from the server's address (bit 7: from another address)
//   4 raw → B           u16 length, bytes, u8 source (bit 0 set: the server's address)
//   5 forged HELLO2     the harness answers B's latest HELLO1 itself with the building blocks
//                       (server_handshake, the server's static key): any status, variant,
//                       Extended limit and session id (clear and encrypted, equal or not), so the
//                       answer checks behind the AEAD (§7.5, §9.2) see arbitrary input → B
//   6 forged COOKIE_REPLY  write_cookie_reply with the cookie key, B's mac1 (or another), a
//                       cookie and nonce from the input → B
//   7 time              u8 delay (ms, or ×64 ms with the top bit): timers, A's keep-alives,
//                       B's retransmissions (captured, not delivered)
//   8 B redials         close (bit 7) and connect: a new attempt, a fresh ephemeral key
//   9 load              the server toggles "under load" (cookies required, §8.3)
//  10 replay A          A's HELLO1 or HELLO3, 0–3 edits → server (§7.4 step 4)
//  11 → A               a server datagram meant for B, or raw bytes → the established A
//  12 decoders          offer::parse / answer::parse / check_answer on input bytes
// Invariants (any breach is __builtin_trap):
//  - mac1 first: a datagram that is not 1280 bytes with a valid mac1 costs no DH
//    (stats().dh_operations), reads no Noise message, gets no reply and changes no count;
//  - a rejected datagram leaves the sessions and pending counts alone; its only possible
//    reply is one 70-byte COOKIE_REPLY (rate_limited); an accepted HELLO1 gets exactly one
//    reply, never larger than itself;
//  - a client (A or B) that rejects a datagram changes nothing: state, session id, cookie,
//    no event, no datagram; B accepts a HELLO2/COOKIE_REPLY only when it is byte for byte one
//    the server (or the harness, operations 5–6) produced;
//  - A stays established with the same session id on both sides, and DATA still flows at the
//    end of every input;
//  - an offer or answer that parses satisfies its own rules and re-encodes to the same bytes.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <optional>
#include <vector>

#include "harness.hpp"
#include "test_dialects.hpp"
#include "neutrino/core/v3/client.hpp"
#include "neutrino/core/v3/cookie.hpp"
#include "neutrino/core/v3/handshake.hpp"
#include "neutrino/core/v3/server.hpp"

namespace {

using namespace neutrino::fuzz;
namespace v3 = neutrino::core::v3;
using neutrino::peer_address;
using neutrino::seeded_random;
using neutrino::time_point;

using v3_client = v3::basic_client<null_observer, seeded_random>;
using v3_server = v3::basic_server<null_observer, seeded_random>;

const peer_address hs_server_addr = peer_address::v4({10, 0, 0, 100}, 22753);
const peer_address a_addr = addrs[0];
const peer_address b_addr = addrs[1];

/// The test vectors' keys (keys.server_static_*, keys.client_static_secret).
struct vector_keys {
    keypair server;
    secret_key client_static;
    v3::derived_key mac1_key{};
    v3::derived_key cookie_key{};
    vector_keys() {
        auto s = keypair_from_hex("8119102a28c917151576d36e37af4aff5eac46999be0e63cfe8626d58409974a",
                                  "65dfb96d52d0db3d39c34191e0aa1f5a6149b86dfc669b7c40e17630cc0776fc");
        auto c = parse_key_hex("803e4933bef88085993083cadaea13eae734e329e8bd66a83496c6704b64886f");
        if (!s || !c) __builtin_trap();
        server = *s;
        client_static = secret_key(*c);
        mac1_key = v3::derive_mac1_key(server.pk);
        cookie_key = v3::derive_cookie_key(server.pk);
    }
};

const vector_keys& keys() {
    static const vector_keys k;
    return k;
}

template <class Machine>
std::size_t drain(Machine& m) {
    std::size_t n = 0;
    while (auto e = m.poll_event()) {
        touch(*e);
        ++n;
    }
    return n;
}

/// The independent mac1 check (§8.1): 1280 bytes and mac1 = MAC(mac1_key, bytes 0..1248).
bool mac1_valid(const bytes& d) {
    if (d.size() != v3::hello1_size) return false;
    const v3::mac_value m = v3::mac16(keys().mac1_key, {std::span<const std::byte>(d).first(v3::mac1_offset)});
    return v3::equal_ct(m, std::span<const std::byte>(d).subspan(v3::mac1_offset, v3::mac_size));
}

void set_mac1(bytes& d) {
    if (d.size() != v3::hello1_size) return;
    const v3::mac_value m = v3::mac16(keys().mac1_key, {std::span<const std::byte>(d).first(v3::mac1_offset)});
    std::memcpy(d.data() + v3::mac1_offset, m.data(), v3::mac_size);
}

bool contains(const std::vector<bytes>& v, const bytes& d) {
    return std::find(v.begin(), v.end(), d) != v.end();
}

class hs_world {
public:
    explicit hs_world(std::uint8_t config)
        : server_(server_cfg(), server_opt(config), {}, seeded_random(3)),
          a_(client_cfg(), a_opt(), {}, seeded_random(4)),
          b_(client_cfg(), b_opt(config), {}, seeded_random(5)) {
        NEUTRINO_FUZZ_CHECK(a_.connect(now_));
        pump();
        NEUTRINO_FUZZ_CHECK(a_.established());
        a_id_ = a_.session_id();
        NEUTRINO_FUZZ_CHECK(server_.state_of(a_id_) == session_state::established);
        NEUTRINO_FUZZ_CHECK(b_.connect(now_));
        collect();
        NEUTRINO_FUZZ_CHECK(b_.state() == session_state::pending && !b_hello1_.empty());
    }

    v3_server& server() noexcept { return server_; }
    v3_client& a() noexcept { return a_; }
    v3_client& b() noexcept { return b_; }
    [[nodiscard]] time_point now() const noexcept { return now_; }
    const bytes& b_hello1() const noexcept { return b_hello1_; }
    std::vector<bytes> to_b;         ///< what the server sent to B's address (last 16)
    std::vector<bytes> a_history;    ///< A's HELLO1 and HELLO3
    std::vector<bytes> forged_ok;    ///< harness-built datagrams B may accept (operations 5–6)

    /// Feeds one datagram to the server and checks the invariants around it.
    void feed_server(const bytes& d, const peer_address& from) {
        collect();
        drain(server_);
        const v3::stats before = server_.stats();
        const std::size_t sessions = server_.session_count();
        const std::size_t pending = server_.pending_count();
        const std::size_t out_before = out_count_;
        auto r = server_.handle_datagram(d, from, now_);
        const std::size_t events = drain(server_);
        collect();
        const std::size_t replies = out_count_ - out_before;
        const v3::stats& after = server_.stats();
        NEUTRINO_FUZZ_CHECK(events == 0);  // a handshake packet never makes an event here
        if (!mac1_valid(d)) {
            // spec: neutrino-v3.md §7.4 steps 1–2: mac1 before anything costly
            NEUTRINO_FUZZ_CHECK(!r);
            NEUTRINO_FUZZ_CHECK(after.dh_operations == before.dh_operations);
            NEUTRINO_FUZZ_CHECK(after.handshakes_read == before.handshakes_read);
            NEUTRINO_FUZZ_CHECK(after.hello2_sent == before.hello2_sent);
            NEUTRINO_FUZZ_CHECK(after.cookie_replies_sent == before.cookie_replies_sent);
        }
        if (!r) {
            NEUTRINO_FUZZ_CHECK(server_.session_count() == sessions);
            NEUTRINO_FUZZ_CHECK(server_.pending_count() == pending);
            NEUTRINO_FUZZ_CHECK(after.hello2_sent == before.hello2_sent);
            if (replies != 0) {
                NEUTRINO_FUZZ_CHECK(replies == 1 && last_size_ == v3::cookie_reply_size);
                NEUTRINO_FUZZ_CHECK(r.error() == make_error_code(errc::rate_limited));
                NEUTRINO_FUZZ_CHECK(after.dh_operations == before.dh_operations);  // §8.3
            }
        } else {
            NEUTRINO_FUZZ_CHECK(replies <= 1);
            if (replies == 1) NEUTRINO_FUZZ_CHECK(last_size_ <= d.size());
        }
        check_a();
    }

    /// Feeds one datagram to a client; `genuine`: datagrams it may legitimately accept.
    void feed_client(v3_client& c, const bytes& d, const peer_address& from) {
        collect();
        drain(c);
        const session_state state = c.state();
        const std::uint64_t id = c.session_id();
        const bool cookie = c.has_cookie(now_);
        const auto accepted = c.stats().packets_accepted;
        const std::size_t out_before = out_count_;
        auto r = c.handle_datagram(d, from, now_);
        const std::size_t events = drain(c);
        collect();
        if (!r) {
            NEUTRINO_FUZZ_CHECK(c.state() == state);
            NEUTRINO_FUZZ_CHECK(c.session_id() == id);
            NEUTRINO_FUZZ_CHECK(c.has_cookie(now_) == cookie);
            NEUTRINO_FUZZ_CHECK(c.stats().packets_accepted == accepted);
            NEUTRINO_FUZZ_CHECK(events == 0);
            NEUTRINO_FUZZ_CHECK(out_count_ == out_before);
        } else if (c.stats().packets_accepted != accepted && state == session_state::pending) {
            // a forged HELLO2 or COOKIE_REPLY is never accepted
            NEUTRINO_FUZZ_CHECK(contains(to_b, d) || contains(server_out_, d) || contains(forged_ok, d));
        }
        check_a();
    }

    void check_a() const {
        NEUTRINO_FUZZ_CHECK(a_.established());
        NEUTRINO_FUZZ_CHECK(a_.session_id() == a_id_);
        NEUTRINO_FUZZ_CHECK(server_.state_of(a_id_) == session_state::established);
    }

    /// Delivers what A and the server exchange; B's HELLO1s and the server's datagrams for
    /// B are captured, not delivered.
    void pump() {
        for (int round = 0; round < 16; ++round) {
            collect();
            if (a_queue_.empty() && s2a_.empty()) return;
            while (!a_queue_.empty()) {
                const bytes d = std::move(a_queue_.front());
                a_queue_.pop_front();
                if (d.size() == v3::hello1_size || (d.size() > 5 && d[5] == std::byte{0x03})) {
                    a_history.push_back(d);
                }
                (void)server_.handle_datagram(d, a_addr, now_);
                drain(server_);
            }
            while (!s2a_.empty()) {
                const bytes d = std::move(s2a_.front());
                s2a_.pop_front();
                (void)a_.handle_datagram(d, hs_server_addr, now_);
                drain(a_);
            }
        }
    }

    void advance(std::chrono::milliseconds by) {
        const time_point target = now_ + by;
        for (int i = 0; i < 64; ++i) {
            time_point next = target;
            for (auto d : {server_.deadline(), a_.deadline(), b_.deadline()}) {
                if (d) next = std::min(next, *d);
            }
            if (next > now_) now_ = next;
            if (auto d = server_.deadline(); d && *d <= now_) server_.handle_deadline(now_);
            if (auto d = a_.deadline(); d && *d <= now_) a_.handle_deadline(now_);
            if (auto d = b_.deadline(); d && *d <= now_) b_.handle_deadline(now_);
            drain(b_);
            pump();
            if (now_ >= target) break;
        }
        now_ = std::max(now_, target);
        collect();
    }

    /// Everything queued by the three machines goes to its place.
    void collect() {
        while (auto t = server_.poll_datagram(out_, now_)) {
            NEUTRINO_FUZZ_CHECK(t->size <= v3::max_datagram_size);
            bytes d(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(t->size));
            ++out_count_;
            last_size_ = t->size;
            if (t->to == a_addr) {
                s2a_.push_back(d);
            } else {
                if (t->to == b_addr) keep(to_b, d);
                keep(server_out_, std::move(d));
            }
        }
        while (auto t = a_.poll_datagram(out_, now_)) {
            NEUTRINO_FUZZ_CHECK(t->size <= v3::max_datagram_size && t->to == hs_server_addr);
            ++out_count_;
            a_queue_.emplace_back(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(t->size));
        }
        while (auto t = b_.poll_datagram(out_, now_)) {
            NEUTRINO_FUZZ_CHECK(t->size <= v3::max_datagram_size && t->to == hs_server_addr);
            ++out_count_;
            if (t->size == v3::hello1_size) {
                b_hello1_.assign(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(t->size));
            }
        }
    }

private:
    static void keep(std::vector<bytes>& v, bytes d) {
        if (v.size() == 16) v.erase(v.begin());
        v.push_back(std::move(d));
    }
    static server_config server_cfg() {
        server_config c;
        c.keys = keys().server;
        c.send_queue_capacity = 16;
        c.event_queue_capacity = 16;
        return c;
    }
    static v3::server_options server_opt(std::uint8_t config) {
        v3::server_options o;
        o.always_require_cookie = (config & 1) != 0;
        o.require_client_key = (config & 2) != 0;
        if ((config & 4) != 0) o.also_serve = {neutrino::test::layered_dialect, neutrino::test::raw_dialect};
        if ((config & 8) != 0) {
            // refuses every client key but A's, which must get through whatever the config
            o.accept_client_key = [](const public_key& k) { return k == public_key_of(keys().client_static); };
        }
        o.max_pending_per_ip = 4;
        o.max_pending_total = 8;
        return o;
    }
    static client_config client_cfg() {
        client_config c;
        c.server_key = keys().server.pk;
        c.server = hs_server_addr;
        c.send_queue_capacity = 8;
        c.event_queue_capacity = 8;
        return c;
    }
    static v3::client_options a_opt() {
        v3::client_options o;
        o.static_key = keys().client_static;
        return o;
    }
    static v3::client_options b_opt(std::uint8_t config) {
        v3::client_options o;
        if ((config & 0x10) != 0) {
            std::array<std::byte, key_size> k{};
            k.fill(std::byte{0x42});
            o.static_key = secret_key(k);
        }
        return o;
    }

    v3_server server_;
    v3_client a_;
    v3_client b_;
    std::uint64_t a_id_ = 0;
    time_point now_ = time_point{} + std::chrono::hours(1);
    std::deque<bytes> a_queue_, s2a_;
    std::vector<bytes> server_out_;  ///< the server's datagrams to anyone but A (last 16)
    bytes b_hello1_;
    std::size_t out_count_ = 0;
    std::size_t last_size_ = 0;
    std::array<std::byte, 2048> out_{};
};

const peer_address& source(std::uint8_t b) { return addrs[b % 4]; }

/// Operation 5: the harness plays the server for B's latest HELLO1 (building blocks only).
void forged_hello2(hs_world& w, reader& in) {
    auto hs = v3::server_handshake::read_hello1(w.b_hello1(), keys().server.sk, keys().server.pk);
    if (!hs) return;  // e.g. B's HELLO1 under another key: nothing to answer
    v3::answer a;
    a.status = static_cast<v3::hello2_status>(in.u8());
    a.variant = in.u8();
    a.extended_max_message_size = in.u16() % 3 == 0 ? 0U : std::uint32_t{in.u16()} << (in.u8() % 16);
    const std::uint8_t sid = in.u8();
    a.session_id = sid % 3 == 0 ? v3::session_id_none : sid % 3 == 1 ? std::uint64_t{sid} : (std::uint64_t{in.u16()} << 48) + 64;
    secret_key f;
    const bytes fb = in.take(32);
    std::copy(fb.begin(), fb.end(), f.bytes().begin());
    bytes d(v3::hello2_size);
    if (!hs->write_hello2(d, f, a)) return;
    if ((sid & 0x80) != 0) d[6] ^= std::byte{1};  // clear session id ≠ the encrypted one
    w.forged_ok.push_back(d);
    w.feed_client(w.b(), d, hs_server_addr);
}

/// Operation 6: a COOKIE_REPLY sealed with the real cookie key.
void forged_cookie_reply(hs_world& w, reader& in) {
    v3::mac_value mac1{};
    if ((in.u8() & 1) == 0 && w.b_hello1().size() == v3::hello1_size) {
        mac1 = v3::hello1_mac1(w.b_hello1());
    } else {
        const bytes m = in.take(v3::mac_size);
        std::copy(m.begin(), m.end(), mac1.begin());
    }
    std::array<std::byte, v3::cookie_nonce_size> nonce{};
    const bytes n = in.take(nonce.size());
    std::copy(n.begin(), n.end(), nonce.begin());
    v3::cookie c{};
    const bytes cb = in.take(c.size());
    std::copy(cb.begin(), cb.end(), c.begin());
    bytes d(v3::cookie_reply_size);
    if (!v3::write_cookie_reply(d, keys().cookie_key, nonce, mac1, c)) __builtin_trap();
    // the building block's own open must give the cookie back
    auto opened = v3::open_cookie_reply(d, keys().cookie_key, mac1);
    NEUTRINO_FUZZ_CHECK(opened && *opened == c);
    w.forged_ok.push_back(d);
    w.feed_client(w.b(), d, hs_server_addr);
}

/// Operation 12: the offer and answer decoders.
void decoders(reader& in) {
    const bytes p = in.take(in.u8() % 40);
    if (auto o = v3::offer::parse(p)) {
        NEUTRINO_FUZZ_CHECK(o->valid());
        std::array<std::byte, v3::offer_size> again{};
        o->write(again);
        NEUTRINO_FUZZ_CHECK(std::equal(again.begin(), again.end(), p.begin()));
        for (std::size_t i = v3::offer_size; i < p.size(); ++i) NEUTRINO_FUZZ_CHECK(p[i] == std::byte{0});
    }
    if (auto a = v3::answer::parse(p)) {
        NEUTRINO_FUZZ_CHECK(p.size() == v3::answer_size);
        std::array<std::byte, v3::answer_size> again{};
        a->write(again);
        // byte 1 (variant) and the limit are carried as they are; bytes 2–3 must be zero
        NEUTRINO_FUZZ_CHECK(std::equal(again.begin(), again.end(), p.begin()));
        v3::offer o;
        o.variants_mask = static_cast<std::uint8_t>(p[0]);
        o.preferred_variant = static_cast<std::uint8_t>(p[1]) % 3;
        if (v3::check_answer(o, *a) && a->status == v3::hello2_status::accepted) {
            NEUTRINO_FUZZ_CHECK(a->session_id >= v3::min_session_id);
            NEUTRINO_FUZZ_CHECK(((o.variants_mask >> a->variant) & 1U) != 0);
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    reader in(data, size);
    hs_world w(in.u8());
    for (int step = 0; step < 48 && !in.empty(); ++step) {
        const std::uint8_t op = in.u8();
        switch (op % 13) {
            case 0: {
                const bytes d = in.take(in.u16() % 1401);
                w.feed_server(d, source(in.u8()));
                break;
            }
            case 1: {
                bytes d = in.take(v3::hello1_size);
                d.resize(v3::hello1_size);
                if ((op & 0x80) != 0) {
                    v3::write_clear_header(d, 0x01, v3::session_id_none);
                    d[14] &= std::byte{1};
                    d[15] = std::byte{0};
                }
                set_mac1(d);
                w.feed_server(d, source(in.u8()));
                break;
            }
            case 2: {
                bytes d = w.b_hello1();
                mutate(d, in);
                if ((op & 0x80) != 0) set_mac1(d);
                w.feed_server(d, source(in.u8()));
                break;
            }
            case 3: {
                if (w.to_b.empty()) break;
                bytes d = w.to_b[in.u8() % w.to_b.size()];
                mutate(d, in);
                w.feed_client(w.b(), d, (op & 0x80) != 0 ? addrs[in.u8() % 4] : hs_server_addr);
                break;
            }
            case 4: {
                const bytes d = in.take(in.u16() % 1401);
                const std::uint8_t src = in.u8();
                w.feed_client(w.b(), d, (src & 1) != 0 ? hs_server_addr : addrs[(src >> 1) % 4]);
                break;
            }
            case 5: forged_hello2(w, in); break;
            case 6: forged_cookie_reply(w, in); break;
            case 7: w.advance(delay_from(in.u8())); break;
            case 8:
                if ((op & 0x80) != 0) w.b().close(w.now());
                (void)w.b().connect(w.now());
                drain(w.b());
                w.collect();
                break;
            case 9: w.server().set_under_load(!w.server().under_load(w.now())); break;
            case 10: {
                if (w.a_history.empty()) break;
                bytes d = w.a_history[in.u8() % w.a_history.size()];
                mutate(d, in);
                if ((op & 0x80) != 0) set_mac1(d);
                w.feed_server(d, source(in.u8()));
                break;
            }
            case 11: {
                bytes d;
                if ((op & 0x80) != 0 || w.to_b.empty()) {
                    d = in.take(in.u16() % 1401);
                } else {
                    d = w.to_b[in.u8() % w.to_b.size()];
                }
                const auto accepted = w.a().stats().packets_accepted;
                w.feed_client(w.a(), d, hs_server_addr);
                NEUTRINO_FUZZ_CHECK(w.a().stats().packets_accepted == accepted);
                break;
            }
            case 12: decoders(in); break;
            default: break;
        }
        w.pump();
        w.check_a();
    }
    // A's session still carries data both ways.
    const std::array<std::byte, 3> hello{std::byte{'h'}, std::byte{'i'}, std::byte{'!'}};
    const word words[1] = {word(hello)};
    const auto accepted = w.server().stats().packets_accepted;
    NEUTRINO_FUZZ_CHECK(w.a().send(words, w.now()));
    w.pump();
    NEUTRINO_FUZZ_CHECK(w.server().stats().packets_accepted > accepted);
    w.check_a();
    return 0;
}
