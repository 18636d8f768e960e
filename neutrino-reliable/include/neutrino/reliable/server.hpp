#pragma once
/// \file
/// `reliable::basic_server<Next>`: NeutrinoReliable's server, a layer over a core server
/// (`Next`, configured with reliable::wire_dialect): one reliable session per core session.
/// spec: neutrino.md §12, §18.3
///
/// It asks of `Next` only what core::server_connection names (neutrino/core/connection_layer.hpp),
/// and offers the layer above what reliable::server_connection names.

#include <algorithm>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "neutrino/congestion/controller.hpp"
#include "neutrino/core/connection_layer.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/reliable/config.hpp"
#include "neutrino/reliable/congestion.hpp"
#include "neutrino/reliable/connection_layer.hpp"
#include "neutrino/reliable/detail/delivery_queue.hpp"
#include "neutrino/reliable/detail/ports.hpp"
#include "neutrino/reliable/detail/receive_pool.hpp"
#include "neutrino/reliable/detail/session.hpp"
#include "neutrino/reliable/error.hpp"

namespace neutrino::reliable {

/// `Controller`: the congestion-control policy of each session (see basic_client).
template <core::server_connection Next = core::basic_server<>,
          congestion::congestion_controller Controller = reliable::default_controller>
class basic_server {
public:
    using event_type = core::event;
    using next_layer_type = Next;

    /// As below, with the default reliable::config.
    template <class... Rest>
    explicit basic_server(core::server_config cfg, Rest&&... rest)
        : basic_server(std::move(cfg), reliable::config{}, std::forward<Rest>(rest)...) {}

    template <class... Rest>
    basic_server(core::server_config cfg, reliable::config rcfg, Rest&&... rest)
        : rcfg_(rcfg),
          next_(with_dialect(std::move(cfg)), std::forward<Rest>(rest)...),
          pool_(std::make_unique<detail::receive_pool>(detail::budget_blocks(rcfg_))),
          events_(initial_events, rcfg_.receive_window + 256) {}

    Next& next_layer() noexcept { return next_; }
    const Next& next_layer() const noexcept { return next_; }

    /// Sends DATA to an established session, delivered exactly once and in order. Errors:
    /// would_block when its send window is full, unknown_session, not_connected, closed, and
    /// the word-list errors.
    result<void> send(std::uint64_t session_id, core::word_list words, time_point now) {
        if (linger_until_) return fail(core::errc::draining);
        auto it = sessions_.find(session_id);
        if (it != sessions_.end() && !it->second->can_send(now)) return refuse_full(session_id);
        auto r = next_.send_packet(session_id, core::packet_type::data, words, now);
        if (!r) return tl::unexpected(r.error());
        pump(now);
        return {};
    }
    /// Sends one DATA packet whose payload is already encoded (Extended) with its keyword; see
    /// basic_client::send_encoded.
    result<void> send_encoded(std::uint64_t session_id, std::uint32_t keyword,
                              std::span<const std::byte> payload, time_point now) {
        if (!next_.configuration().dialect.raw_data) return fail(core::errc::protocol_violation);
        if (linger_until_) return fail(core::errc::draining);
        auto it = sessions_.find(session_id);
        if (it != sessions_.end() && !it->second->can_send(now)) return refuse_full(session_id);
        auto r = next_.send_encoded(session_id, keyword, payload, now);
        if (!r) return tl::unexpected(r.error());
        pump(now);
        return {};
    }
    /// Where session `session_id`'s congestion control stands; empty for an unknown session.
    [[nodiscard]] std::optional<reliable::congestion_state> congestion(std::uint64_t session_id) const noexcept {
        auto it = sessions_.find(session_id);
        if (it == sessions_.end()) return std::nullopt;
        return it->second->congestion();
    }
    /// True when `send(session_id, …)` would not return would_block now.
    [[nodiscard]] bool can_send(std::uint64_t session_id) const noexcept {
        auto it = sessions_.find(session_id);
        return it != sessions_.end() && it->second->can_send() &&
               next_.state_of(session_id) == core::session_state::established;
    }
    /// Sends to every established session with room; returns how many accepted.
    std::size_t send_to_all(core::word_list words, time_point now) {
        std::vector<std::uint64_t> ids;
        next_.for_each_session([&](std::uint64_t id, core::session_state st) {
            if (st == core::session_state::established) ids.push_back(id);
        });
        std::size_t n = 0;
        for (auto id : ids) {
            if (send(id, words, now)) ++n;
        }
        return n;
    }
    /// Shuts the server down: takes no more DATA (errc::draining), waits until every session's
    /// DATA is acknowledged (at most config::shutdown_linger, serving requests meanwhile), then
    /// sends SERVER_SHUTDOWN to every session.  spec: neutrino.md §11.3
    void shutdown(time_point now) {
        if (linger_until_ || shut_down_) return;
        linger_until_ = now + rcfg_.shutdown_linger;
        finish_shutdown(now);
    }
    /// True from `shutdown` until the SERVER_SHUTDOWN went out.
    [[nodiscard]] bool shutting_down() const noexcept { return linger_until_.has_value(); }
    void drop_session(std::uint64_t session_id, time_point now) {
        next_.drop_session(session_id, now);
        pump(now);
    }
    template <class F>
    void for_each_session(F&& f) const {
        next_.for_each_session(std::forward<F>(f));
    }
    [[nodiscard]] std::size_t session_count() const noexcept { return next_.session_count(); }
    [[nodiscard]] core::session_state state_of(std::uint64_t id) const noexcept { return next_.state_of(id); }
    [[nodiscard]] const reliable::stats& stats() const noexcept { return stats_; }
    /// Heap bytes the receive side holds now: every session's receive buffer (bookkeeping),
    /// the payload blocks they share (including those of delivered events not yet consumed;
    /// at most about config::receive_budget when set) and the event queue.
    [[nodiscard]] std::size_t receive_memory() const noexcept {
        std::size_t n = pool_->memory() + events_.memory();
        for (const auto& [id, s] : sessions_) n += s->receive_memory();
        return n;
    }
    [[nodiscard]] std::size_t unacknowledged(std::uint64_t id) const noexcept {
        auto it = sessions_.find(id);
        return it == sessions_.end() ? 0 : it->second->unacknowledged();
    }

