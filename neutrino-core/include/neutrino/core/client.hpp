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

#include "neutrino/core/connection_layer.hpp"
#include "neutrino/core/crypto.hpp"
#include "neutrino/core/detail/datagram_queue.hpp"
#include "neutrino/core/detail/machine_io.hpp"
#include "neutrino/core/detail/session_core.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/core/observer.hpp"
#include "neutrino/core/stats.hpp"
#include "neutrino/core/wire_v2.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/random.hpp"

namespace neutrino::core {

/// Configuration of a client machine.
struct client_config {
    public_key server_key{};   ///< the server's long-term public key
    peer_address server;       ///< where the server listens; datagrams from elsewhere are dropped
    timing timers{};           ///< the reference's timers (peers depend on them)
    std::size_t min_datagram_size = 0;  ///< pad the plaintext to this size (0: no padding)
    bool reconnect = true;  ///< redial after an expiry or a server shutdown (never after close())
    core::dialect dialect = basic_dialect;  ///< declared by the layer above (core::dialect)
    std::size_t send_queue_capacity = 64;   ///< datagrams waiting for poll_datagram
    std::size_t event_queue_capacity = 64;  ///< events waiting for poll_event
    /// CLIENT_GOOD_BYEs `close()` sends (distinct numbered packets, back to back), so that the
    /// loss of one datagram does not leave the server to time the session out as if the client
    /// had crashed. A server drops the copies after the first (unknown session).
    std::size_t good_bye_copies = 2;
};

/// The client machine. `Wire` is the wire policy, `Observer` sees every packet and drop,
/// `Random` supplies keys, nonces and packet numbers. Not thread-safe: one owner calls it.
template <class Wire = wire::v2, class Observer = null_observer, class Random = system_random>
class basic_client {
public:
    using event_type = event;
    using wire_type = Wire;
    using observer_type = Observer;
    using config = client_config;

    /// Throws `std::invalid_argument` when the server key is not a valid public key.
    explicit basic_client(config cfg, Observer observer = {}, Random random = {})
        : cfg_(std::move(cfg)),
          io_(cfg_.send_queue_capacity, cfg_.event_queue_capacity, std::move(observer)),
          random_(std::move(random)) {
        ensure_sodium();
    }

    // --- application API -------------------------------------------------------------------

    /// Starts dialling: sends a CLIENT_HELLO1 now and keeps redialling until a session is
    /// established (and again after an expiry when `reconnect` is set). A no-op while a session
    /// is pending or established. Errors: would_block (send queue full), low_order_key (the
    /// configured server key is unusable).
    result<void> connect(time_point now) {
        dialling_ = true;
        if (session_.state == session_state::pending || session_.state == session_state::established ||
            session_.state == session_state::draining) {
            return {};
        }
        return send_hello1(now);
    }

    /// Sends one DATA packet with `words`. Errors: not_connected, draining, too_many_words,
    /// word_too_large, payload_too_large (encoded words over 1214 bytes), would_block.
    result<void> send(word_list words, time_point now) {
        if (session_.state == session_state::draining) return fail(errc::draining);
        if (session_.state != session_state::established) return fail(errc::not_connected);
        return send_packet_impl(packet_type::data, words, now);
    }

    /// Closes the session: sends CLIENT_GOOD_BYE (unless draining) and stops dialling. Final
    /// until `connect` is called again.  spec: neutrino.md §11.2, §18.4 item 21
    void close(time_point now) {
        dialling_ = false;
        if (session_.state == session_state::established) {
            for (std::size_t i = 0; i < std::max<std::size_t>(cfg_.good_bye_copies, 1); ++i) {
                (void)send_packet_impl(packet_type::client_good_bye, {}, now);
            }
        }
        if (session_.state != session_state::none && session_.state != session_state::closed) {
            end_session(make_error_code(errc::closed), now);
        }
    }

    // --- for the layer above (a layered dialect) --------------------------------------------

