#pragma once
// An attacker who holds a session's keys, on virtual time (issue #11).
//
// On wire v2 (and v3 with anonymous clients) anyone can open a session and so hold its keys.
// The arena models that exactly: a genuine client `a` and its twin `t` are built with the same
// seed and fed the same datagrams at the same times until `freeze()`, so they share one
// session; from then on the twin is the attacker's copy and forges authenticated packets with
// any packet number at or after its next one, sent from any address. The arena counts the
// bytes the server sends to and receives from every address, and the server's requests over
// time, so tests (and the fuzz target) can assert the amplification and request budgets.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/core/observer.hpp"
#include "neutrino/core/words.hpp"
#include "neutrino/endian.hpp"
#include "neutrino/time.hpp"

namespace neutrino::adversary {

using bytes = std::vector<std::byte>;
using namespace std::chrono_literals;

inline const peer_address genuine_address = peer_address::v4({127, 0, 0, 1}, 40000);
inline const peer_address server_address = peer_address::v4({127, 0, 0, 1}, 22753);
/// Another port of the genuine host (a spoofed source, or the client's NAT rebinding).
inline const peer_address victim_address = peer_address::v4({127, 0, 0, 1}, 40999);

/// What the server sent to and received from one address.
struct tally {
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    std::uint64_t datagrams_received = 0;
};

/// `Stack` provides: `client`, `server`, `make_client(seed)`, `make_server(seed)`,
/// `core_of(client&)` (the core machine under the client's layers), `server_core_of(server&)`,
/// `send(client&, i, now) -> bool` (message i of the genuine exchange), `is_message(event)`,
/// `reliable_stats(server&)`.
template <class Stack>
class arena {
public:
    using client_type = typename Stack::client;
    using server_type = typename Stack::server;

    explicit arena(std::uint64_t seed)
        : a_(Stack::make_client(seed)),
          t_(Stack::make_client(seed)),
          s_(Stack::make_server(seed + 1000)) {}

    client_type& genuine() { return a_; }
    client_type& twin() { return t_; }
    server_type& server() { return s_; }
    [[nodiscard]] time_point now() const { return now_; }
    [[nodiscard]] const tally& at(const peer_address& a) { return tallies_[a]; }
    [[nodiscard]] const std::unordered_map<peer_address, tally, peer_address_hash>& tallies()
        const {
        return tallies_;
    }
    /// (time, server's requests sent so far), recorded after every step.
    [[nodiscard]] const std::vector<std::pair<time_point, std::uint64_t>>& request_log() const {
        return requests_;
    }
    /// Server events seen so far (kinds), and how many application messages arrived.
    std::vector<decltype(std::declval<server_type&>().poll_event()->kind)> server_kinds;
    std::size_t messages = 0;
    std::vector<std::error_code> server_closed, client_closed;

    /// Handshake (both clients in lockstep). False if it did not complete within 5 s.
    bool connect() {
        if (!a_.connect(now_) || !t_.connect(now_)) return false;
        return run_until(
            [&] {
                return a_.established() && t_.established() &&
                       s_.state_of(a_.session_id()) == core::session_state::established;
            },
            5s);
    }

    /// From now on the twin is the attacker's: it no longer follows the genuine client.
    void freeze() { follow_ = false; }

    /// A packet of `type` with `words`, numbered `ahead` past the twin's next number (the
    /// numbers skipped are sealed and thrown away). Requires freeze().
    bytes forge(core::packet_type type, core::word_list words, std::uint64_t ahead) {
        auto& c = Stack::core_of(t_);
        std::array<std::byte, 1500> buf{};
        const std::array<std::byte, 8> zero{};
        const std::array<core::word, 2> filler{core::word(zero), core::word(zero)};
        for (std::uint64_t i = 0; i < ahead; ++i) {
            (void)c.send_packet(core::packet_type::keep_alive, filler, now_);
            while (c.poll_datagram(buf, now_)) {
            }
            while (c.poll_event()) {
            }
        }
        (void)c.send_packet(type, words, now_);
        bytes out;
        if (auto d = c.poll_datagram(buf, now_))
            out.assign(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(d->size));
        while (c.poll_event()) {
        }
        return out;
    }
    /// A forged REQUEST_RETRANSMISSION for `pn` (unnumbered).
    bytes forge_request(std::uint64_t pn) {
        auto& c = Stack::core_of(t_);
        std::array<std::byte, 1500> buf{};
        (void)c.send_request(pn, now_);
        bytes out;
        if (auto d = c.poll_datagram(buf, now_))
            out.assign(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(d->size));
        return out;
    }
    /// A reliable KEEP_ALIVE's two words: [timestamp, acknowledgement].
    core::word_list ka_words(std::uint64_t stamp, std::uint64_t ack) {
        neutrino::store_le(ka_t_.data(), stamp);
        neutrino::store_le(ka_a_.data(), ack);
        ka_[0] = core::word(ka_t_);
        ka_[1] = core::word(ka_a_);
        return ka_;
    }
    /// The twin's next packet number (the genuine client's, at freeze()).
    std::uint64_t twin_next_pn() {
        auto& c = Stack::core_of(t_);
        auto pn = c.send_packet(core::packet_type::keep_alive, ka_words(0, 0), now_);
        std::array<std::byte, 1500> buf{};
        while (c.poll_datagram(buf, now_)) {
        }
        while (c.poll_event()) {
        }
        return pn ? *pn + 1 : 0;
    }