    // --- datagram_layer ----------------------------------------------------------------------

    result<void> handle_datagram(std::span<const std::byte> in, const peer_address& from,
                                 time_point now) {
        auto r = next_.handle_datagram(in, from, now);
        pump(now);
        if (linger_until_) finish_shutdown(now);
        return r;
    }
    std::optional<transmit> poll_datagram(std::span<std::byte> out, time_point now) {
        return next_.poll_datagram(out, now);
    }
    /// The next event. A DATA event's views stay valid until the next non-const call.
    std::optional<event_type> poll_event() noexcept {
        return events_.pop(*pool_);
    }

    /// The earliest timer of the core and of every session (linear in the session count).
    [[nodiscard]] std::optional<time_point> deadline() const noexcept {
        auto d = next_.deadline();
        if (linger_until_ && (!d || *linger_until_ < *d)) d = linger_until_;
        for (const auto& [id, s] : sessions_) {
            detail::server_port<const Next> port{next_, id};
            auto t = s->deadline(port);
            if (t && (!d || *t < *d)) d = t;
        }
        return d;
    }

    void handle_deadline(time_point now) {
        if (auto d = next_.deadline(); d && *d <= now) {
            next_.handle_deadline(now);
            pump(now);
        }
        for (auto& [id, s] : sessions_) {
            detail::server_port<const Next> cport{next_, id};
            if (auto t = s->deadline(cport); t && *t <= now) {
                detail::server_port<Next> port{next_, id};
                s->on_deadline(port, now, stats_);
            }
        }
        pump(now);
        if (linger_until_) finish_shutdown(now);
    }

private:
    // Ends a lingering shutdown once nothing is unacknowledged, or when the linger is over;
    // sessions that still hold DATA then end with unrecoverable_loss.
    void finish_shutdown(time_point now) {
        const bool all_acked = std::all_of(sessions_.begin(), sessions_.end(),
                                           [](const auto& s) { return s.second->unacknowledged() == 0; });
        if (!all_acked && now < *linger_until_) return;
        for (auto& [id, s] : sessions_) {
            if (s->unacknowledged() == 0) continue;
            push(core::event::closed(id, next_.peer_of(id).value_or(peer_address{}),
                                     make_error_code(reliable::errc::unrecoverable_loss)));
            suppressed_.push_back(id);
        }
        linger_until_.reset();
        shut_down_ = true;
        next_.shutdown(now);
        pump(now);
    }

    // A layered dialect declared above (extended's) is kept; anything else becomes ours.
    static core::server_config with_dialect(core::server_config c) {
        if (!c.dialect.layered) c.dialect = wire_dialect;
        return c;
    }

    // A send refused for lack of room: a `writable` event follows once acknowledgements free it.
    result<void> refuse_full(std::uint64_t id) {
        if (std::find(blocked_.begin(), blocked_.end(), id) == blocked_.end()) blocked_.push_back(id);
        return fail(core::errc::would_block);
    }

