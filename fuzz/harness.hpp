#pragma once
// Shared by fuzz_server.cpp and fuzz_client.cpp: a real client and a real server on virtual
// time, wired together by an in-harness router that the fuzz input steers (deliver, hold,
// mutate, replay, inject), with the invariants both machines must keep on every call:
//  - no datagram out is larger than 1280 bytes;
//  - a rejected datagram changes nothing: no datagram, no event, same session count/state;
//  - an accepted datagram triggers at most one datagram, never larger than itself (both
//    machines pad to the same minimum, so a KEEP_ALIVE answer is as large as the KEEP_ALIVE
//    and HELLO2 is at most the 1280-byte HELLO1);
//  - session and pending counts stay within the server's configured limits.
// Event word views are read in full, so ASan checks they point into live memory.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <optional>
#include <span>
#include <vector>

#include "neutrino/core/client.hpp"
#include "neutrino/core/crypto.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/core/wire_v2.hpp"
#include "neutrino/random.hpp"

namespace neutrino::fuzz {

using namespace neutrino::core;
using server_type = basic_server<wire::v2, null_observer, seeded_random>;
using client_type = basic_client<wire::v2, null_observer, seeded_random>;
using bytes = std::vector<std::byte>;

#define NEUTRINO_FUZZ_CHECK(cond) \
    do {                          \
        if (!(cond)) __builtin_trap(); \
    } while (0)

/// Reads the fuzz input front to back; past the end every read gives zeros.
class reader {
public:
    reader(const std::uint8_t* p, std::size_t n) noexcept : p_(p), n_(n) {}
    [[nodiscard]] bool empty() const noexcept { return n_ == 0; }
    std::uint8_t u8() noexcept {
        if (n_ == 0) return 0;
        --n_;
        return *p_++;
    }
    std::uint16_t u16() noexcept {
        const auto lo = u8();
        return static_cast<std::uint16_t>(lo | (u8() << 8));
    }
    std::uint64_t u64() noexcept {
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v |= std::uint64_t{u8()} << (8 * i);
        return v;
    }
    /// Up to `n` bytes (fewer when the input ends).
    bytes take(std::size_t n) {
        n = std::min(n, n_);
        bytes b(n);
        if (n != 0) std::memcpy(b.data(), p_, n);
        p_ += n;
        n_ -= n;
        return b;
    }

private:
    const std::uint8_t* p_;
    std::size_t n_;
};

inline const keypair& server_keys() {
    static const keypair k = [] {
        auto r = keypair_from_hex(example_public_key_hex, example_secret_key_hex);
        if (!r) __builtin_trap();
        return *r;
    }();
    return k;
}

inline const peer_address server_addr = peer_address::v4({10, 0, 0, 100}, 22753);
/// The four client-side addresses: the client's own, same host other port, another host, v6.
inline const std::array<peer_address, 4> addrs = {
    peer_address::v4({10, 0, 0, 1}, 40000), peer_address::v4({10, 0, 0, 1}, 40001),
    peer_address::v4({10, 0, 0, 2}, 40000),
    peer_address::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 40000)};

struct datagram {
    bytes wire;
    peer_address peer;  // destination when queued, source when delivered
};

/// Reads every word of an event, so a dangling view is an ASan report.
inline void touch(const event& e) {
    volatile std::uint8_t sink = 0;
    std::size_t n = 0;
    for (word w : e.words) {
        for (std::byte b : w) sink = static_cast<std::uint8_t>(sink ^ std::to_integer<std::uint8_t>(b));
        ++n;
    }
    NEUTRINO_FUZZ_CHECK(n == e.words.size());
    (void)sink;
}

class world {
public:
    static constexpr std::size_t history_size = 16;

    /// `config_byte` picks the padding and the limits, so each is fuzzed.
    explicit world(std::uint8_t config_byte)
        : server_(make_server_config(config_byte), {}, seeded_random(1)),
          client_(make_client_config(config_byte), {}, seeded_random(2)) {}

    server_type& server() noexcept { return server_; }
    client_type& client() noexcept { return client_; }
    time_point now() const noexcept { return now_; }
    bool deliver_c2s = true;
    bool deliver_s2c = true;
    std::deque<bytes> c2s_history, s2c_history;

