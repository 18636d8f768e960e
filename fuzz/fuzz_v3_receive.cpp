// Fuzz target: the v3 transport receive pipeline (spec: neutrino-v3.md §10.5) of an established
// core::v3::basic_client and basic_server<null_observer, seeded_random>.
//
// Three pairs — variant basic, reliable and extended — are set up once, deterministically
// (seeded randomness, virtual time), each with one established session, and live for the whole
// run (a handshake per input would cost more than the pipeline under test). Every step ends
// with all genuine traffic delivered, so no authentic datagram is ever left unconsumed between
// steps: whatever the fuzzer builds on its own can only be a forgery or a replay. Byte 0 picks
// the pair; then one operation per step until the input ends (at most 64):
//   0 raw → server     u16 length (≤ 1400), bytes, u8 source address (harness.hpp `addrs`)
//   1 raw → client     u16 length, bytes, u8 source (bit 0 set: the server's address)
//   2 c2s mutated      the client seals a fresh packet (the op's bits 3–4: DATA with words,
//                      KEEP_ALIVE, REQUEST_RETRANSMISSION, raw Extended DATA with a keyword),
//                      0–3 edits (harness.hpp `mutate`), fed to the server from a source
//                      address; then the genuine datagram is delivered from the client's address
//   3 s2c mutated      the same from the server to the client
//   4 replay           one of the last 16 accepted genuine datagrams, 0–3 edits, to its receiver
//   5 time             u8 delay (ms, or ×64 ms with the top bit), timers, keep-alives both ways
//   6 key update       the client (op bit 7 clear) or the server starts one (§11.2)
//   7 authentic junk   a sender seals arbitrary content (send_encoded: any keyword and payload;
//                      send_packet: any core packet type with words) and it is delivered as is:
//                      the decoders behind the AEAD (§10.5 steps 8–9) see arbitrary plaintext.
//                      An authenticated violation may close the session; it is re-established.
// Invariants (any breach is __builtin_trap):
//  - a datagram that is not byte for byte the genuine one just sealed is rejected, and changes
//    nothing: no event, no datagram out, packets_accepted, session state, phases and validated
//    address unchanged on both sides;
//  - a replayed genuine datagram is rejected;
//  - except after operation 7, both sides stay established with the same session id;
//  - no datagram out is larger than 1280 bytes; event words are read in full (ASan).
// The pairs carry state from input to input (packet numbers, key phases), so a crash found
// here may need its predecessors to reproduce; the invariants do not depend on that state.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "harness.hpp"
#include "test_dialects.hpp"
#include "neutrino/core/v3/client.hpp"
#include "neutrino/core/v3/server.hpp"

namespace {

using namespace neutrino::fuzz;
namespace v3 = neutrino::core::v3;
using neutrino::peer_address;
using neutrino::seeded_random;
using neutrino::time_point;

using v3_client = v3::basic_client<null_observer, seeded_random>;
using v3_server = v3::basic_server<null_observer, seeded_random>;

const peer_address v3_server_addr = peer_address::v4({10, 0, 0, 100}, 22753);
const peer_address v3_client_addr = addrs[0];

struct queued {
    bytes wire;
    peer_address to;
};

template <class Machine>
std::size_t drain(Machine& m) {
    std::size_t n = 0;
    while (auto e = m.poll_event()) {
        touch(*e);
        ++n;
    }
    return n;
}

/// A client and a server of one variant with one established session, on virtual time.
class pair {
public:
    explicit pair(const dialect& v, std::uint64_t seed)
        : variant_(v),
          client_(client_cfg(v), client_opt(), {}, seeded_random(seed)),
          server_(server_cfg(v), server_opt(), {}, seeded_random(seed + 1)) {
        establish();
    }

    v3_client& client() noexcept { return client_; }
    v3_server& server() noexcept { return server_; }
    [[nodiscard]] time_point now() const noexcept { return now_; }
    [[nodiscard]] bool layered_variant() const noexcept { return variant_.layered; }
    [[nodiscard]] const dialect& kind() const noexcept { return variant_; }
    std::deque<bytes> c2s_history, s2c_history;  ///< accepted genuine datagrams

    /// (Re-)establishes the session when either side lost it (after operation 7).
    void establish() {
        pump();
        if (client_.established() &&
            server_.state_of(client_.session_id()) == session_state::established) {
            return;
        }
        client_.close(now_);
        pump();
        NEUTRINO_FUZZ_CHECK(client_.connect(now_));
        pump();
        NEUTRINO_FUZZ_CHECK(client_.established());
        NEUTRINO_FUZZ_CHECK(server_.state_of(client_.session_id()) == session_state::established);
        c2s_history.clear();
        s2c_history.clear();
    }