    // Reports `writable` for every refused session with room again (the list is short: only
    // sessions that were refused since their last `writable`).
    void report_writable() {
        for (auto it = blocked_.begin(); it != blocked_.end();) {
            auto s = sessions_.find(*it);
            if (s == sessions_.end()) {
                it = blocked_.erase(it);
            } else if (s->second->can_send() && next_.state_of(*it) == core::session_state::established) {
                push(core::event::make(core::event_kind::writable, *it,
                                       next_.peer_of(*it).value_or(peer_address{})));
                it = blocked_.erase(it);
            } else {
                ++it;
            }
        }
    }

    detail::basic_session<Controller>& session_for(std::uint64_t id) {
        auto& p = sessions_[id];
        if (!p) {
            p = std::make_unique<detail::basic_session<Controller>>(
                rcfg_, core::role::server, *pool_, next_.configuration().dialect.raw_data);
        }
        return *p;
    }

    void pump(time_point now) {
        events_.release_consumed(*pool_);  // the event polled last is consumed
        while (auto e = next_.poll_event()) {
            switch (e->kind) {
                case core::event_kind::packet_sent: session_for(e->session_id).on_packet_sent(*e, now, stats_); break;
                case core::event_kind::packet_received: {
                    detail::server_port<Next> port{next_, e->session_id};
                    session_for(e->session_id)
                        .on_packet_received(*e, port, now, stats_,
                                            [this](const core::event& d) { return push(d); });
                    break;
                }
                case core::event_kind::packet_beyond_window:
                    session_for(e->session_id).on_packet_beyond_window(*e, stats_);
                    break;
                case core::event_kind::path_candidate: {
                    // wire v2: probe the address; replies keep going to the validated one
                    detail::server_port<Next> port{next_, e->session_id};
                    session_for(e->session_id).on_path_candidate(port, now, stats_);
                    push(*e);
                    break;
                }
                case core::event_kind::address_changed:
                    session_for(e->session_id).on_address_changed();
                    push(*e);
                    break;
                case core::event_kind::closed: {
                    sessions_.erase(e->session_id);
                    auto s = std::find(suppressed_.begin(), suppressed_.end(), e->session_id);
                    if (s != suppressed_.end()) {
                        suppressed_.erase(s);
                    } else {
                        push(*e);
                    }
                    break;
                }
                default: push(*e); break;
            }
        }
        // spec: neutrino.md §18.3 item 17: a clear error instead of a silent stall
        for (auto it = sessions_.begin(); it != sessions_.end();) {
            if (auto f = it->second->failure()) {
                const std::uint64_t id = it->first;
                push(core::event::closed(id, next_.peer_of(id).value_or(peer_address{}), f));
                suppressed_.push_back(id);
                it = sessions_.erase(it);
                next_.drop_session(id, now);
            } else {
                ++it;
            }
        }
        if (!suppressed_.empty()) {
            while (auto e = next_.poll_event()) {
                if (e->kind == core::event_kind::closed) {
                    auto s = std::find(suppressed_.begin(), suppressed_.end(), e->session_id);
                    if (s != suppressed_.end()) {
                        suppressed_.erase(s);
                        continue;
                    }
                }
                push(*e);
            }
        }
        if (!blocked_.empty()) report_writable();
    }

    // An event the queue cannot take is counted, never silently lost.
    bool push(const core::event& e) {
        if (events_.push(e)) return true;
        ++stats_.events_dropped;
        return false;
    }

    // The queue starts small and grows (doubling) to what the application leaves queued.
    static constexpr std::size_t initial_events = 64;

    reliable::config rcfg_;
    Next next_;
    // Before sessions_: a session's buffer returns its blocks here when it ends. The blocks of
    // its delivered events stay held here until those are consumed, whenever it ended. On the
    // heap, so that the layer moves (into an io::endpoint) without moving what views point to.
    std::unique_ptr<detail::receive_pool> pool_;
    std::unordered_map<std::uint64_t, std::unique_ptr<detail::basic_session<Controller>>> sessions_;
    std::vector<std::uint64_t> suppressed_;
    std::vector<std::uint64_t> blocked_;  ///< sessions refused with would_block since their last `writable`
    std::optional<time_point> linger_until_;  ///< set while shutdown waits for acknowledgements
    bool shut_down_ = false;
    detail::delivery_queue events_;
    reliable::stats stats_;
};

using server = basic_server<>;
static_assert(datagram_layer<server>);
static_assert(server_connection<server>);

}  // namespace neutrino::reliable
