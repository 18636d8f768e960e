#pragma once
/// \file
/// `basic_server`: the server side of Neutrino basic as a sans-IO machine. Many sessions on one
/// socket, demultiplexed by session id; HELLO1 is the only packet looked up by address.
/// spec: neutrino.md §9.2, §10.2, §10.4, §11.3, §18.1

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <optional>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "neutrino/core/connection_layer.hpp"
#include "neutrino/core/crypto.hpp"
#include "neutrino/core/detail/datagram_queue.hpp"
#include "neutrino/core/detail/server_base.hpp"
#include "neutrino/core/detail/session_core.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/core/observer.hpp"
#include "neutrino/core/server_config.hpp"
#include "neutrino/core/stats.hpp"
#include "neutrino/core/wire_v2.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/random.hpp"

namespace neutrino::core {

/// The server machine of wire v2: `detail::server_base` (shared with v3) plus v2's
/// handshake, packet protection and layer-driven address validation. Not thread-safe: one
/// owner calls it.
template <class Wire = wire::v2, class Observer = null_observer, class Random = system_random>
class basic_server
    : public detail::server_base<basic_server<Wire, Observer, Random>, detail::session_core,
                                 core::stats, Observer, Random> {
    using base = detail::server_base<basic_server, detail::session_core, core::stats, Observer,
                                     Random>;
    friend base;

public:
    using wire_type = Wire;
    using typename base::config;

    explicit basic_server(config cfg, Observer observer = {}, Random random = {})
        : base(std::move(cfg), std::move(observer), std::move(random)),
          hello_tokens_(cfg_.hello_burst) {
        ensure_sodium();
        sessions_.reserve(std::min<std::size_t>(cfg_.max_sessions, 1024));
    }

    // --- for the layer above (a layered dialect) --------------------------------------------

    /// Seals and queues a numbered packet (KEEP_ALIVE with the layer's words, DATA) to an
    /// established session; returns its packet number. Errors: as `send`.
    result<std::uint64_t> send_packet(std::uint64_t session_id, packet_type type, word_list words,
                                      time_point now) {
        auto s = this->established(session_id);
        if (!s) return tl::unexpected(s.error());
        const std::uint64_t pn = (*s)->next_pn;
        auto r = send_new(**s, type, words, now);
        if (!r) return tl::unexpected(r.error());
        return pn;
    }

    /// As `send_packet` for DATA whose payload is already encoded (Extended), with its keyword.
    result<std::uint64_t> send_encoded(std::uint64_t session_id, std::uint32_t keyword,
                                       std::span<const std::byte> payload, time_point now) {
        auto s = this->established(session_id);
        if (!s) return tl::unexpected(s.error());
        const std::uint64_t pn = (*s)->next_pn;
        detail::outgoing o{packet_type::data, pn, keyword, {}, payload, true, true};
        if (auto r = queue(**s, o, now); !r) return tl::unexpected(r.error());
        return pn;
    }

    /// Seals a packet again under a number the session already used (see basic_client::reseal),
    /// to the session's address or (`to_candidate`, within its 3× budget) to its candidate.
    result<void> reseal(std::uint64_t session_id, std::uint64_t pn, packet_type type,
                        word_list words, time_point now, bool to_candidate = false) {
        auto s = this->established(session_id);
        if (!s) return tl::unexpected(s.error());
        if (pn >= (*s)->next_pn || Wire::is_unnumbered(pn)) return fail(errc::protocol_violation);
        detail::outgoing o{type, pn, 0, words, {}, false, false};
        o.to = to_candidate ? detail::destination::candidate : detail::destination::peer;
        return queue(**s, o, now);
    }

    /// wire v2 address validation (see event_kind::path_candidate): seals a new numbered packet
    /// to the session's candidate address, within the 3× budget; returns its number. Errors:
    /// not_connected (no candidate), amplification_limited, and those of `send_packet`.
    result<std::uint64_t> send_probe(std::uint64_t session_id, packet_type type, word_list words,
                                     time_point now) {
        auto s = this->established(session_id);
        if (!s) return tl::unexpected(s.error());
        if (!(*s)->candidate) return fail(errc::not_connected);
        const std::uint64_t pn = (*s)->next_pn;
        detail::outgoing o{type, pn, 0, words, {}, false, true};
        o.to = detail::destination::candidate;
        if (auto r = queue(**s, o, now); !r) return tl::unexpected(r.error());
        return pn;
    }

    /// The layer above proved that the peer receives at the candidate address (it acknowledged
    /// a probe sent only there): the session moves there (address_changed).
    result<void> validate_path(std::uint64_t session_id, time_point now) {
        auto s = this->established(session_id);
        if (!s) return tl::unexpected(s.error());
        detail::session_core& c = **s;
        if (!c.candidate) return fail(errc::not_connected);
        const peer_address old = c.peer;
        move_host(old, c.candidate->addr);
        c.peer = c.candidate->addr;
        c.candidate.reset();
        c.expiry = now + cfg_.timers.established_timeout;
        ++io_.stats.path_validations;
        event e = event::make(event_kind::address_changed, c.id, c.peer);
        e.old_peer = old;
        this->push_event(e);
        return {};
    }

    /// Queues a datagram sealed earlier, byte for byte, to the session's current address or
    /// (`to_candidate`, within its 3× budget) to its candidate.
    result<void> resend(std::uint64_t session_id, std::span<const std::byte> datagram,
                        std::uint64_t pn, time_point now, bool to_candidate = false) {
        auto s = this->established(session_id);
        if (!s) return tl::unexpected(s.error());
        const auto to = to_candidate ? detail::destination::candidate : detail::destination::peer;
        auto r = detail::queue_copy(io_.tx, **s, datagram, to);
        if (r) {
            report_retransmission(io_.observer, detail::resent_info(role::server, **s, datagram, pn, to), now);
        } else if (r.error() == make_error_code(errc::amplification_limited)) {
            refused_amplification(**s, now);
        }
        return r;
    }

private:
    using base::cfg_;
    using base::io_;
    using base::pending_;
    using base::random_;
    using base::sessions_;
    using typename base::session_map;

    // --- hooks of detail::server_base ---------------------------------------------------------

    static constexpr duration scan_interval = std::chrono::milliseconds(100);  // spec: neutrino.md §3.4
    static detail::session_core& record(detail::session_core& s) noexcept { return s; }
    static const detail::session_core& record(const detail::session_core& s) noexcept { return s; }

    result<void> send_request_word(detail::session_core& s, const word& w, time_point now) {
        return queue(s,
                     detail::outgoing{packet_type::request_retransmission, packet_number_none, 0,
                                      {&w, 1}, {}, false, false},
                     now);
    }

    /// spec: neutrino.md §11.3: a SHUTDOWN that does not fit now is sealed as the queue drains
    void send_shutdown(detail::session_core& s, time_point now) {
        if (io_.tx.full()) {
            shutdown_backlog_.push_back(s);
            return;
        }
        (void)send_new(s, packet_type::server_shutdown, {}, now);
    }

    /// The sessions are gone: sealed under their next number, but reported to no layer above
    /// (a packet_sent event would name a session the layer above already closed).
    void flush_backlog(time_point now) {
        while (!shutdown_backlog_.empty() && !io_.tx.full()) {
            detail::session_core& s = shutdown_backlog_.back();
            (void)queue(s, detail::outgoing{packet_type::server_shutdown, s.next_pn, 0, {}, {}, false, false},
                        now);
            shutdown_backlog_.pop_back();
            if (shutdown_backlog_.empty()) shutdown_backlog_.shrink_to_fit();
        }
    }

    std::error_code expiry_reason(detail::session_core& s, time_point now) {
        // the validated address fell silent while another spoke for the session
        if (!s.candidate) return make_error_code(errc::timed_out);
        abandon_candidate(s, now);
        return make_error_code(errc::path_not_validated);
    }

    static time_point serve_timers(const detail::session_core& s, time_point) noexcept { return s.expiry; }

    void on_remove(const detail::session_core& s) {
        auto h = hosts_.find(this->host_key(s.peer));
        if (h != hosts_.end() && --h->second == 0) hosts_.erase(h);
    }

    result<void> receive(std::span<const std::byte> in, const peer_address& from, time_point now) {
        auto h = detail::check_header<Wire>(in, cfg_.dialect);
        if (!h) return tl::unexpected(h.error());
        const auto type = static_cast<packet_type>(h->type);
        // spec: neutrino.md §18.1 item 1: session id 2 only for CLIENT_HELLO1, and HELLO1 only
        // with session id 2
        if (h->session_id == session_id_pending) {
            if (type != packet_type::client_hello1) return fail(errc::bad_session_id);
            return receive_hello1(in, from, now);
        }
        if (type == packet_type::client_hello1) return fail(errc::bad_session_id);

        auto it = sessions_.find(h->session_id);
        if (it == sessions_.end()) return fail(errc::unknown_session);
        detail::session_core& s = it->second;
        auto o = detail::open_words<Wire>(in, *h, s, rx_, cfg_.dialect);
        if (!o) return tl::unexpected(o.error());
        const opened_packet& p = o->packet;
        const words_view& words = o->words;
        if (type == packet_type::request_retransmission) {
            // spec: neutrino.md §6.7, §18.1 items 4-5: unnumbered, so no replay check by number:
            // it changes no state (no expiry refresh, never a migration); the layer above
            // answers it, to the session's current address only.
            if (!Wire::is_unnumbered(p.packet_number)) return fail(errc::bad_shape);
            if (s.state != session_state::established) return fail(errc::unexpected_packet);
            const bool from_candidate = !(from == s.peer);
            if (from_candidate && !(s.candidate && from == s.candidate->addr)) {
                return fail(errc::wrong_peer);  // never answered to an address of no standing
            }
            if (from_candidate) s.candidate->received += in.size();
            accept(p, words, from, now);
            report_packet(s, p, words, from_candidate);
            return {};
        }
        auto fresh = detail::check_number<Wire>(s, p.packet_number,
                                                [this](const event& e) { this->push_event(e); });
        if (!fresh) return fresh;

        if (s.state == session_state::pending) {
            // spec: neutrino.md §10.2: PENDING accepts HELLO3 only
            if (type != packet_type::client_hello3) return fail(errc::unexpected_packet);
            if (!(from == s.peer)) return fail(errc::wrong_peer);
            s.window.reset(p.packet_number);
            --pending_;
            this->set_state(s, session_state::established, now);
            s.expiry = now + cfg_.timers.established_timeout;
            accept(p, words, from, now);
            report_packet(s, p, words);
            this->push_event(event::make(event_kind::established, s.id, from));
            return {};
        }

        // established
        switch (type) {
            case packet_type::keep_alive:
            case packet_type::data:
            case packet_type::client_good_bye: break;
            default: return fail(errc::unexpected_packet);
        }
        const bool newest = p.packet_number > s.window.highest();
        s.window.commit(p.packet_number);
        accept(p, words, from, now);
        const bool from_candidate = note_path(s, from, in.size(), newest, now);
        if (cfg_.dialect.layered && type != packet_type::client_good_bye) {
            report_packet(s, p, words, from_candidate);  // the layer above answers KEEP_ALIVE, orders DATA
            return {};
        }
        switch (type) {
            case packet_type::keep_alive:
                // spec: neutrino.md §6.4: answer every KEEP_ALIVE with one KEEP_ALIVE
                (void)send_new(s, packet_type::keep_alive, {}, now);
                break;
            case packet_type::data:
                this->push_event(event::data(s.id, from, words, p.packet_number, p.keyword));
                break;
            case packet_type::client_good_bye:
                this->remove(it, make_error_code(errc::closed), now);
                break;
            default: break;
        }
        return {};
    }

    result<void> receive_hello1(std::span<const std::byte> in, const peer_address& from,
                                time_point now) {
        auto client_pk = Wire::read_hello1(in);
        if (!client_pk) return tl::unexpected(client_pk.error());
        // spec: neutrino.md §18.1 item 8: limits before any key agreement
        if (sessions_.size() >= cfg_.max_sessions) return fail(errc::session_limit);
        if (pending_ >= cfg_.max_pending) return fail(errc::session_limit);
        if (host_count(from) >= cfg_.max_sessions_per_host) return fail(errc::session_limit);
        if (io_.tx.full()) return fail(errc::would_block);
        // v2 session keys depend only on the client's key and ours: a replayed HELLO1 would
        // recreate the session's keys, and its recorded packets would be accepted again.
        const std::uint64_t fingerprint = neutrino::load_le<std::uint64_t>(client_pk->data());
        if (seen_keys_.contains(fingerprint)) return fail(errc::replayed);
        if (!take_hello_token(now)) return fail(errc::rate_limited);
        auto keys = server_session_keys(cfg_.keys, *client_pk);
        if (!keys) return tl::unexpected(keys.error());  // spec: neutrino.md §18.1 item 9
        if (cfg_.accept && !cfg_.accept(from)) return fail(errc::refused);
        remember_key(fingerprint);

        const std::uint64_t id = this->fresh_session_id();
        detail::session_core s;
        s.id = id;
        s.keys = std::move(*keys);
        s.next_pn = Wire::first_packet_number(random_);
        s.peer = from;
        s.expiry = now + cfg_.timers.pending_timeout;
        auto [it, inserted] = sessions_.emplace(id, std::move(s));
        ++pending_;
        ++hosts_[this->host_key(from)];
        this->arm(it->second.expiry);
        ++io_.stats.packets_accepted;
        {
            auto words = words_view::parse(in.subspan(total_header_size));
            packet_info info{role::server, packet_type::client_hello1, session_id_pending,
                             packet_number_pending, 0, *words, {}, in, from};
            io_.observer.on_packet_received(info, now);
        }
        this->set_state(it->second, session_state::pending, now);
        report_session_keys(io_.observer, id, role::server, it->second.keys, now);
        (void)send_new(it->second, packet_type::server_hello2, {}, now);
        return {};
    }

    void report_packet(const detail::session_core& s, const opened_packet& p, const words_view& words,
                       bool from_candidate = false) {
        if (!cfg_.dialect.layered) return;
        event e = event::data(s.id, s.peer, words, p.packet_number, p.keyword);
        e.kind = event_kind::packet_received;
        e.type = p.type;
        e.payload = p.payload;
        e.from_candidate = from_candidate;
        this->push_event(e);
    }

    /// The address rules for an accepted packet of an established session; returns whether it
    /// came from the candidate (a new one included). Only the validated address refreshes the session's expiry. A
    /// newest packet from a new address makes it the candidate (replies keep going to the
    /// validated address until the layer above validates it); a newest packet from the
    /// validated address ends a candidacy: the peer is still there.
    /// spec: neutrino.md §18.1 item 4 (migrate only on the newest packet) and RFC 9000 §9
    bool note_path(detail::session_core& s, const peer_address& from, std::size_t size, bool newest,
                   time_point now) {
        if (from == s.peer) {
            s.expiry = now + cfg_.timers.established_timeout;
            if (newest && s.candidate) abandon_candidate(s, now);
            return false;
        }
        if (s.candidate && from == s.candidate->addr) {
            s.candidate->received += size;
            return true;
        }
        if (!newest) return false;  // an older packet from a third address: accepted, no standing
        if (s.candidate) abandon_candidate(s, now);
        s.candidate = detail::path_candidate{from, size, 0};
        event e = event::make(event_kind::path_candidate, s.id, from);
        e.old_peer = s.peer;
        this->push_event(e);
        return true;
    }

    void abandon_candidate(detail::session_core& s, time_point now) {
        ++io_.stats.migrations_refused;
        report_refusal_to(io_.observer, s.id, role::server, refusal::migration, s.candidate->addr, now);
        s.candidate.reset();
    }

    void refused_amplification(const detail::session_core& s, time_point now) {
        ++io_.stats.amplification_blocked;
        report_refusal_to(io_.observer, s.id, role::server, refusal::amplification_budget,
                          s.candidate ? s.candidate->addr : s.peer, now);
    }

    void accept(const opened_packet& p, const words_view& words, const peer_address& from,
                time_point now) {
        ++io_.stats.packets_accepted;
        packet_info info{role::server, p.type, p.session_id, p.packet_number, p.keyword, words,
                         {}, p.plaintext, from};
        io_.observer.on_packet_received(info, now);
    }

    /// Seals a new numbered packet for `s` with `words`.
    result<void> send_new(detail::session_core& s, packet_type type, word_list words, time_point now) {
        return queue(s, detail::outgoing{type, s.next_pn, 0, words, {}, false, true}, now);
    }

    result<void> queue(detail::session_core& s, const detail::outgoing& o, time_point now) {
        auto r = detail::queue_packet<Wire>(io_.tx, s, o, role::server, cfg_.dialect,
                                            cfg_.min_datagram_size, random_, io_.observer,
                                            [this](const event& e) { this->push_event(e); }, now);
        if (!r && r.error() == make_error_code(errc::amplification_limited)) refused_amplification(s, now);
        return r;
    }

    void move_host(const peer_address& from, const peer_address& to) {
        if (from.same_host(to)) return;
        auto h = hosts_.find(this->host_key(from));
        if (h != hosts_.end() && --h->second == 0) hosts_.erase(h);
        ++hosts_[this->host_key(to)];
    }

    [[nodiscard]] std::size_t host_count(const peer_address& a) const noexcept {
        auto h = hosts_.find(this->host_key(a));
        return h == hosts_.end() ? 0 : h->second;
    }

    // A FIFO-bounded set of client key fingerprints (first 8 bytes of the public key).
    void remember_key(std::uint64_t fingerprint) {
        if (cfg_.hello_replay_cache == 0) return;
        if (seen_order_.size() == cfg_.hello_replay_cache) {
            seen_keys_.erase(seen_order_[seen_next_]);
            seen_order_[seen_next_] = fingerprint;
            seen_next_ = (seen_next_ + 1) % seen_order_.size();
        } else {
            seen_order_.push_back(fingerprint);
        }
        seen_keys_.insert(fingerprint);
    }

    bool take_hello_token(time_point now) noexcept {
        // token bucket: hello_rate per second, depth hello_burst
        if (cfg_.hello_rate == 0) return false;
        const auto per_token =
            std::chrono::nanoseconds(std::max<std::uint32_t>(1, 1'000'000'000U / cfg_.hello_rate));
        if (now > hello_refill_) {
            const auto elapsed = now - hello_refill_;
            const auto add = static_cast<std::uint64_t>(elapsed / per_token);
            if (add > 0) {
                hello_tokens_ = static_cast<std::uint32_t>(
                    std::min<std::uint64_t>(cfg_.hello_burst, hello_tokens_ + add));
                hello_refill_ = add >= cfg_.hello_burst
                                    ? now
                                    : hello_refill_ + static_cast<std::int64_t>(add) * per_token;
            }
        }
        if (hello_tokens_ == 0) return false;
        --hello_tokens_;
        return true;
    }

    std::unordered_map<peer_address, std::size_t, peer_address_hash> hosts_;
    std::vector<detail::session_core> shutdown_backlog_;
    std::unordered_set<std::uint64_t> seen_keys_;
    std::vector<std::uint64_t> seen_order_;
    std::size_t seen_next_ = 0;
    std::array<std::byte, max_datagram_size> rx_{};
    std::uint32_t hello_tokens_;
    time_point hello_refill_{};
};

/// The server most applications use: v2 wire, no observer, OS randomness.
using server = basic_server<>;
static_assert(datagram_layer<server>);
static_assert(server_connection<server>);

}  // namespace neutrino::core
