#pragma once
/// \file
/// `neutrino::io::basic_endpoint`: drives one sans-IO `datagram_layer` over one `udp_socket`
/// on an Asio executor.
///
/// The loop (all on the endpoint's executor, no threads):
///  1. when the socket is readable: `recvmmsg` a batch, call `layer.handle_datagram(bytes,
///     from, now)` for each datagram (`now` is read once per batch) and deliver the events it
///     produced before the next one (their views would not survive it);
///  2. after each batch, after the timer and on `flush()`: drain `poll_event()` into the event
///     delivery path and `poll_datagram(out, now)` straight into the socket's send slots, send
///     them with `sendmmsg`;
///  3. arm one `steady_timer` for `layer.deadline()` (re-armed only when it changed); when it
///     expires call `layer.handle_deadline(now)` and drain again.
///
/// Events and view lifetimes. `datagram_layer` allows an event to hold views into the layer
/// that stay valid only until the next non-const call on the layer. Two delivery paths:
///  - **handler** (`set_event_handler`): called synchronously while draining, with the event
///    still fresh: the view-safe path, and allocation-free. When a handler is set, every event
///    goes to it and none is queued.
///  - **queue** (`async_next_event`): without a handler, each event is converted by the
///    `EventPolicy` into a `value_type` and completes a waiting operation or is kept in a
///    bounded deque (oldest dropped beyond `endpoint_options::event_queue_capacity`, counted).
///    The default policy `copy_event` stores a plain copy, which is only honest for value-type
///    events: a layer whose events hold views must either be used through the handler or get
///    an `EventPolicy` whose `value_type` owns its bytes.
///  While a handler is set, a waiting `async_next_event` only completes through `close()`.
///
/// `EventPolicy` requirements: `typename P::value_type` (default- and move-constructible) and
/// `static P::value_type P::make(const event_type&)`.
///
/// Lifetime: handlers hold only a weak token, so the endpoint may be destroyed at any time on
/// its executor's thread (the destructor calls `close()`). Thread safety: none; use it from
/// its executor only (or before `run()`).

#include "neutrino/io/asio.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>

#include "neutrino/core/address.hpp"
#include "neutrino/core/datagram_layer.hpp"
#include "neutrino/core/owned_event.hpp"
#include "neutrino/core/time.hpp"
#include "neutrino/io/udp_socket.hpp"

namespace neutrino::io {

/// The default `EventPolicy`: queued events are copies of the layer's events. Correct for
/// value-type events only (see the file comment).
template <class Event>
struct copy_event {
    using value_type = Event;
    static value_type make(const Event& e) { return e; }
};

/// The `EventPolicy` a `basic_endpoint` uses unless told otherwise: a plain copy, except for
/// the core machines' events, whose word views are copied out (`core::own_event`).
template <class Event>
struct default_event_policy {
    using type = copy_event<Event>;
};
template <>
struct default_event_policy<core::event> {
    using type = core::own_event;
};

/// Construction options of a `basic_endpoint`.
struct endpoint_options {
    udp_socket_options socket{};                 ///< options of the underlying `udp_socket`
    std::size_t event_queue_capacity = 4096;     ///< events kept for `async_next_event`
    std::size_t max_batches_per_wakeup = 16;     ///< receive batches before yielding to others
    std::size_t max_datagrams_per_drain = 1024;  ///< datagrams polled before yielding to others
};

/// What a `basic_endpoint` did (the socket's own counters are in `socket().counters()`).
struct endpoint_counters {
    std::uint64_t datagrams_rejected = 0;  ///< `handle_datagram` returned an error
    std::uint64_t events = 0;              ///< events polled from the layer
    std::uint64_t events_dropped = 0;      ///< queued events dropped because the queue was full
    std::uint64_t deadlines = 0;           ///< `handle_deadline` calls
    std::uint64_t timer_arms = 0;          ///< times the timer was (re)armed
    std::uint64_t wakeups = 0;             ///< readiness notifications handled
};

/// Binds one `datagram_layer` (a client or a server machine) to one UDP socket; see the file
/// comment for the loop and the event paths.
template <datagram_layer Layer,
          class EventPolicy = typename default_event_policy<typename Layer::event_type>::type>
class basic_endpoint {
public:
    using layer_type = Layer;
    using event_type = typename Layer::event_type;
    /// What `async_next_event` completes with.
    using value_type = typename EventPolicy::value_type;
    using executor_type = net::any_io_executor;
    /// The completion signature of `async_next_event`.
    using next_event_signature = void(boost::system::error_code, value_type);

