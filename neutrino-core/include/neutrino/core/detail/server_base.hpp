#pragma once
/// \file
/// `server_base`: the server side of Neutrino written once for both wires. The session map,
/// the API the application and the layer above use by session id, the expiry scan, shutdown
/// and the datagram_layer edge are the same on v2 and v3; how a datagram is opened and sealed,
/// how a handshake is admitted and how an address moves is not. As `client_base`, the shared
/// part calls its wire model (`Derived`) through hooks:
///
/// | hook (private in Derived, this base is a friend) | what it does |
/// |---|---|
/// | `static auto& record(Session&)` (and const) | the session's record: `id`, `state`, `peer`, `expiry`, `receive_limit` |
/// | `static constexpr duration scan_interval` | how often at most the expiry scan runs |
/// | `result<void> receive(bytes, const peer_address&, time_point)` | opens and handles one datagram (never called after shutdown) |
/// | `result<std::uint64_t> send_packet(id, packet_type, word_list, time_point)` | public: seals a numbered packet |
/// | `result<void> send_request_word(Session&, const word&, time_point)` | queues an unnumbered REQUEST_RETRANSMISSION |
/// | `void send_shutdown(Session&, time_point)` | seals SERVER_SHUTDOWN now, or keeps it for `flush_backlog` |
/// | `void flush_backlog(time_point)` | queues kept SHUTDOWNs while the send queue has room |
/// | `std::error_code expiry_reason(Session&, time_point)` | why an expired session ends |
/// | `time_point serve_timers(Session&, time_point)` | runs a live session's own timers; returns its next one |
/// | `void on_remove(Session&)` | releases what the wire keeps beside the map (called before `closed`) |
/// spec: neutrino.md §10.2, §11.3; neutrino-v3.md §7.4, §12, §13

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "neutrino/address.hpp"
#include "neutrino/core/detail/machine_io.hpp"
#include "neutrino/core/error.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/core/observer.hpp"
#include "neutrino/core/server_config.hpp"
#include "neutrino/core/words.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/endian.hpp"
#include "neutrino/result.hpp"
#include "neutrino/time.hpp"

namespace neutrino::core::detail {

/// The wire-independent server: many sessions on one socket, demultiplexed by session id, in
/// the only session map of the machine. `Session` is what the wire keeps per session.
template <class Derived, class Session, class Stats, class Observer, class Random>
class server_base {
public:
    using event_type = event;
    using observer_type = Observer;
    using config = server_config;

    // --- application API -------------------------------------------------------------------

    /// Sends one DATA packet to an established session. Errors: unknown_session,
    /// not_connected (handshake not finished), closed (server shut down), too_many_words,
    /// word_too_large, payload_too_large, would_block.
    result<void> send(std::uint64_t session_id, word_list words, time_point now) {
        auto r = derived().send_packet(session_id, packet_type::data, words, now);
        if (!r) return tl::unexpected(r.error());
        return {};
    }

    /// Sends `words` to every established session; returns how many accepted it.
    std::size_t send_to_all(word_list words, time_point now) {
        std::size_t n = 0;
        for (auto& [id, s] : sessions_) {
            if (Derived::record(s).state == session_state::established && send(id, words, now)) ++n;
        }
        return n;
    }

    /// Forgets a session without telling the client (v2 has no server-side close; the client
    /// times out).
    void drop_session(std::uint64_t session_id, time_point now) {
        auto it = sessions_.find(session_id);
        if (it != sessions_.end()) remove(it, make_error_code(errc::closed), now);
    }

    /// Sends SERVER_SHUTDOWN to every established session and ends them all (reason
    /// draining); afterwards every datagram is dropped. SHUTDOWNs that do not fit the send
    /// queue are queued as it drains.  spec: neutrino.md §11.3; neutrino-v3.md §13
    void shutdown(time_point now) {
        if (shut_down_) return;
        for (auto& [id, s] : sessions_) {
            if (Derived::record(s).state == session_state::established) derived().send_shutdown(s, now);
        }
        shut_down_ = true;
        for (auto it = sessions_.begin(); it != sessions_.end();) {
            it = remove(it, make_error_code(errc::draining), now);
        }
    }

    // --- for the layer above (a layered dialect) --------------------------------------------

    /// Queues an unnumbered REQUEST_RETRANSMISSION for `pn` to a session. Errors: as `send`.
    result<void> send_request(std::uint64_t session_id, std::uint64_t pn, time_point now) {
        auto s = established(session_id);
        if (!s) return tl::unexpected(s.error());
        std::array<std::byte, 8> v;
        neutrino::store_le(v.data(), pn);
        return derived().send_request_word(**s, word(v), now);
    }

    /// Passes a refusal the layer above made to the observer (on_refused, if it has it).
    void report_refusal(std::uint64_t session_id, refusal what, time_point now) {
        auto it = sessions_.find(session_id);
        report_refusal_to(io_.observer, session_id, role::server, what,
                          it == sessions_.end() ? peer_address{} : Derived::record(it->second).peer, now);
    }
    /// Passes an RTT the layer above measured for a session to the observer.
    void report_rtt(std::uint64_t session_id, duration rtt, time_point now) {
        report_rtt_sample(io_.observer, session_id, role::server, rtt, now);
    }
    /// Passes a session's congestion state to the observer (on_congestion, if it has it).
    void report_congestion(std::uint64_t session_id, const congestion_info& info, time_point now) {
        report_congestion_to(io_.observer, session_id, role::server, info, now);
    }

    /// Accept no numbered packet above `max_pn` from this session (dropped, outside_window).
    void set_receive_limit(std::uint64_t session_id, std::uint64_t max_pn) noexcept {
        auto it = sessions_.find(session_id);
        if (it != sessions_.end()) Derived::record(it->second).receive_limit = max_pn;
    }