    /// Seals and queues a numbered packet of any type the client may send (KEEP_ALIVE with the
    /// layer's words, DATA). Returns its packet number; a `packet_sent` event carries the bytes.
    /// Errors: as `send`.
    result<std::uint64_t> send_packet(packet_type type, word_list words, time_point now) {
        if (session_.state == session_state::draining) return fail(errc::draining);
        if (session_.state != session_state::established) return fail(errc::not_connected);
        const std::uint64_t pn = session_.next_pn;
        auto r = send_packet_impl(type, words, now);
        if (!r) return tl::unexpected(r.error());
        return pn;
    }

    /// As `send_packet` for DATA whose payload is already encoded (Extended: u16/u32 framing or
    /// a raw fragment), with its keyword. Error: payload_too_large over the wire's maximum.
    result<std::uint64_t> send_encoded(std::uint32_t keyword, std::span<const std::byte> payload,
                                       time_point now) {
        if (session_.state == session_state::draining) return fail(errc::draining);
        if (session_.state != session_state::established) return fail(errc::not_connected);
        const std::uint64_t pn = session_.next_pn;
        detail::outgoing o{packet_type::data, pn, keyword, {}, payload, true, true};
        if (auto r = queue(o, now); !r) return tl::unexpected(r.error());
        return pn;
    }

    /// Seals a packet again under a number this session already used (a KEEP_ALIVE the peer
    /// requested: its content is superseded, so a fresh one stands in for it). The nonce is
    /// fresh, so no nonce is reused. Errors: as `send_packet`, protocol_violation for a number
    /// not used yet.
    result<void> reseal(std::uint64_t pn, packet_type type, word_list words, time_point now) {
        if (session_.state != session_state::established && session_.state != session_state::draining) {
            return fail(errc::not_connected);
        }
        if (pn >= session_.next_pn || Wire::is_unnumbered(pn)) return fail(errc::protocol_violation);
        return queue(detail::outgoing{type, pn, 0, words, {}, false, false}, now);
    }

    /// Queues a REQUEST_RETRANSMISSION for `pn` (unnumbered).  spec: neutrino.md §6.7
    result<void> send_request(std::uint64_t pn, time_point now) {
        if (session_.state != session_state::established && session_.state != session_state::draining) {
            return fail(errc::not_connected);
        }
        std::array<std::byte, 8> v;
        neutrino::store_le(v.data(), pn);
        const word w(v);
        return queue(detail::outgoing{packet_type::request_retransmission, packet_number_none, 0,
                                      {&w, 1}, {}, false, false},
                     now);
    }

    /// Queues a datagram sealed earlier, byte for byte (a retransmission).  spec: §12.5
    /// `pn` is the packet's number as the caller stored it (for the observer).
    result<void> resend(std::span<const std::byte> datagram, std::uint64_t pn, time_point now) {
        if (session_.state != session_state::established && session_.state != session_state::draining) {
            return fail(errc::not_connected);
        }
        auto r = detail::queue_copy(io_.tx, session_, datagram);
        if (!r) return r;
        last_sent_ = now;
        report_retransmission(io_.observer, detail::resent_info(role::client, session_, datagram, pn), now);
        return r;
    }

    /// Passes an RTT the layer above measured to the observer (on_rtt_sample, if it has it).
    void report_rtt(duration rtt, time_point now) {
        report_rtt_sample(io_.observer, session_.id, role::client, rtt, now);
    }
    void report_congestion(const congestion_info& info, time_point now) {
        report_congestion_to(io_.observer, session_.id, role::client, info, now);
    }

    /// Passes a refusal the layer above made to the observer (on_refused, if it has it).
    void report_refusal(refusal what, time_point now) {
        report_refusal_to(io_.observer, session_.id, role::client, what, session_.peer, now);
    }

    /// Accept no peer packet number above `max_pn` (dropped as outside_window, uncommitted).
    void set_receive_limit(std::uint64_t max_pn) noexcept { session_.receive_limit = max_pn; }