    /// Delivers `d` to the server now, from `from`.
    void inject(const bytes& d, const peer_address& from) {
        tallies_[from].received += d.size();
        ++tallies_[from].datagrams_received;
        (void)s_.handle_datagram(d, from, now_);
        pump();
    }

    /// Runs the network and timers until `pred` holds or `max` passed (virtual).
    template <class Pred>
    bool run_until(Pred&& pred, duration max) {
        const time_point limit = now_ + max;
        pump();
        while (!pred()) {
            if (now_ >= limit) return false;
            step(limit);
        }
        return true;
    }
    void run_for(duration d) {
        (void)run_until([] { return false; }, d);
    }

    /// Drops every datagram the server sends to the genuine address (its old path died).
    bool genuine_path_dead = false;
    /// The genuine client now sends from this address (NAT rebinding).
    peer_address genuine_from = genuine_address;

private:
    struct flight {
        time_point at;
        bool to_server;
        peer_address from;
        bytes data;
    };

    void pump() {
        std::array<std::byte, 1500> buf{};
        for (;;) {
            bool any = false;
            while (auto d = a_.poll_datagram(buf, now_)) {
                any = true;
                wire_.push_back({now_ + latency, true, genuine_from,
                                 bytes(buf.begin(), buf.begin() + d->size)});
            }
            if (follow_) {
                while (t_.poll_datagram(buf, now_)) {  // identical to a's
                }
            }
            while (auto d = s_.poll_datagram(buf, now_)) {
                any = true;
                tallies_[d->to].sent += d->size;
                if (d->to == genuine_address || d->to == genuine_from) {
                    if (!(genuine_path_dead && d->to == genuine_address)) {
                        wire_.push_back({now_ + latency, false, server_address,
                                         bytes(buf.begin(), buf.begin() + d->size)});
                    }
                }
            }
            while (auto e = s_.poll_event()) {
                any = true;
                server_kinds.push_back(e->kind);
                if (Stack::is_message(*e)) ++messages;
                if (e->kind == decltype(e->kind)::closed) server_closed.push_back(e->reason);
            }
            while (auto e = a_.poll_event()) {
                any = true;
                if (e->kind == decltype(e->kind)::closed) client_closed.push_back(e->reason);
            }
            if (follow_) {
                while (t_.poll_event()) {
                }
            }
            if (!any) break;
        }
        requests_.emplace_back(now_, Stack::reliable_stats(s_).requests_sent);
    }

    void step(time_point limit) {
        std::optional<time_point> next;
        auto consider = [&](std::optional<time_point> t) {
            if (t && (!next || *t < *next)) next = t;
        };
        if (!wire_.empty()) consider(wire_.front().at);
        consider(a_.deadline());
        consider(s_.deadline());
        time_point to = next ? std::min(*next, limit) : limit;
        now_ = std::max(now_, to);
        while (!wire_.empty() && wire_.front().at <= now_) {
            flight f = std::move(wire_.front());
            wire_.pop_front();
            if (f.to_server) {
                tallies_[f.from].received += f.data.size();
                ++tallies_[f.from].datagrams_received;
                (void)s_.handle_datagram(f.data, f.from, now_);
            } else {
                (void)a_.handle_datagram(f.data, server_address, now_);
                if (follow_) (void)t_.handle_datagram(f.data, server_address, now_);
            }
        }
        if (auto d = a_.deadline(); d && *d <= now_) {
            a_.handle_deadline(now_);
            if (follow_) t_.handle_deadline(now_);
        }
        if (auto d = s_.deadline(); d && *d <= now_) s_.handle_deadline(now_);
        pump();
    }

    static constexpr duration latency = 5ms;
    client_type a_, t_;
    server_type s_;
    time_point now_ = time_point{} + std::chrono::hours(1);
    bool follow_ = true;
    std::deque<flight> wire_;
    std::unordered_map<peer_address, tally, peer_address_hash> tallies_;
    std::vector<std::pair<time_point, std::uint64_t>> requests_;
    std::array<std::byte, 8> ka_t_{}, ka_a_{};
    std::array<core::word, 2> ka_{};
};

/// Every address the server was never told is the session's: bytes sent ≤ 3× bytes received.
/// (`validated` lists the addresses that are the session's at the end.)
template <class Arena>
bool within_amplification_budget(const Arena& ar, const std::vector<peer_address>& validated) {
    for (const auto& [addr, t] : ar.tallies()) {
        if (std::find(validated.begin(), validated.end(), addr) != validated.end()) continue;
        if (t.sent > 3 * t.received) return false;
    }
    return true;
}

/// The most requests the server sent within any window of length `w`.
template <class Arena>
std::uint64_t max_requests_in_window(const Arena& ar, duration w) {
    const auto& log = ar.request_log();
    std::uint64_t best = 0;
    std::size_t j = 0;
    for (std::size_t i = 0; i < log.size(); ++i) {
        while (log[i].first - log[j].first > w) ++j;
        const std::uint64_t before = j == 0 ? 0 : log[j - 1].second;
        best = std::max(best, log[i].second - before);
    }
    return best;
}

}  // namespace neutrino::adversary
