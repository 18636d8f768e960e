#pragma once
/// \file
/// `client_base`: the client side of a Neutrino session written once for both wires.
/// What a client does between its handshakes (dialling and redialling, keep-alive, expiry,
/// draining after SERVER_SHUTDOWN, closing with CLIENT_GOOD_BYE, the API the layer above
/// uses, the accessors) is the same on v2 and v3; how a datagram is sealed, opened and how a
/// session is keyed is not. Like Beast's `basic_parser<isRequest, Derived>`, the shared part is
/// a base that calls its wire model (`Derived`) through a few hooks:
///
/// | hook (private in Derived, this base is a friend) | what it does |
/// |---|---|
/// | `result<void> start_attempt(time_point)` | sends a first HELLO1 with fresh ephemeral keys; calls `begin_attempt` |
/// | `void on_attempt_timer(time_point)` | `attempt_at_` passed while pending: retransmit or redial |
/// | `result<void> receive(bytes, const peer_address&, time_point)` | opens and handles one datagram |
/// | `bool send_keep_alive(time_point)` | queues a KEEP_ALIVE; false when it could not |
/// | `void send_good_bye(time_point)` | queues one CLIENT_GOOD_BYE |
/// | `result<void> send_request_word(const word&, time_point)` | queues an unnumbered REQUEST_RETRANSMISSION |
/// | `void discard_session()` | wipes what the wire keeps beside `s_` (keys, handshake state) |
/// | `const dialect& active_dialect() const` | the dialect in force (v3 negotiates it) |
/// spec: neutrino.md §10.3, §11; neutrino-v3.md §2.1, §7.9, §13

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <utility>

#include "neutrino/address.hpp"
#include "neutrino/core/client_config.hpp"
#include "neutrino/core/detail/machine_io.hpp"
#include "neutrino/core/error.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/core/observer.hpp"
#include "neutrino/core/words.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/endian.hpp"
#include "neutrino/result.hpp"
#include "neutrino/time.hpp"

namespace neutrino::core::detail {

/// The wire-independent client. `Session` is the wire's session record (it has `id`, `state`,
/// `peer`, `expiry` and `receive_limit`), `Stats` its counters (`core::stats` or derived).
template <class Derived, class Session, class Stats, class Observer, class Random>
class client_base {
public:
    using event_type = event;
    using observer_type = Observer;
    using config = client_config;

    // --- application API -------------------------------------------------------------------

    /// Starts dialling: sends a HELLO1 now and keeps dialling until a session is established
    /// (and again after an expiry when `reconnect` is set). A no-op while a session is pending,
    /// established or draining. Errors: would_block (send queue full), low_order_key (the
    /// configured server key is unusable).
    result<void> connect(time_point now) {
        dialling_ = true;
        if (s_.state == session_state::pending || s_.state == session_state::established ||
            s_.state == session_state::draining) {
            return {};
        }
        return derived().start_attempt(now);
    }

    /// Closes the session: sends `good_bye_copies` CLIENT_GOOD_BYEs when established, ends the
    /// session locally and stops dialling. Final until `connect` is called again.
    /// spec: neutrino.md §11.2, §18.4 item 21; neutrino-v3.md §13
    void close(time_point now) {
        dialling_ = false;
        if (s_.state == session_state::established) {
            // one lost datagram must not leave the server to time the session out as a crash
            for (std::size_t i = 0; i < std::max<std::size_t>(cfg_.good_bye_copies, 1); ++i) {
                derived().send_good_bye(now);
            }
        }
        if (s_.state != session_state::none && s_.state != session_state::closed) {
            end_session(make_error_code(errc::closed), now);
        }
    }

    // --- for the layer above (a layered dialect) ---------------------------------------------

    /// Queues an unnumbered REQUEST_RETRANSMISSION for `pn`. Errors: not_connected,
    /// would_block.  spec: neutrino.md §6.7; neutrino-v3.md §14.1
    result<void> send_request(std::uint64_t pn, time_point now) {
        if (auto r = require_session(); !r) return r;
        std::array<std::byte, 8> v;
        neutrino::store_le(v.data(), pn);
        return derived().send_request_word(word(v), now);
    }