    /// Runs a genuine handshake; afterwards the client is established with the server.
    void handshake() {
        NEUTRINO_FUZZ_CHECK(client_.connect(now_));
        pump();
        NEUTRINO_FUZZ_CHECK(client_.established());
        NEUTRINO_FUZZ_CHECK(server_.session_count() == 1);
        NEUTRINO_FUZZ_CHECK(server_.state_of(client_.session_id()) == session_state::established);
    }

    /// Feeds one datagram to the server and checks the invariants around it.
    void feed_server(std::span<const std::byte> in, const peer_address& from) {
        collect_server();
        drain_events(server_);  // events of earlier calls (drop_session, timers) are not this call's
        const std::size_t sessions = server_.session_count();
        const std::size_t pending = server_.pending_count();
        auto r = server_.handle_datagram(in, from, now_);
        const std::size_t events = drain_events(server_);
        const std::size_t before = s2c_.size();
        collect_server();
        check_reply(r.has_value(), in.size(), before, s2c_, events);
        if (!r) {
            NEUTRINO_FUZZ_CHECK(server_.session_count() == sessions);
            NEUTRINO_FUZZ_CHECK(server_.pending_count() == pending);
        }
        check_limits();
    }

    /// Feeds one datagram to the client and checks the invariants around it.
    void feed_client(std::span<const std::byte> in, const peer_address& from) {
        collect_client();
        drain_events(client_);
        const session_state state = client_.state();
        const std::uint64_t id = client_.session_id();
        auto r = client_.handle_datagram(in, from, now_);
        const std::size_t events = drain_events(client_);
        const std::size_t before = c2s_.size();
        collect_client();
        check_reply(r.has_value(), in.size(), before, c2s_, events);
        if (!r) {
            NEUTRINO_FUZZ_CHECK(client_.state() == state);
            NEUTRINO_FUZZ_CHECK(client_.session_id() == id);
        }
    }

    /// Moves datagrams between the machines until both are quiet (bounded).
    void pump() {
        for (int round = 0; round < 32; ++round) {
            collect_client();
            collect_server();
            if (c2s_.empty() && s2c_.empty()) return;
            while (!c2s_.empty()) {
                datagram d = std::move(c2s_.front());
                c2s_.pop_front();
                remember(c2s_history, d.wire);
                if (deliver_c2s) feed_server(d.wire, client_addr);
            }
            while (!s2c_.empty()) {
                datagram d = std::move(s2c_.front());
                s2c_.pop_front();
                remember(s2c_history, d.wire);
                if (deliver_s2c && is_client_side(d.peer)) feed_client(d.wire, server_addr);
            }
        }
    }

    /// Advances virtual time by `by`, stopping at every deadline on the way like a driver.
    void advance(std::chrono::milliseconds by) {
        const time_point target = now_ + by;
        for (int i = 0; i < 64; ++i) {
            time_point next = target;
            if (auto d = server_.deadline()) next = std::min(next, *d);
            if (auto d = client_.deadline()) next = std::min(next, *d);
            if (next > now_) now_ = next;
            if (auto d = server_.deadline(); d && *d <= now_) server_.handle_deadline(now_);
            if (auto d = client_.deadline(); d && *d <= now_) client_.handle_deadline(now_);
            drain_events(server_);
            drain_events(client_);
            pump();
            check_limits();
            if (now_ >= target) break;
        }
        now_ = std::max(now_, target);
    }

    /// The client's next datagram(s), taken out of its queue instead of being delivered.
    std::vector<bytes> take_client_output() {
        collect_client();
        std::vector<bytes> v;
        for (auto& d : c2s_) v.push_back(std::move(d.wire));
        c2s_.clear();
        for (const auto& w : v) remember(c2s_history, w);
        return v;
    }
    /// The server's queued datagrams for the client, taken out instead of being delivered.
    std::vector<bytes> take_server_output() {
        collect_server();
        std::vector<bytes> v;
        std::deque<datagram> rest;
        for (auto& d : s2c_) {
            if (is_client_side(d.peer)) {
                v.push_back(std::move(d.wire));
            } else {
                rest.push_back(std::move(d));
            }
        }
        s2c_ = std::move(rest);
        for (const auto& w : v) remember(s2c_history, w);
        return v;
    }