    /// Opens and binds a socket at `local` (port 0 for an ephemeral one, e.g. `127.0.0.1:0`
    /// for a client), takes `layer` and starts the loop on `ex` (the first read, the first
    /// drain and timer arming are posted, so they run once the executor runs). Throws
    /// `boost::system::system_error` when the socket cannot be opened or bound.
    basic_endpoint(const executor_type& ex, const net::ip::udp::endpoint& local, Layer layer,
                   const endpoint_options& options = {})
        : layer_(std::move(layer)),
          options_(options),
          socket_(ex, local, options.socket),
          timer_(ex) {
        net::post(ex, [this, alive = weak_alive()] {
            if (alive.expired() || closed_) return;
            drain();
            on_readable();
        });
    }

    /// Same, on `ctx`'s executor.
    basic_endpoint(net::io_context& ctx, const net::ip::udp::endpoint& local, Layer layer,
                   const endpoint_options& options = {})
        : basic_endpoint(ctx.get_executor(), local, std::move(layer), options) {}

    basic_endpoint(const basic_endpoint&) = delete;
    basic_endpoint& operator=(const basic_endpoint&) = delete;

    /// Calls `close()`.
    ~basic_endpoint() { close(); }

    [[nodiscard]] executor_type get_executor() noexcept { return socket_.get_executor(); }

    /// The machine, to call its API (`ep.layer().send(words, now)`); call `flush()` afterwards
    /// so what it produced is sent and its new deadline armed.
    [[nodiscard]] Layer& layer() noexcept { return layer_; }
    [[nodiscard]] const Layer& layer() const noexcept { return layer_; }
    /// Same as `layer()` (Beast's name for the owned lower layer).
    [[nodiscard]] Layer& next_layer() noexcept { return layer_; }

    /// The socket, for its counters, `connect`, `local_address`.
    [[nodiscard]] udp_socket& socket() noexcept { return socket_; }
    [[nodiscard]] const udp_socket& socket() const noexcept { return socket_; }
    [[nodiscard]] net::ip::udp::endpoint local_endpoint() const { return socket_.local_endpoint(); }
    [[nodiscard]] peer_address local_address() const { return socket_.local_address(); }

    [[nodiscard]] const endpoint_counters& counters() const noexcept { return counters_; }
    /// Events waiting for `async_next_event`.
    [[nodiscard]] std::size_t queued_events() const noexcept { return queue_.size(); }
    /// The fatal socket error that stopped the loop, if any.
    [[nodiscard]] boost::system::error_code last_error() const noexcept { return last_error_; }
    [[nodiscard]] bool is_open() const noexcept { return !closed_; }

    /// Delivers every event synchronously to `handler` while draining (views in the event are
    /// valid during the call; the handler may call `layer()` and `flush()`). An empty function
    /// switches back to queueing. Events already queued stay queued.
    void set_event_handler(std::function<void(const event_type&)> handler) {
        handler_ = std::move(handler);
    }

    /// Drains the layer now: delivers its events, sends its datagrams (`sendmmsg`) and re-arms
    /// the timer if its deadline changed. Costs two polls and a clock read when there is
    /// nothing to do. Safe to call from the event handler (the drain in progress repeats). A
    /// no-op after `close()`.
    void flush() {
        if (closed_) return;
        drain();
    }

    /// Waits for the next event (queue path; see the file comment). Completion signature
    /// `void(boost::system::error_code, value_type)`; works with callbacks, `net::use_future`
    /// and `net::use_awaitable`. The handler is always invoked as if by `net::post` on its
    /// associated executor (default: the endpoint's). Errors: `net::error::already_started`
    /// when another call is still waiting; `net::error::operation_aborted` when the endpoint is
    /// closed while waiting, or after `close()` once the queue is empty. Allocates once per
    /// waiting call (type-erasing the handler).
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(next_event_signature) Token>
    auto async_next_event(Token&& token) {
        return net::async_initiate<Token, next_event_signature>(next_event_initiation{this}, token);
    }

