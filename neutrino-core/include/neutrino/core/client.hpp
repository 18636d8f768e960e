#pragma once
/// \file
/// `basic_client`: the client side of Neutrino basic as a sans-IO machine. One server, one
/// session at a time; dials, keeps the session alive, redials after an expiry.
/// spec: neutrino.md §10.3, §11

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <optional>
#include <span>

#include "neutrino/core/client_config.hpp"
#include "neutrino/core/connection_layer.hpp"
#include "neutrino/core/crypto.hpp"
#include "neutrino/core/detail/datagram_queue.hpp"
#include "neutrino/core/detail/client_base.hpp"
#include "neutrino/core/detail/session_core.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/core/observer.hpp"
#include "neutrino/core/stats.hpp"
#include "neutrino/core/wire_v2.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/random.hpp"

namespace neutrino::core {

/// The client machine of wire v2: `detail::client_base` (shared with v3) plus v2's
/// handshake and packet protection. `Wire` is the wire policy, `Observer` sees every packet
/// and drop, `Random` supplies keys, nonces and packet numbers. Not thread-safe: one owner
/// calls it.
template <class Wire = wire::v2, class Observer = null_observer, class Random = system_random>
class basic_client
    : public detail::client_base<basic_client<Wire, Observer, Random>, detail::session_core,
                                       core::stats, Observer, Random> {
    using base = detail::client_base<basic_client, detail::session_core, core::stats,
                                           Observer, Random>;
    friend base;

public:
    using wire_type = Wire;
    using typename base::config;

    /// Throws `std::invalid_argument` when the server key is not a valid public key.
    explicit basic_client(config cfg, Observer observer = {}, Random random = {})
        : base(std::move(cfg), std::move(observer), std::move(random)) {
        ensure_sodium();
    }

    // --- application API -------------------------------------------------------------------

    /// Sends one DATA packet with `words`. Errors: not_connected, draining, too_many_words,
    /// word_too_large, payload_too_large (encoded words over 1214 bytes), would_block.
    result<void> send(word_list words, time_point now) {
        if (auto r = this->require_established(); !r) return r;
        return send_new(packet_type::data, words, now);
    }

    // --- for the layer above (a layered dialect) --------------------------------------------

    /// Seals and queues a numbered packet of any type the client may send (KEEP_ALIVE with the
    /// layer's words, DATA). Returns its packet number; a `packet_sent` event carries the bytes.
    /// Errors: as `send`.
    result<std::uint64_t> send_packet(packet_type type, word_list words, time_point now) {
        if (auto r = this->require_established(); !r) return tl::unexpected(r.error());
        const std::uint64_t pn = s_.next_pn;
        if (auto r = send_new(type, words, now); !r) return tl::unexpected(r.error());
        return pn;
    }

    /// As `send_packet` for DATA whose payload is already encoded (Extended: u16/u32 framing or
    /// a raw fragment), with its keyword. Error: payload_too_large over the wire's maximum.
    result<std::uint64_t> send_encoded(std::uint32_t keyword, std::span<const std::byte> payload,
                                       time_point now) {
        if (auto r = this->require_established(); !r) return tl::unexpected(r.error());
        const std::uint64_t pn = s_.next_pn;
        detail::outgoing o{packet_type::data, pn, keyword, {}, payload, true, true};
        if (auto r = queue(o, now); !r) return tl::unexpected(r.error());
        return pn;
    }

    /// Seals a packet again under a number this session already used (a KEEP_ALIVE the peer
    /// requested: its content is superseded, so a fresh one stands in for it). The nonce is
    /// fresh, so no nonce is reused. Errors: as `send_packet`, protocol_violation for a number
    /// not used yet.
    result<void> reseal(std::uint64_t pn, packet_type type, word_list words, time_point now) {
        if (auto r = this->require_session(); !r) return r;
        if (pn >= s_.next_pn || Wire::is_unnumbered(pn)) return fail(errc::protocol_violation);
        return queue(detail::outgoing{type, pn, 0, words, {}, false, false}, now);
    }

    /// Queues a datagram sealed earlier, byte for byte (a retransmission).  spec: §12.5
    /// `pn` is the packet's number as the caller stored it (for the observer).
    result<void> resend(std::span<const std::byte> datagram, std::uint64_t pn, time_point now) {
        if (auto r = this->require_session(); !r) return r;
        auto r = detail::queue_copy(io_.tx, s_, datagram);
        if (!r) return r;
        last_sent_ = now;
        report_retransmission(io_.observer, detail::resent_info(role::client, s_, datagram, pn), now);
        return r;
    }

private:
    using base::cfg_;
    using base::io_;
    using base::last_received_;
    using base::last_sent_;
    using base::random_;
    using base::s_;

    // --- hooks of detail::client_base ---------------------------------------------------

    [[nodiscard]] const core::dialect& active_dialect() const noexcept { return cfg_.dialect; }

    /// spec: neutrino.md §10.3: no HELLO2 within 3000 ms → a new HELLO1, new keys
    void on_attempt_timer(time_point now) { (void)start_attempt(now); }

    bool send_keep_alive(time_point now) {
        return send_new(packet_type::keep_alive, {}, now).has_value();
    }
    void send_good_bye(time_point now) { (void)send_new(packet_type::client_good_bye, {}, now); }

    result<void> send_request_word(const word& w, time_point now) {
        return queue(detail::outgoing{packet_type::request_retransmission, packet_number_none, 0,
                                      {&w, 1}, {}, false, false},
                     now);
    }

    void discard_session() noexcept {}

    result<void> start_attempt(time_point now) {
        if (io_.tx.full()) return fail(errc::would_block);
        // spec: neutrino.md §7.1: a fresh ephemeral key pair for every attempt
        keypair eph;
        random_.fill(eph.sk.bytes());
        eph.pk = public_key_of(eph.sk);
        auto keys = client_session_keys(eph, cfg_.server_key);
        if (!keys) return tl::unexpected(keys.error());
        this->begin_attempt(now);
        s_.keys = std::move(*keys);
        auto buf = io_.tx.back_buffer();
        const std::size_t n = Wire::write_hello1(buf, eph.pk);
        io_.tx.push(n, cfg_.server);
        last_sent_ = now;
        const word key_word(eph.pk.data(), eph.pk.size());
        packet_info info{role::client, packet_type::client_hello1, session_id_pending,
                         packet_number_pending, 0, {}, {&key_word, 1}, {buf.data(), n},
                         cfg_.server};
        io_.observer.on_packet_sent(info, now);
        this->attempt_at_ = now + cfg_.timers.redial_interval;
        return {};
    }

    result<void> receive(std::span<const std::byte> in, const peer_address& from, time_point now) {
        auto h = detail::check_header<Wire>(in, cfg_.dialect);
        if (!h) return tl::unexpected(h.error());
        // spec: neutrino.md §18.1 items 1 and 10: only the dialled server, never session id 2
        if (!(from == cfg_.server)) return fail(errc::wrong_peer);
        if (h->session_id == session_id_pending) return fail(errc::bad_session_id);
        const auto type = static_cast<packet_type>(h->type);

        if (s_.state == session_state::pending) {
            if (type != packet_type::server_hello2) return fail(errc::unexpected_packet);
        } else if (s_.state == session_state::established || s_.state == session_state::draining) {
            if (h->session_id != s_.id) return fail(errc::unknown_session);
        } else {
            return fail(errc::unexpected_packet);
        }

        auto o = detail::open_words<Wire>(in, *h, s_, rx_, cfg_.dialect);
        if (!o) return tl::unexpected(o.error());
        const opened_packet& p = o->packet;
        const words_view& words = o->words;
        if (type == packet_type::request_retransmission) {
            // spec: neutrino.md §6.7: unnumbered; it cannot be replay-checked by number, so it
            // changes no state here (§18.1 item 5) and goes to the layer above as it is.
            if (!Wire::is_unnumbered(p.packet_number)) return fail(errc::bad_shape);
            if (s_.state == session_state::pending) return fail(errc::unexpected_packet);
            accept(p, words, from, now);
            report_packet(p, words, from);
            return {};
        }
        auto fresh = detail::check_number<Wire>(s_, p.packet_number,
                                                [this](const event& e) { this->push_event(e); });
        if (!fresh) return fresh;

        // The packet is authentic, well formed and fresh. From here on it may change state.
        if (s_.state == session_state::pending) {
            // spec: neutrino.md §10.1, §10.3: HELLO2 establishes; answer with HELLO3
            if (io_.tx.full()) return fail(errc::would_block);
            s_.window.reset(p.packet_number);
            s_.next_pn = Wire::first_packet_number(random_);
            this->establish(h->session_id, now);
            report_session_keys(io_.observer, s_.id, role::client, s_.keys, now);
            accept(p, words, from, now);
            report_packet(p, words, from);
            this->push_event(event::make(event_kind::established, s_.id, from));
            (void)send_new(packet_type::client_hello3, {}, now);
            return {};
        }
        // spec: neutrino.md §10.3: the server sends nothing else once established
        if (type != packet_type::keep_alive && type != packet_type::data &&
            type != packet_type::server_shutdown) {
            return fail(errc::unexpected_packet);
        }
        s_.window.commit(p.packet_number);
        accept(p, words, from, now);
        this->refresh(now);
        if (cfg_.dialect.layered) {
            report_packet(p, words, from);  // DATA is delivered in order above
        } else if (type == packet_type::data) {
            this->push_event(event::data(s_.id, from, words, p.packet_number, p.keyword));
        }
        // In every dialect (the layer above keeps repairing DATA while draining).
        if (type == packet_type::server_shutdown) this->on_server_shutdown(from, now);
        return {};
    }

    void report_packet(const opened_packet& p, const words_view& words, const peer_address& from) {
        if (!cfg_.dialect.layered) return;
        event e = event::data(s_.id, from, words, p.packet_number, p.keyword);
        e.kind = event_kind::packet_received;
        e.type = p.type;
        e.payload = p.payload;
        this->push_event(e);
    }

    void accept(const opened_packet& p, const words_view& words, const peer_address& from,
                time_point now) {
        ++io_.stats.packets_accepted;
        packet_info info{role::client, p.type, p.session_id, p.packet_number, p.keyword, words,
                         {}, p.plaintext, from};
        io_.observer.on_packet_received(info, now);
    }

    /// Seals a new numbered packet with `words`.
    result<void> send_new(packet_type type, word_list words, time_point now) {
        return queue(detail::outgoing{type, s_.next_pn, 0, words, {}, false, true}, now);
    }

    result<void> queue(const detail::outgoing& o, time_point now) {
        auto r = detail::queue_packet<Wire>(io_.tx, s_, o, role::client, cfg_.dialect,
                                            cfg_.min_datagram_size, random_, io_.observer,
                                            [this](const event& e) { this->push_event(e); }, now);
        if (r) last_sent_ = now;
        return r;
    }

    std::array<std::byte, max_datagram_size> rx_{};
};

/// The client most applications use: v2 wire, no observer, OS randomness.
using client = basic_client<>;
static_assert(datagram_layer<client>);
static_assert(client_connection<client>);

}  // namespace neutrino::core