    peer_address client_addr = addrs[0];

private:
    static server_config make_server_config(std::uint8_t b) {
        server_config c;
        c.keys = server_keys();
        c.min_datagram_size = padding(b);
        c.max_sessions = 1 + (b >> 2 & 7);
        c.max_sessions_per_host = 1 + (b >> 5 & 3);
        c.max_pending = 1 + (b >> 3 & 3);
        c.hello_rate = 10;
        c.hello_burst = 4;
        c.send_queue_capacity = 8;
        c.event_queue_capacity = 8;
        return c;
    }
    static client_config make_client_config(std::uint8_t b) {
        client_config c;
        c.server_key = server_keys().pk;
        c.server = server_addr;
        c.min_datagram_size = padding(b);
        c.send_queue_capacity = 4;
        c.event_queue_capacity = 4;
        return c;
    }
    static std::size_t padding(std::uint8_t b) {
        static constexpr std::array<std::size_t, 4> p = {0, 0, 200, max_datagram_size};
        return p[b & 3];
    }
    static bool is_client_side(const peer_address& a) {
        for (const auto& x : addrs) {
            if (x == a) return true;
        }
        return false;
    }
    static void remember(std::deque<bytes>& h, const bytes& w) {
        h.push_back(w);
        if (h.size() > history_size) h.pop_front();
    }

    template <class Machine>
    static std::size_t drain_events(Machine& m) {
        std::size_t n = 0;
        while (auto e = m.poll_event()) {
            touch(*e);
            ++n;
        }
        return n;
    }

    void collect_server() {
        while (auto t = server_.poll_datagram(out_, now_)) {
            NEUTRINO_FUZZ_CHECK(t->size <= max_datagram_size);
            s2c_.push_back({bytes(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(t->size)), t->to});
        }
    }
    void collect_client() {
        while (auto t = client_.poll_datagram(out_, now_)) {
            NEUTRINO_FUZZ_CHECK(t->size <= max_datagram_size);
            NEUTRINO_FUZZ_CHECK(t->to == server_addr);
            c2s_.push_back({bytes(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(t->size)), t->to});
        }
    }
    static void check_reply(bool accepted, std::size_t in_size, std::size_t before,
                            const std::deque<datagram>& q, std::size_t events) {
        const std::size_t replies = q.size() - before;
        if (!accepted) {
            NEUTRINO_FUZZ_CHECK(replies == 0);
            NEUTRINO_FUZZ_CHECK(events == 0);
            return;
        }
        NEUTRINO_FUZZ_CHECK(replies <= 1);
        if (replies == 1) NEUTRINO_FUZZ_CHECK(q.back().wire.size() <= in_size);
    }
    void check_limits() const {
        const auto& c = server_.configuration();
        NEUTRINO_FUZZ_CHECK(server_.session_count() <= c.max_sessions);
        NEUTRINO_FUZZ_CHECK(server_.pending_count() <= c.max_pending);
        NEUTRINO_FUZZ_CHECK(server_.pending_count() <= server_.session_count());
    }

    server_type server_;
    client_type client_;
    time_point now_ = time_point{} + std::chrono::hours(1);
    std::deque<datagram> c2s_, s2c_;
    std::array<std::byte, 2048> out_{};  // larger than any datagram, so an oversize one shows
};

/// Applies up to 4 edits chosen by the input: set or xor a byte, truncate, or extend.
inline void mutate(bytes& w, reader& in) {
    const std::uint8_t n = in.u8() & 3;
    for (std::uint8_t i = 0; i < n && !w.empty(); ++i) {
        const std::uint8_t mode = in.u8();
        const std::size_t pos = in.u16() % w.size();
        const std::uint8_t v = in.u8();
        switch (mode & 3) {
            case 0: w[pos] = std::byte{v}; break;
            case 1: w[pos] ^= std::byte{static_cast<std::uint8_t>(v | 1)}; break;
            case 2: w.resize(pos); break;
            case 3: w.resize(std::min<std::size_t>(w.size() + v, 1400), std::byte{v}); break;
        }
    }
}

/// Up to 3 words of up to 31 bytes from the input (backed by `store`).
inline std::vector<word> words_from(reader& in, std::vector<bytes>& store) {
    const std::size_t count = in.u8() % 4;
    store.clear();
    store.reserve(count);
    for (std::size_t i = 0; i < count; ++i) store.push_back(in.take(in.u8() % 32));
    return {store.begin(), store.end()};
}

inline std::chrono::milliseconds delay_from(std::uint8_t b) {
    return std::chrono::milliseconds(b & 0x80 ? (b & 0x7f) * 64 : b);
}

}  // namespace neutrino::fuzz