    /// Both sides send and receive in one common phase.
    [[nodiscard]] bool phases_settled() const {
        const auto [s, r] = server_.phases_of(client_.session_id());
        return s == r && client_.send_phase() == s && client_.receive_phase() == s;
    }

    void check_established() const {
        if (!client_.established() ||
            server_.state_of(client_.session_id()) != session_state::established) {
            std::fprintf(stderr, "lost: client state %d id %llu, server state %d sessions %zu, now %lld ms\n",
                         static_cast<int>(client_.state()),
                         static_cast<unsigned long long>(client_.session_id()),
                         static_cast<int>(server_.state_of(client_.session_id())), server_.session_count(),
                         static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                    now_.time_since_epoch()).count()));
        }
        NEUTRINO_FUZZ_CHECK(client_.established());
        NEUTRINO_FUZZ_CHECK(server_.state_of(client_.session_id()) == session_state::established);
    }

    /// Delivers everything queued, both ways, until both sides are quiet (bounded).
    void pump() {
        for (int round = 0; round < 32; ++round) {
            collect();
            if (c2s_.empty() && s2c_.empty()) return;
            while (!c2s_.empty()) {
                queued d = std::move(c2s_.front());
                c2s_.pop_front();
                if (server_.handle_datagram(d.wire, v3_client_addr, now_)) remember(c2s_history, d.wire);
                drain(server_);
            }
            while (!s2c_.empty()) {
                queued d = std::move(s2c_.front());
                s2c_.pop_front();
                // every s2c datagram reaches the client, PATH_CHALLENGEs to a candidate included
                if (client_.handle_datagram(d.wire, v3_server_addr, now_)) remember(s2c_history, d.wire);
                drain(client_);
            }
        }
        collect();
        NEUTRINO_FUZZ_CHECK(c2s_.empty() && s2c_.empty());  // no endless ping-pong
    }

    /// The datagrams the client has queued, taken out instead of being delivered.
    std::vector<bytes> take_c2s() {
        collect();
        std::vector<bytes> v;
        for (auto& d : c2s_) v.push_back(std::move(d.wire));
        c2s_.clear();
        return v;
    }
    std::vector<bytes> take_s2c() {
        collect();
        std::vector<bytes> v;
        for (auto& d : s2c_) v.push_back(std::move(d.wire));
        s2c_.clear();
        return v;
    }

    /// Feeds one datagram to the server. `genuine`: the authentic datagram it may equal.
    /// Returns whether it was accepted.
    bool feed_server(const bytes& d, const peer_address& from, const bytes* genuine) {
        collect();
        drain(server_);
        const std::uint64_t id = client_.session_id();
        const auto accepted = server_.stats().packets_accepted;
        const auto sessions = server_.session_count();
        const auto state = server_.state_of(id);
        const auto phases = server_.phases_of(id);
        const auto peer = server_.peer_of(id);
        const std::size_t queued_before = s2c_.size();
        auto r = server_.handle_datagram(d, from, now_);
        const std::size_t events = drain(server_);
        collect();
        if (genuine == nullptr || d != *genuine) {
            NEUTRINO_FUZZ_CHECK(!r);
            NEUTRINO_FUZZ_CHECK(server_.stats().packets_accepted == accepted);
            NEUTRINO_FUZZ_CHECK(events == 0);
            NEUTRINO_FUZZ_CHECK(s2c_.size() == queued_before);
            NEUTRINO_FUZZ_CHECK(server_.session_count() == sessions);
            NEUTRINO_FUZZ_CHECK(server_.state_of(id) == state);
            NEUTRINO_FUZZ_CHECK(server_.phases_of(id) == phases);
            NEUTRINO_FUZZ_CHECK(server_.peer_of(id) == peer);
        }
        return r.has_value();
    }

    bool feed_client(const bytes& d, const peer_address& from, const bytes* genuine) {
        collect();
        drain(client_);
        const auto accepted = client_.stats().packets_accepted;
        const auto state = client_.state();
        const auto id = client_.session_id();
        const auto send_phase = client_.send_phase();
        const auto receive_phase = client_.receive_phase();
        const std::size_t queued_before = c2s_.size();
        auto r = client_.handle_datagram(d, from, now_);
        const std::size_t events = drain(client_);
        collect();
        if (genuine == nullptr || d != *genuine) {
            NEUTRINO_FUZZ_CHECK(!r);
            NEUTRINO_FUZZ_CHECK(client_.stats().packets_accepted == accepted);
            NEUTRINO_FUZZ_CHECK(events == 0);
            NEUTRINO_FUZZ_CHECK(c2s_.size() == queued_before);
            NEUTRINO_FUZZ_CHECK(client_.state() == state);
            NEUTRINO_FUZZ_CHECK(client_.session_id() == id);
            NEUTRINO_FUZZ_CHECK(client_.send_phase() == send_phase);
            NEUTRINO_FUZZ_CHECK(client_.receive_phase() == receive_phase);
        }
        return r.has_value();
    }

    /// Keep-alives both ways (the layered variants leave them to a layer above that is absent
    /// here), so that neither side expires while virtual time passes.
    void keep_alive() {
        std::array<std::byte, 8> t{}, a{};
        const std::array<word, 2> ka{word(t), word(a)};
        const word_list words = variant_.layered ? word_list(ka) : word_list();
        (void)client_.send_packet(packet_type::keep_alive, words, now_);
        (void)server_.send_packet(client_.session_id(), packet_type::keep_alive, words, now_);
        last_keep_alive_ = now_;
        pump();
    }

    /// Advances virtual time by `by`, stopping at every deadline like a driver.
    void advance(std::chrono::milliseconds by) {
        const time_point target = now_ + by;
        for (int i = 0; i < 64; ++i) {
            time_point next = target;
            if (auto d = server_.deadline()) next = std::min(next, *d);
            if (auto d = client_.deadline()) next = std::min(next, *d);
            next = std::min(next, last_keep_alive_ + std::chrono::milliseconds(400));
            if (next > now_) now_ = next;
            if (now_ >= last_keep_alive_ + std::chrono::milliseconds(400)) keep_alive();
            if (auto d = server_.deadline(); d && *d <= now_) server_.handle_deadline(now_);
            if (auto d = client_.deadline(); d && *d <= now_) client_.handle_deadline(now_);
            pump();
            if (now_ >= target) break;
        }
        now_ = std::max(now_, target);
    }

    static void remember(std::deque<bytes>& h, const bytes& w) {
        h.push_back(w);
        if (h.size() > world::history_size) h.pop_front();
    }