    /// When the last datagram was queued / the last packet accepted.
    [[nodiscard]] time_point last_sent() const noexcept { return last_sent_; }
    [[nodiscard]] time_point last_received() const noexcept { return last_received_; }

    [[nodiscard]] session_state state() const noexcept { return session_.state; }
    [[nodiscard]] bool established() const noexcept {
        return session_.state == session_state::established;
    }
    /// The current session id (0 when there is none).
    [[nodiscard]] std::uint64_t session_id() const noexcept { return session_.id; }
    [[nodiscard]] const core::stats& stats() const noexcept { return io_.stats; }
    [[nodiscard]] const config& configuration() const noexcept { return cfg_; }
    [[nodiscard]] Observer& observer() noexcept { return io_.observer; }
    [[nodiscard]] Random& random() noexcept { return random_; }
    /// Room left in the send queue, in datagrams.
    [[nodiscard]] std::size_t send_capacity() const noexcept { return io_.tx.capacity() - io_.tx.size(); }

    // --- datagram_layer ----------------------------------------------------------------------

    /// Processes one datagram from `from`. Every rejection is counted and reported to the
    /// observer, returns the reason, and changes nothing.  spec: neutrino.md §9.1, §9.3
    result<void> handle_datagram(std::span<const std::byte> in, const peer_address& from,
                                 time_point now) {
        return io_.take(in, from, now, [&] { return receive(in, from, now); });
    }

    std::optional<transmit> poll_datagram(std::span<std::byte> out, time_point) noexcept {
        return io_.pop(out);
    }

    std::optional<event_type> poll_event() noexcept { return io_.events.pop(); }

    [[nodiscard]] std::optional<time_point> deadline() const noexcept {
        switch (session_.state) {
            case session_state::pending: return redial_at_;
            case session_state::established:
                if (cfg_.dialect.layered) return session_.expiry;
                return std::min(session_.expiry, next_keep_alive());
            case session_state::draining: return session_.expiry;
            case session_state::none:
            case session_state::closed:
                if (dialling_ && cfg_.reconnect) return redial_at_;
                return std::nullopt;
        }
        return std::nullopt;
    }