    /// Calls `f(session_id, state)` for every session (do not add or remove sessions from `f`).
    template <class F>
    void for_each_session(F&& f) const {
        for (const auto& [id, s] : sessions_) f(id, Derived::record(s).state);
    }

    [[nodiscard]] std::size_t session_count() const noexcept { return sessions_.size(); }
    [[nodiscard]] std::size_t pending_count() const noexcept { return pending_; }
    /// The state of a session, `session_state::none` when unknown.
    [[nodiscard]] session_state state_of(std::uint64_t session_id) const noexcept {
        auto it = sessions_.find(session_id);
        return it == sessions_.end() ? session_state::none : Derived::record(it->second).state;
    }
    /// The (validated) address a session currently talks to.
    [[nodiscard]] std::optional<peer_address> peer_of(std::uint64_t session_id) const noexcept {
        auto it = sessions_.find(session_id);
        if (it == sessions_.end()) return std::nullopt;
        return Derived::record(it->second).peer;
    }
    [[nodiscard]] bool is_shut_down() const noexcept { return shut_down_; }
    [[nodiscard]] const Stats& stats() const noexcept { return io_.stats; }
    [[nodiscard]] const config& configuration() const noexcept { return cfg_; }
    [[nodiscard]] Observer& observer() noexcept { return io_.observer; }
    [[nodiscard]] Random& random() noexcept { return random_; }
    /// Room left in the send queue, in datagrams.
    [[nodiscard]] std::size_t send_capacity() const noexcept { return io_.tx.capacity() - io_.tx.size(); }

    // --- datagram_layer ----------------------------------------------------------------------

    /// Processes one datagram from `from`. Every rejection is counted and reported to the
    /// observer and returns the reason; after `shutdown` every datagram is dropped (closed).
    result<void> handle_datagram(std::span<const std::byte> in, const peer_address& from,
                                 time_point now) {
        return io_.take(in, from, now, [&]() -> result<void> {
            if (shut_down_) return fail(errc::closed);
            return derived().receive(in, from, now);
        });
    }

    std::optional<transmit> poll_datagram(std::span<std::byte> out, time_point now) {
        derived().flush_backlog(now);
        return io_.pop(out);
    }

    std::optional<event_type> poll_event() noexcept { return io_.events.pop(); }

    /// When `handle_deadline` must run: the earliest session timer, recomputed by each scan
    /// (at most every `scan_interval`, so one scan serves many timers); `nullopt` without
    /// sessions.
    [[nodiscard]] std::optional<time_point> deadline() const noexcept {
        if (sessions_.empty()) return std::nullopt;
        return next_scan_;
    }

    /// Removes expired sessions and runs the sessions' own timers.  spec: neutrino.md §10.2
    void handle_deadline(time_point now) {
        if (sessions_.empty() || now < next_scan_) return;
        time_point earliest = time_point::max();
        for (auto it = sessions_.begin(); it != sessions_.end();) {
            if (now >= Derived::record(it->second).expiry) {
                it = remove(it, derived().expiry_reason(it->second, now), now);
                continue;
            }
            earliest = std::min(earliest, derived().serve_timers(it->second, now));
            ++it;
        }
        next_scan_ = std::max(earliest, now + Derived::scan_interval);
    }

protected:
    using session_map = std::unordered_map<std::uint64_t, Session>;

    server_base(config cfg, Observer observer, Random random)
        : cfg_(std::move(cfg)),
          io_(cfg_.send_queue_capacity, cfg_.event_queue_capacity, std::move(observer)),
          random_(std::move(random)) {}

    /// The session `session_id` when it is established. Errors: closed (after shutdown),
    /// unknown_session, not_connected.
    result<Session*> established(std::uint64_t session_id) {
        if (shut_down_) return fail(errc::closed);
        auto it = sessions_.find(session_id);
        if (it == sessions_.end()) return fail(errc::unknown_session);
        if (Derived::record(it->second).state != session_state::established) return fail(errc::not_connected);
        return &it->second;
    }

    /// A session id no session has.
    std::uint64_t fresh_session_id() {
        std::uint64_t id = 0;
        do {  // expected once: 2^64 ids, at most max_sessions taken
            id = random_.uniform(min_session_id, UINT64_MAX);
        } while (sessions_.contains(id));
        return id;
    }

    /// Ends a session with `reason` (a `closed` event) and erases it.
    typename session_map::iterator remove(typename session_map::iterator it, std::error_code reason,
                                          time_point now) {
        Session& s = it->second;
        auto& r = Derived::record(s);
        if (r.state == session_state::pending) --pending_;
        derived().on_remove(s);
        const std::uint64_t id = r.id;
        const peer_address peer = r.peer;
        set_state(s, session_state::closed, now);
        push_event(event::closed(id, peer, reason));
        return sessions_.erase(it);
    }

    /// The scan runs no later than `t`.
    void arm(time_point t) noexcept { next_scan_ = std::min(next_scan_, t); }

    void set_state(Session& s, session_state to, time_point now) {
        auto& r = Derived::record(s);
        io_.set_state(r.id, r.peer, r.state, to, now);
    }

    void push_event(const event& e) noexcept { io_.push_event(e); }

    /// The per-host key of an address (its port cleared).
    static peer_address host_key(peer_address a) noexcept {
        a.port = 0;
        return a;
    }

    config cfg_;
    machine_io<Stats, Observer> io_;
    Random random_;
    session_map sessions_;
    std::size_t pending_ = 0;  ///< sessions in the pending state
    bool shut_down_ = false;

private:
    [[nodiscard]] Derived& derived() noexcept { return static_cast<Derived&>(*this); }

    time_point next_scan_ = time_point::max();
};

}  // namespace neutrino::core::detail