private:
    static client_config client_cfg(const dialect& v) {
        client_config c;
        c.server_key = server_keys().pk;
        c.server = v3_server_addr;
        c.dialect = v;
        c.send_queue_capacity = 16;
        c.event_queue_capacity = 16;
        return c;
    }
    static server_config server_cfg(const dialect& v) {
        server_config c;
        c.keys = server_keys();
        c.dialect = v;
        c.send_queue_capacity = 16;
        c.event_queue_capacity = 16;
        return c;
    }
    static v3::client_options client_opt() { return {}; }
    static v3::server_options server_opt() { return {}; }

    void collect() {
        while (auto t = client_.poll_datagram(out_, now_)) {
            NEUTRINO_FUZZ_CHECK(t->size <= v3::max_datagram_size);
            NEUTRINO_FUZZ_CHECK(t->to == v3_server_addr);
            c2s_.push_back({bytes(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(t->size)), t->to});
        }
        while (auto t = server_.poll_datagram(out_, now_)) {
            NEUTRINO_FUZZ_CHECK(t->size <= v3::max_datagram_size);
            s2c_.push_back({bytes(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(t->size)), t->to});
        }
    }

    dialect variant_;
    v3_client client_;
    v3_server server_;
    time_point now_ = time_point{} + std::chrono::hours(1);
    time_point last_keep_alive_ = now_;
    std::deque<queued> c2s_, s2c_;
    std::array<std::byte, 2048> out_{};  // larger than any datagram, so an oversize one shows
};

pair& pair_of(std::uint8_t b) {
    static std::array<std::unique_ptr<pair>, 3> pairs = [] {
        std::array<std::unique_ptr<pair>, 3> p;
        p[0] = std::make_unique<pair>(basic_dialect, 31);
        p[1] = std::make_unique<pair>(neutrino::test::layered_dialect, 41);
        p[2] = std::make_unique<pair>(neutrino::test::raw_dialect, 51);
        return p;
    }();
    return *pairs[b % 3];
}