    /// Passes an RTT the layer above measured to the observer (on_rtt_sample, if it has it).
    void report_rtt(duration rtt, time_point now) {
        report_rtt_sample(io_.observer, s_.id, role::client, rtt, now);
    }
    /// Passes the layer above's congestion state to the observer (on_congestion, if it has it).
    void report_congestion(const congestion_info& info, time_point now) {
        report_congestion_to(io_.observer, s_.id, role::client, info, now);
    }
    /// Passes a refusal the layer above made to the observer (on_refused, if it has it).
    void report_refusal(refusal what, time_point now) {
        report_refusal_to(io_.observer, s_.id, role::client, what, s_.peer, now);
    }

    /// Accept no numbered peer packet above `max_pn` (dropped uncommitted, outside_window).
    void set_receive_limit(std::uint64_t max_pn) noexcept { s_.receive_limit = max_pn; }

    /// When the last datagram was queued / the last packet accepted.
    [[nodiscard]] time_point last_sent() const noexcept { return last_sent_; }
    [[nodiscard]] time_point last_received() const noexcept { return last_received_; }

    [[nodiscard]] session_state state() const noexcept { return s_.state; }
    [[nodiscard]] bool established() const noexcept { return s_.state == session_state::established; }
    /// The current session id (0 when there is none).
    [[nodiscard]] std::uint64_t session_id() const noexcept { return s_.id; }
    [[nodiscard]] const Stats& stats() const noexcept { return io_.stats; }
    [[nodiscard]] const config& configuration() const noexcept { return cfg_; }
    [[nodiscard]] Observer& observer() noexcept { return io_.observer; }
    [[nodiscard]] Random& random() noexcept { return random_; }
    /// Room left in the send queue, in datagrams.
    [[nodiscard]] std::size_t send_capacity() const noexcept { return io_.tx.capacity() - io_.tx.size(); }

    // --- datagram_layer ----------------------------------------------------------------------

    /// Processes one datagram from `from`. Every rejection is counted and reported to the
    /// observer, returns the reason, and changes nothing.
    result<void> handle_datagram(std::span<const std::byte> in, const peer_address& from,
                                 time_point now) {
        return io_.take(in, from, now, [&] { return derived().receive(in, from, now); });
    }

    std::optional<transmit> poll_datagram(std::span<std::byte> out, time_point) noexcept {
        return io_.pop(out);
    }

    std::optional<event_type> poll_event() noexcept { return io_.events.pop(); }

    [[nodiscard]] std::optional<time_point> deadline() const noexcept {
        switch (s_.state) {
            case session_state::pending: return attempt_at_;
            case session_state::established:
                if (derived().active_dialect().layered) return s_.expiry;
                return std::min(s_.expiry, next_keep_alive());
            case session_state::draining: return s_.expiry;
            case session_state::none:
            case session_state::closed:
                if (dialling_ && cfg_.reconnect) return redial_at_;
                return std::nullopt;
        }
        return std::nullopt;
    }

    void handle_deadline(time_point now) {
        switch (s_.state) {
            case session_state::pending:
                if (now >= attempt_at_) derived().on_attempt_timer(now);
                break;
            case session_state::established:
                if (now >= s_.expiry) {
                    end_and_redial(make_error_code(errc::timed_out), now);
                } else if (!derived().active_dialect().layered && now >= next_keep_alive()) {
                    // spec: neutrino.md §11.1 (v3 keeps the rule, neutrino-v3.md §2.1)
                    if (derived().send_keep_alive(now)) last_keep_alive_ = now;
                }
                break;
            case session_state::draining:
                if (now >= s_.expiry) end_and_redial(make_error_code(errc::draining), now);
                break;
            case session_state::none:
            case session_state::closed:
                if (dialling_ && cfg_.reconnect && now >= redial_at_) (void)derived().start_attempt(now);
                break;
        }
    }

protected:
    client_base(config cfg, Observer observer, Random random)
        : cfg_(std::move(cfg)),
          io_(cfg_.send_queue_capacity, cfg_.event_queue_capacity, std::move(observer)),
          random_(std::move(random)) {}