    /// Stops the loop: cancels the timer and the socket's wait, closes the socket, and
    /// completes a waiting `async_next_event` with `net::error::operation_aborted`; then
    /// `io_context::run()` returns once nothing else is pending. Datagrams the layer has not
    /// yet produced are not sent: `flush()` first for a goodbye. Idempotent.
    void close() noexcept {
        if (closed_) return;
        closed_ = true;
        boost::system::error_code ignored;
        timer_.cancel(ignored);
        armed_.reset();
        socket_.close();
        if (waiter_) {
            auto w = std::move(waiter_);
            w->complete(net::error::operation_aborted, value_type{}, get_executor());
        }
    }

private:
    /// A type-erased waiting `async_next_event` handler.
    struct waiter_base {
        virtual ~waiter_base() = default;
        virtual void complete(boost::system::error_code ec, value_type v,
                              const executor_type& fallback) = 0;
    };
    template <class Handler>
    struct waiter final : waiter_base {
        explicit waiter(Handler&& h) : handler(std::move(h)) {}
        void complete(boost::system::error_code ec, value_type v,
                      const executor_type& fallback) override {
            post_completion(std::move(handler), ec, std::move(v), fallback);
        }
        Handler handler;
    };

    template <class Handler>
    static void post_completion(Handler&& handler, boost::system::error_code ec, value_type v,
                                const executor_type& fallback) {
        auto ex = net::get_associated_executor(handler, fallback);
        net::post(ex, [h = std::forward<Handler>(handler), ec, v = std::move(v)]() mutable {
            std::move(h)(ec, std::move(v));
        });
    }

    struct next_event_initiation {
        basic_endpoint* self;
        template <class Handler>
        void operator()(Handler&& handler) const {
            self->initiate_next_event(std::forward<Handler>(handler));
        }
    };

    template <class Handler>
    void initiate_next_event(Handler&& handler) {
        using handler_type = std::decay_t<Handler>;
        if (!queue_.empty()) {
            value_type v = std::move(queue_.front());
            queue_.pop_front();
            post_completion(std::forward<Handler>(handler), {}, std::move(v), get_executor());
        } else if (waiter_) {
            post_completion(std::forward<Handler>(handler), net::error::already_started,
                            value_type{}, get_executor());
        } else if (closed_) {
            post_completion(std::forward<Handler>(handler), net::error::operation_aborted,
                            value_type{}, get_executor());
        } else {
            handler_type h(std::forward<Handler>(handler));
            waiter_ = std::make_unique<waiter<handler_type>>(std::move(h));
        }
    }

    [[nodiscard]] std::weak_ptr<void> weak_alive() const noexcept { return alive_; }

    void wait_readable() {
        socket_.async_wait_readable(
            [this, alive = weak_alive()](const boost::system::error_code& ec) {
                if (alive.expired() || ec == net::error::operation_aborted || closed_) return;
                on_readable();
            });
    }

    void on_readable() {
        ++counters_.wakeups;
        for (std::size_t batch = 0; batch < options_.max_batches_per_wakeup; ++batch) {
            boost::system::error_code ec;
            const time_point now = clock::now();
            socket_.receive_batch(
                [this, now](std::span<const std::byte> datagram, const peer_address& from) {
                    if (closed_) return;  // the event handler closed us mid-batch
                    if (!layer_.handle_datagram(datagram, from, now)) {
                        ++counters_.datagrams_rejected;
                    }
                    // Views inside events are valid only until the next call on the layer:
                    // deliver them before the next datagram of the batch.
                    drain_events();
                },
                ec);
            if (ec == net::error::would_block) {
                wait_readable();
                return;
            }
            drain();
            if (closed_) return;  // the event handler closed us
            if (ec) {
                last_error_ = ec;  // fatal: stop reading; the timer keeps running
                return;
            }
        }
        // Budget used: let other handlers run, then read on without waiting for a new edge.
        net::post(get_executor(), [this, alive = weak_alive()] {
            if (alive.expired() || closed_) return;
            on_readable();
        });
    }