/// The client or server seals one fresh packet of the kind `kind`; returns what it queued.
std::vector<bytes> seal_fresh(pair& p, bool c2s, unsigned kind, reader& in, std::vector<bytes>& store) {
    const time_point now = p.now();
    const std::uint64_t id = p.client().session_id();
    // REQUEST_RETRANSMISSION exists only in the layered variants, raw DATA only in Extended:
    // elsewhere an authentic one is a violation that closes the session (operation 7's job)
    if ((kind & 3) == 2 && !p.layered_variant()) kind = 0;
    if ((kind & 3) == 3 && !p.kind().raw_data) kind = 0;
    switch (kind & 3) {
        case 0: {
            const auto words = words_from(in, store);
            if (c2s) {
                (void)p.client().send(words, now);
            } else {
                (void)p.server().send(id, words, now);
            }
            break;
        }
        case 1: {
            std::array<std::byte, 8> t{}, a{};
            const std::array<word, 2> ka{word(t), word(a)};
            const word_list words = p.layered_variant() ? word_list(ka) : word_list();
            if (c2s) {
                (void)p.client().send_packet(packet_type::keep_alive, words, now);
            } else {
                (void)p.server().send_packet(id, packet_type::keep_alive, words, now);
            }
            break;
        }
        case 2:
            if (c2s) {
                (void)p.client().send_request(in.u16(), now);
            } else {
                (void)p.server().send_request(id, in.u16(), now);
            }
            break;
        case 3: {
            // a raw Extended fragment (keyword ≥ 1), never empty: a 42-byte datagram is below
            // the 43-byte minimum every receiver enforces (§3.2)
            const std::uint32_t keyword = 1U + (in.u8() & 3U);
            bytes payload = in.take(in.u8());
            if (payload.empty()) payload.push_back(std::byte{0});
            if (c2s) {
                (void)p.client().send_encoded(keyword, payload, now);
            } else {
                (void)p.server().send_encoded(id, keyword, payload, now);
            }
            break;
        }
        default: break;
    }
    return c2s ? p.take_c2s() : p.take_s2c();
}

const peer_address& server_source(std::uint8_t b) {
    return (b & 1) ? v3_server_addr : addrs[(b >> 1) % 4];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    reader in(data, size);
    pair& p = pair_of(in.u8());
    p.establish();
    std::vector<bytes> store;
    for (int step = 0; step < 64 && !in.empty(); ++step) {
        const std::uint8_t op = in.u8();
        bool may_close = false;
        switch (op % 8) {
            case 0: {
                const bytes d = in.take(in.u16() % 1401);
                (void)p.feed_server(d, addrs[in.u8() % 4], nullptr);
                break;
            }
            case 1: {
                const bytes d = in.take(in.u16() % 1401);
                (void)p.feed_client(d, server_source(in.u8()), nullptr);
                break;
            }
            case 2:
            case 3: {
                const bool c2s = op % 8 == 2;
                for (const bytes& genuine : seal_fresh(p, c2s, op >> 3, in, store)) {
                    bytes d = genuine;
                    mutate(d, in);
                    const std::uint8_t src = in.u8();
                    bool accepted = c2s ? p.feed_server(d, addrs[src % 4], &genuine)
                                        : p.feed_client(d, server_source(src), &genuine);
                    if (!accepted) {
                        accepted = c2s ? p.feed_server(genuine, v3_client_addr, &genuine)
                                       : p.feed_client(genuine, v3_server_addr, &genuine);
                    }
                    if (accepted) pair::remember(c2s ? p.c2s_history : p.s2c_history, genuine);
                }
                break;
            }
            case 4: {
                const bool c2s = (op & 0x80) == 0;
                auto& h = c2s ? p.c2s_history : p.s2c_history;
                if (h.empty()) break;
                bytes d = h[in.u8() % h.size()];
                mutate(d, in);
                if (c2s) {
                    (void)p.feed_server(d, addrs[in.u8() % 4], nullptr);
                } else {
                    (void)p.feed_client(d, server_source(in.u8()), nullptr);
                }
                break;
            }
            case 5: p.advance(delay_from(in.u8())); break;
            case 6:
                // Only when both sides have received a packet in the common phase: §11.2's
                // condition 1 (s == r) alone does not prove that the peer's *receive* side has
                // reached s when the peer initiated s itself; the spec relies on condition 2
                // (10 s) for that, which update_keys() skips. Calling it earlier can desynchronise
                // the session (a finding of this target, see the commit message).
                if (!p.phases_settled()) break;
                if (op & 0x80) {
                    (void)p.server().update_keys(p.client().session_id(), p.now());
                } else {
                    (void)p.client().update_keys(p.now());
                }
                break;
            case 7: {
                may_close = true;
                const std::uint64_t id = p.client().session_id();
                const bool c2s = (op & 0x80) == 0;
                if (op & 0x40) {
                    const std::uint32_t keyword = in.u8() < 0x80 ? 0U : in.u8();
                    const bytes payload = in.take(in.u16() % 1300);
                    if (c2s) {
                        (void)p.client().send_encoded(keyword, payload, p.now());
                    } else {
                        (void)p.server().send_encoded(id, keyword, payload, p.now());
                    }
                } else {
                    const auto type = static_cast<packet_type>(in.u8() & 0x7f);
                    const auto words = words_from(in, store);
                    if (c2s) {
                        (void)p.client().send_packet(type, words, p.now());
                    } else {
                        (void)p.server().send_packet(id, type, words, p.now());
                    }
                }
                break;
            }
            default: break;
        }
        p.pump();
        if (may_close) {
            p.establish();
        } else {
            p.check_established();
        }
    }
    p.pump();
    p.check_established();
    return 0;
}