    void handle_deadline(time_point now) {
        switch (session_.state) {
            case session_state::pending:
                // spec: neutrino.md §10.3: no HELLO2 within 3000 ms → a new HELLO1, new keys
                if (now >= redial_at_) (void)send_hello1(now);
                break;
            case session_state::established:
                if (now >= session_.expiry) {
                    end_session(make_error_code(errc::timed_out), now);
                    schedule_redial(now);
                } else if (!cfg_.dialect.layered && now >= next_keep_alive()) {
                    // spec: neutrino.md §11.1
                    if (send_packet_impl(packet_type::keep_alive, {}, now)) last_keep_alive_ = now;
                }
                break;
            case session_state::draining:
                if (now >= session_.expiry) {
                    end_session(make_error_code(errc::draining), now);
                    schedule_redial(now);
                }
                break;
            case session_state::none:
            case session_state::closed:
                if (dialling_ && cfg_.reconnect && now >= redial_at_) (void)send_hello1(now);
                break;
        }
    }

private:
    result<void> receive(std::span<const std::byte> in, const peer_address& from, time_point now) {
        auto h = detail::check_header<Wire>(in, cfg_.dialect);
        if (!h) return tl::unexpected(h.error());
        // spec: neutrino.md §18.1 items 1 and 10: only the dialled server, never session id 2
        if (!(from == cfg_.server)) return fail(errc::wrong_peer);
        if (h->session_id == session_id_pending) return fail(errc::bad_session_id);
        const auto type = static_cast<packet_type>(h->type);

        if (session_.state == session_state::pending) {
            if (type != packet_type::server_hello2) return fail(errc::unexpected_packet);
        } else if (session_.state == session_state::established ||
                   session_.state == session_state::draining) {
            if (h->session_id != session_.id) return fail(errc::unknown_session);
        } else {
            return fail(errc::unexpected_packet);
        }

        auto p = Wire::open(in, *h, session_.keys.rx, rx_);
        if (!p) return tl::unexpected(p.error());
        // spec: neutrino.md §13.3: Extended DATA is u16/u32-framed or a raw fragment; the
        // layer above judges it. Every other payload is a u8/u16 word list.
        const bool raw = cfg_.dialect.raw_data && type == packet_type::data;
        auto words = raw ? result<words_view>(words_view{}) : words_view::parse(p->payload);
        if (!words) return tl::unexpected(words.error());
        if (!detail::shape_ok(type, *words, cfg_.dialect)) return fail(errc::bad_shape);
        if (type == packet_type::request_retransmission) {
            // spec: neutrino.md §6.7: unnumbered; it cannot be replay-checked by number, so it
            // changes no state here (§18.1 item 5) and goes to the layer above as it is.
            if (!Wire::is_unnumbered(p->packet_number)) return fail(errc::bad_shape);
            if (session_.state == session_state::pending) return fail(errc::unexpected_packet);
            accept(*p, *words, from, now);
            report_packet(*p, *words, from);
            return {};
        }
        if (Wire::is_unnumbered(p->packet_number)) return fail(errc::bad_shape);
        if (!session_.window.check(p->packet_number)) return fail(errc::replayed);
        if (p->packet_number > session_.receive_limit) {
            // authentic: tell the layer above the number exists, so it can ask for it later
            event e = event::make(event_kind::packet_beyond_window, session_.id, cfg_.server);
            e.packet_number = p->packet_number;
            push_event(e);
            return fail(errc::outside_window);
        }

        // The packet is authentic, well formed and fresh. From here on it may change state.
        switch (session_.state) {
            case session_state::pending: {
                // spec: neutrino.md §10.1, §10.3: HELLO2 establishes; answer with HELLO3
                if (io_.tx.full()) return fail(errc::would_block);
                session_.id = h->session_id;
                session_.window.reset(p->packet_number);
                session_.next_pn = Wire::first_packet_number(random_);
                set_state(session_state::established, now);
                report_session_keys(io_.observer, session_.id, role::client, session_.keys, now);
                session_.expiry = now + cfg_.timers.established_timeout;
                last_received_ = now;
                accept(*p, *words, from, now);
                report_packet(*p, *words, from);
                push_event(event::make(event_kind::established, session_.id, from));
                (void)send_packet_impl(packet_type::client_hello3, {}, now);
                return {};
            }
            case session_state::established:
            case session_state::draining: {
                // spec: neutrino.md §10.3: the server sends nothing else once established
                if (type != packet_type::keep_alive && type != packet_type::data &&
                    type != packet_type::server_shutdown) {
                    return fail(errc::unexpected_packet);
                }
                session_.window.commit(p->packet_number);
                last_received_ = now;
                accept(*p, *words, from, now);
                if (session_.state == session_state::established) {
                    session_.expiry = now + cfg_.timers.established_timeout;
                }
                if (cfg_.dialect.layered) {
                    report_packet(*p, *words, from);  // DATA is delivered in order above
                } else if (type == packet_type::data) {
                    push_event(event::data(session_.id, from, *words, p->packet_number, p->keyword));
                }
                // In every dialect (the layer above keeps repairing DATA while draining).
                if (type == packet_type::server_shutdown &&
                    session_.state == session_state::established) {
                    // spec: neutrino.md §11.3: drain for 2000 ms, no more sending
                    set_state(session_state::draining, now);
                    session_.expiry = now + cfg_.timers.ending_timeout;
                    push_event(event::make(event_kind::server_shutdown, session_.id, from));
                }
                return {};
            }
            default: return fail(errc::unexpected_packet);
        }
    }

