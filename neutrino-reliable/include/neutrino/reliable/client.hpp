#pragma once
/// \file
/// `reliable::basic_client<Next>`: NeutrinoReliable's client, a layer over a core client
/// (`Next`, configured with reliable::wire_dialect). DATA is delivered exactly once and in
/// order, or the session ends with a clear error.  spec: neutrino.md §12, §18.3
///
/// It asks of `Next` only what core::client_connection names (neutrino/core/connection_layer.hpp),
/// and offers the layer above what reliable::client_connection names.

#include <algorithm>
#include <memory>
#include <optional>
#include <span>
#include <utility>

#include "neutrino/congestion/controller.hpp"
#include "neutrino/core/client.hpp"
#include "neutrino/core/connection_layer.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/reliable/config.hpp"
#include "neutrino/reliable/congestion.hpp"
#include "neutrino/reliable/connection_layer.hpp"
#include "neutrino/reliable/detail/delivery_queue.hpp"
#include "neutrino/reliable/detail/ports.hpp"
#include "neutrino/reliable/detail/receive_pool.hpp"
#include "neutrino/reliable/detail/session.hpp"

namespace neutrino::reliable {

/// `Controller`: the congestion-control policy of the session (`reliable::default_controller`,
/// BBRv3, unless told otherwise; `congestion::fixed_window` is the fixed window of
/// `config::send_window` datagrams the layer had before congestion control).
template <core::client_connection Next = core::basic_client<>,
          congestion::congestion_controller Controller = reliable::default_controller>
class basic_client {
public:
    using event_type = core::event;
    using next_layer_type = Next;

    /// Builds the core client below with `cfg` (its dialect set to reliable::wire_dialect unless
    /// a layer above declared a layered one) and `rest`
    /// (observer, randomness).
    /// As below, with the default reliable::config.
    template <class... Rest>
    explicit basic_client(core::client_config cfg, Rest&&... rest)
        : basic_client(std::move(cfg), reliable::config{}, std::forward<Rest>(rest)...) {}

    template <class... Rest>
    basic_client(core::client_config cfg, reliable::config rcfg, Rest&&... rest)
        : rcfg_(rcfg),
          next_(with_dialect(std::move(cfg), rcfg_), std::forward<Rest>(rest)...),
          pool_(std::make_unique<detail::receive_pool>(detail::budget_blocks(rcfg_))),
          session_(rcfg_, core::role::client, *pool_, next_.configuration().dialect.raw_data),
          events_(initial_events, rcfg_.receive_window + 64) {}

    Next& next_layer() noexcept { return next_; }
    const Next& next_layer() const noexcept { return next_; }

    /// Dials (see core::basic_client::connect).
    result<void> connect(time_point now) {
        auto r = next_.connect(now);
        pump(now);
        return r;
    }

    /// Sends DATA, delivered exactly once and in order. Errors: would_block when the send
    /// window is full or the pacer holds the next datagram back (an event_kind::writable follows
    /// once acknowledgements free room or the pacer lets it go; the
    /// io::endpoint's async_send waits for it), not_connected, draining,
    /// too_many_words, word_too_large, payload_too_large.
    result<void> send(core::word_list words, time_point now) {
        if (!next_.established()) {
            return fail(next_.state() == core::session_state::draining ? core::errc::draining
                                                                       : core::errc::not_connected);
        }
        if (!session_.can_send(now)) {
            blocked_ = true;  // a `writable` event follows when acknowledgements or the pacer free room
            return fail(core::errc::would_block);
        }
        auto r = next_.send_packet(core::packet_type::data, words, now);
        if (!r) return tl::unexpected(r.error());
        pump(now);
        detail::client_port<Next> port{next_};
        session_.after_send(port, now, stats_);
        pump(now);
        return {};
    }

    /// Sends one DATA packet whose payload is already encoded (Extended: a u16/u32 word list or
    /// a raw fragment) with its keyword; delivered as `send`. Only for a core configured with a
    /// raw-data dialect (else protocol_violation).
    result<void> send_encoded(std::uint32_t keyword, std::span<const std::byte> payload, time_point now) {
        if (!next_.configuration().dialect.raw_data) return fail(core::errc::protocol_violation);
        if (!next_.established()) {
            return fail(next_.state() == core::session_state::draining ? core::errc::draining
                                                                       : core::errc::not_connected);
        }
        if (!session_.can_send(now)) {
            blocked_ = true;  // a `writable` event follows when acknowledgements or the pacer free room
            return fail(core::errc::would_block);
        }
        auto r = next_.send_encoded(keyword, payload, now);
        if (!r) return tl::unexpected(r.error());
        pump(now);
        detail::client_port<Next> port{next_};
        session_.after_send(port, now, stats_);
        pump(now);
        return {};
    }

    /// True when `send` would not return would_block now.
    [[nodiscard]] bool can_send() const noexcept { return next_.established() && session_.can_send(); }

    void close(time_point now) {
        next_.close(now);
        pump(now);
    }