    /// For sending a new packet: errors draining, not_connected.
    [[nodiscard]] result<void> require_established() const {
        if (s_.state == session_state::draining) return fail(errc::draining);
        if (s_.state != session_state::established) return fail(errc::not_connected);
        return {};
    }
    /// For repairing (re-sending, requesting), which goes on while draining: not_connected.
    [[nodiscard]] result<void> require_session() const {
        if (s_.state != session_state::established && s_.state != session_state::draining) {
            return fail(errc::not_connected);
        }
        return {};
    }

    /// A new attempt's bookkeeping: a fresh session record addressed to the server, pending,
    /// and the `connecting` event.
    void begin_attempt(time_point now) {
        s_ = Session{};
        s_.peer = cfg_.server;
        set_state(session_state::pending, now);
        push_event(event::make(event_kind::connecting, 0, cfg_.server));
    }

    /// The handshake completed: session `id` is established and expires unless refreshed.
    void establish(std::uint64_t id, time_point now) {
        s_.id = id;
        set_state(session_state::established, now);
        s_.expiry = now + cfg_.timers.established_timeout;
        last_received_ = now;
    }

    /// An authentic, fresh packet arrived: it keeps an established session alive.
    void refresh(time_point now) {
        last_received_ = now;
        if (s_.state == session_state::established) s_.expiry = now + cfg_.timers.established_timeout;
    }

    /// SERVER_SHUTDOWN: drain for `ending_timeout`, no more sending.
    /// spec: neutrino.md §11.3; neutrino-v3.md §13
    void on_server_shutdown(const peer_address& from, time_point now) {
        if (s_.state != session_state::established) return;
        set_state(session_state::draining, now);
        s_.expiry = now + cfg_.timers.ending_timeout;
        push_event(event::make(event_kind::server_shutdown, s_.id, from));
    }

    /// Ends the session with `reason` (a `closed` event) and wipes it.
    void end_session(std::error_code reason, time_point now) {
        const std::uint64_t id = s_.id;
        set_state(session_state::closed, now);
        derived().discard_session();
        s_ = Session{};
        s_.state = session_state::closed;
        push_event(event::closed(id, cfg_.server, reason));
    }

    /// As `end_session`, and redial after `after` (when dialling with `reconnect`).
    void end_and_redial(std::error_code reason, time_point now) {
        end_and_redial(reason, now, cfg_.timers.redial_after_expiry);
    }
    void end_and_redial(std::error_code reason, time_point now, duration after) {
        end_session(reason, now);
        redial_at_ = now + after;
    }

    void set_state(session_state to, time_point now) {
        io_.set_state(s_.id, cfg_.server, s_.state, to, now);
    }

    void push_event(const event& e) noexcept { io_.push_event(e); }

    config cfg_;
    machine_io<Stats, Observer> io_;
    Random random_;
    Session s_;
    bool dialling_ = false;
    time_point attempt_at_{};  ///< pending: when `on_attempt_timer` runs
    time_point redial_at_{};   ///< none/closed: when a new attempt starts
    time_point last_sent_{};
    time_point last_received_{};

private:
    [[nodiscard]] Derived& derived() noexcept { return static_cast<Derived&>(*this); }
    [[nodiscard]] const Derived& derived() const noexcept { return static_cast<const Derived&>(*this); }

    [[nodiscard]] time_point next_keep_alive() const noexcept {
        const auto idle = cfg_.timers.keep_alive_idle;
        return std::min(last_sent_ + idle, std::max(last_received_ + idle, last_keep_alive_ + idle));
    }

    time_point last_keep_alive_{};
};

}  // namespace neutrino::core::detail