    void report_packet(const opened_packet& p, const words_view& words, const peer_address& from) {
        if (!cfg_.dialect.layered) return;
        event e = event::data(session_.id, from, words, p.packet_number, p.keyword);
        e.kind = event_kind::packet_received;
        e.type = p.type;
        e.payload = p.payload;
        push_event(e);
    }

    void accept(const opened_packet& p, const words_view& words, const peer_address& from,
                time_point now) {
        ++io_.stats.packets_accepted;
        packet_info info{role::client, p.type, p.session_id, p.packet_number, p.keyword, words,
                         {}, p.plaintext, from};
        io_.observer.on_packet_received(info, now);
    }

    result<void> send_hello1(time_point now) {
        if (io_.tx.full()) return fail(errc::would_block);
        // spec: neutrino.md §7.1: a fresh ephemeral key pair for every attempt
        keypair eph;
        random_.fill(eph.sk.bytes());
        eph.pk = public_key_of(eph.sk);
        auto keys = client_session_keys(eph, cfg_.server_key);
        if (!keys) return tl::unexpected(keys.error());
        session_ = detail::session_core{};
        session_.keys = std::move(*keys);
        session_.peer = cfg_.server;
        auto buf = io_.tx.back_buffer();
        const std::size_t n = Wire::write_hello1(buf, eph.pk);
        io_.tx.push(n, cfg_.server);
        last_sent_ = now;
        const word key_word(eph.pk.data(), eph.pk.size());
        packet_info info{role::client, packet_type::client_hello1, session_id_pending,
                         packet_number_pending, 0, {}, {&key_word, 1}, {buf.data(), n},
                         cfg_.server};
        io_.observer.on_packet_sent(info, now);
        set_state(session_state::pending, now);
        redial_at_ = now + cfg_.timers.redial_interval;
        push_event(event::make(event_kind::connecting, 0, cfg_.server));
        return {};
    }

    result<void> send_packet_impl(packet_type type, word_list words, time_point now) {
        return queue(detail::outgoing{type, session_.next_pn, 0, words, {}, false, true}, now);
    }

    result<void> queue(const detail::outgoing& o, time_point now) {
        auto r = detail::queue_packet<Wire>(io_.tx, session_, o, role::client, cfg_.dialect,
                                            cfg_.min_datagram_size, random_, io_.observer,
                                            [this](const event& e) { push_event(e); }, now);
        if (r) last_sent_ = now;
        return r;
    }

    void end_session(std::error_code reason, time_point now) {
        const std::uint64_t id = session_.id;
        set_state(session_state::closed, now);
        session_ = detail::session_core{};
        session_.state = session_state::closed;
        push_event(event::closed(id, cfg_.server, reason));
    }

    void schedule_redial(time_point now) {
        // spec: neutrino.md §10.3: redial 1000 ms after an expiry
        redial_at_ = now + cfg_.timers.redial_after_expiry;
    }

    [[nodiscard]] time_point next_keep_alive() const noexcept {
        const auto idle = cfg_.timers.keep_alive_idle;
        return std::min(last_sent_ + idle, std::max(last_received_ + idle, last_keep_alive_ + idle));
    }

    void set_state(session_state to, time_point now) {
        io_.set_state(session_.id, cfg_.server, session_.state, to, now);
    }

    void push_event(const event& e) noexcept { io_.push_event(e); }

    config cfg_;
    detail::machine_io<core::stats, Observer> io_;
    Random random_;
    detail::session_core session_;
    std::array<std::byte, max_datagram_size> rx_{};
    bool dialling_ = false;
    time_point redial_at_{};
    time_point last_sent_{};
    time_point last_received_{};
    time_point last_keep_alive_{};
};

/// The client most applications use: v2 wire, no observer, OS randomness.
using client = basic_client<>;
static_assert(datagram_layer<client>);
static_assert(client_connection<client>);

}  // namespace neutrino::core