    [[nodiscard]] core::session_state state() const noexcept { return next_.state(); }
    [[nodiscard]] bool established() const noexcept { return next_.established(); }
    [[nodiscard]] std::uint64_t session_id() const noexcept { return next_.session_id(); }
    [[nodiscard]] const reliable::stats& stats() const noexcept { return stats_; }
    [[nodiscard]] const reliable::config& configuration() const noexcept { return rcfg_; }
    /// Datagrams sent and not acknowledged, and packets held out of order (bounded by config).
    [[nodiscard]] std::size_t unacknowledged() const noexcept { return session_.unacknowledged(); }
    [[nodiscard]] std::size_t out_of_order() const noexcept { return session_.out_of_order(); }
    [[nodiscard]] duration rtt() const noexcept { return session_.rtt(); }
    /// Heap bytes the receive side holds now: the receive buffer (bookkeeping and payload
    /// blocks, including those of delivered events not yet consumed) and the event queue.
    [[nodiscard]] std::size_t receive_memory() const noexcept {
        return session_.receive_memory() + pool_->memory() + events_.memory();
    }
    /// The RTT estimate (smoothed, variance, minimum; RFC 9002 §5).
    [[nodiscard]] const congestion::rtt_estimator& rtt_estimator() const noexcept { return session_.rtt_estimator(); }
    /// The session's congestion controller.
    [[nodiscard]] const Controller& controller() const noexcept { return session_.controller(); }
    /// Where the session's congestion control stands (window, pacing rate, in flight, RTT).
    [[nodiscard]] reliable::congestion_state congestion() const noexcept { return session_.congestion(); }

    // --- datagram_layer ----------------------------------------------------------------------

    result<void> handle_datagram(std::span<const std::byte> in, const peer_address& from,
                                 time_point now) {
        auto r = next_.handle_datagram(in, from, now);
        pump(now);
        return r;
    }
    std::optional<transmit> poll_datagram(std::span<std::byte> out, time_point now) {
        return next_.poll_datagram(out, now);
    }
    /// The next event. A DATA event's views stay valid until the next non-const call.
    std::optional<event_type> poll_event() noexcept {
        return events_.pop(*pool_);
    }

    [[nodiscard]] std::optional<time_point> deadline() const noexcept {
        auto d = next_.deadline();
        if (next_.established() || next_.state() == core::session_state::draining) {
            detail::client_port<const Next> port{next_};
            auto r = session_.deadline(port);
            if (r && (!d || *r < *d)) d = r;
        }
        return d;
    }

    void handle_deadline(time_point now) {
        if (auto d = next_.deadline(); d && *d <= now) {
            next_.handle_deadline(now);
            pump(now);
        }
        if (next_.established() || next_.state() == core::session_state::draining) {
            detail::client_port<Next> port{next_};
            session_.on_deadline(port, now, stats_);
            pump(now);
        }
    }

private:
    // The core's send queue must take a burst of a quarter window (acks come in between).
    // A layered dialect declared above (extended's) is kept; anything else becomes ours.
    static core::client_config with_dialect(core::client_config c, const reliable::config& r) {
        if (!c.dialect.layered) c.dialect = wire_dialect;
        c.send_queue_capacity = std::max(c.send_queue_capacity, r.send_window / 4);
        return c;
    }

    // Takes every event the core produced: stores sent packets, orders received ones, passes
    // lifecycle events up, and ends the session when the reliable logic gave up.
    void pump(time_point now) {
        events_.release_consumed(*pool_);  // the event polled last is consumed
        detail::client_port<Next> port{next_};
        while (auto e = next_.poll_event()) {
            switch (e->kind) {
                case core::event_kind::packet_sent: session_.on_packet_sent(*e, now, stats_); break;
                case core::event_kind::packet_received:
                    session_.on_packet_received(*e, port, now, stats_,
                                                [this](const core::event& d) { return push(d); });
                    break;
                case core::event_kind::packet_beyond_window: session_.on_packet_beyond_window(*e, stats_); break;
                case core::event_kind::connecting:
                    session_.reset();
                    blocked_ = false;
                    push(*e);
                    break;
                case core::event_kind::server_shutdown:
                    session_.stop_sending();
                    push(*e);
                    break;
                case core::event_kind::closed:
                    session_.reset();
                    blocked_ = false;
                    if (suppress_closed_) {
                        suppress_closed_ = false;
                    } else {
                        push(*e);
                    }
                    break;
                default: push(*e); break;
            }
        }
        if (auto f = session_.failure()) {
            // spec: neutrino.md §18.3 item 17: a clear error instead of a silent stall
            push(core::event::closed(next_.session_id(), next_.configuration().server, f));
            suppress_closed_ = true;
            session_.reset();
            next_.close(now);
            pump(now);
        }
        if (blocked_ && next_.established() && session_.can_send()) {
            blocked_ = false;
            push(core::event::make(core::event_kind::writable, next_.session_id(),
                                   next_.configuration().server));
        }
    }

    // An event the queue cannot take is counted, never silently lost.
    bool push(const core::event& e) {
        if (events_.push(e)) return true;
        ++stats_.events_dropped;
        return false;
    }

    // The queue starts small and grows (doubling) to what the application leaves queued.
    static constexpr std::size_t initial_events = 16;

    reliable::config rcfg_;
    Next next_;
    // Before session_: its buffer returns blocks here. On the heap, so that the layer moves
    // (into an io::endpoint) without moving what the session and queued events point to.
    std::unique_ptr<detail::receive_pool> pool_;
    detail::basic_session<Controller> session_;
    detail::delivery_queue events_;
    reliable::stats stats_;
    bool suppress_closed_ = false;
    bool blocked_ = false;  ///< a send was refused for lack of room: report `writable`
};

using client = basic_client<>;
static_assert(datagram_layer<client>);
static_assert(client_connection<client>);

}  // namespace neutrino::reliable