    void drain() {
        if (draining_) {
            // flush() from the event handler: send what the handler queued now (it may close
            // the endpoint next), and let the running drain repeat for the events.
            drain_datagrams();
            redrain_ = true;
            return;
        }
        struct reset_flag {
            bool& flag;
            ~reset_flag() { flag = false; }
        } guard{draining_};
        draining_ = true;
        do {
            redrain_ = false;
            drain_events();
            if (closed_) return;
            drain_datagrams();
            drain_events();
            if (closed_) return;
        } while (redrain_);
        rearm_timer();
    }

    void drain_events() {
        while (auto ev = layer_.poll_event()) {
            ++counters_.events;
            deliver(*ev);
            if (closed_) return;
        }
    }

    void deliver(const event_type& ev) {
        if (handler_) {
            handler_(ev);
            return;
        }
        if (waiter_) {  // the queue is empty whenever someone waits
            auto w = std::move(waiter_);
            w->complete({}, EventPolicy::make(ev), get_executor());
            return;
        }
        if (options_.event_queue_capacity == 0) {
            ++counters_.events_dropped;
            return;
        }
        if (queue_.size() >= options_.event_queue_capacity) {
            queue_.pop_front();
            ++counters_.events_dropped;
        }
        queue_.push_back(EventPolicy::make(ev));
    }

    void drain_datagrams() {
        const time_point now = clock::now();
        std::size_t produced = 0;
        for (;;) {
            if (produced == options_.max_datagrams_per_drain) {
                schedule_drain();
                break;
            }
            std::span<std::byte> slot = socket_.prepare_send();
            if (slot.empty()) {
                send_pending();
                slot = socket_.prepare_send();
            }
            std::optional<transmit> t = layer_.poll_datagram(slot, now);
            if (!t) break;
            socket_.commit_send(t->size, t->to);
            ++produced;
        }
        if (socket_.pending_sends() != 0) send_pending();
    }

    void send_pending() {
        if (auto ec = socket_.flush_sends()) last_error_ = ec;
    }

    void schedule_drain() {
        if (drain_posted_) return;
        drain_posted_ = true;
        net::post(get_executor(), [this, alive = weak_alive()] {
            if (alive.expired()) return;
            drain_posted_ = false;
            if (!closed_) drain();
        });
    }

    void rearm_timer() {
        const std::optional<time_point> d = layer_.deadline();
        if (d == armed_) return;
        armed_ = d;
        ++timer_generation_;
        if (!d) {
            boost::system::error_code ignored;
            timer_.cancel(ignored);
            return;
        }
        ++counters_.timer_arms;
        timer_.expires_at(*d);  // cancels a wait in progress
        timer_.async_wait([this, alive = weak_alive(),
                           gen = timer_generation_](const boost::system::error_code& ec) {
            if (alive.expired() || ec == net::error::operation_aborted || closed_) return;
            if (gen != timer_generation_) return;  // completed just before a re-arm
            on_timer();
        });
    }

    void on_timer() {
        armed_.reset();
        const time_point now = clock::now();
        const std::optional<time_point> d = layer_.deadline();
        if (d && *d <= now) {
            ++counters_.deadlines;
            layer_.handle_deadline(now);
        }
        drain();
    }

    Layer layer_;
    endpoint_options options_;
    udp_socket socket_;
    net::steady_timer timer_;
    std::optional<time_point> armed_;
    std::uint64_t timer_generation_ = 0;
    std::function<void(const event_type&)> handler_;
    std::deque<value_type> queue_;
    std::unique_ptr<waiter_base> waiter_;
    endpoint_counters counters_;
    boost::system::error_code last_error_;
    bool closed_ = false;
    bool draining_ = false;
    bool redrain_ = false;
    bool drain_posted_ = false;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // handlers hold a weak_ptr to it
};

}  // namespace neutrino::io
