#pragma once
/// \file
/// `neutrino::io::endpoint<Layer, Transport>`: the driver. It runs one sans-IO
/// `datagram_layer` (a client or a server machine, of any stack) over one
/// `datagram_transport` (a UDP socket by default) on an Asio executor, reads the clock,
/// flushes, and offers the application completion-token operations.
///
/// ## The application's operations
/// Every operation takes a completion token: a callback, `net::use_future`, or
/// `net::use_awaitable`; completions run as if by `net::post` on the handler's associated
/// executor (default: the endpoint's). Any number may be pending at once. Errors are
/// `boost::system::error_code`s; the machines' own codes (core::errc, extended::errc) come back
/// through `io::to_boost`, so `io::to_std(ec) == core::errc::timed_out` tests them.
///
/// | operation | layers | completes with | when |
/// |---|---|---|---|
/// | `async_connect(t)` | clients | `(ec)` | the handshake completed, or the attempt ended (`ec` says why), or `connect_timeout` passed (core::errc::timed_out) |
/// | `async_send(words, t)` | clients | `(ec)` | the layer accepted the message (the words are copied if it has to wait), in call order; while the layer refuses with would_block it waits, retried on the layer's `writable` event and after each drain |
/// | `async_receive(t)` | clients | `(ec, message)` | the next whole message (owned); `ec` is the session's end reason after the last one |
/// | `async_accept(t)` | servers | `(ec, session)` | a session completed its handshake; `session` has `async_send`, `async_receive`, `close` as above |
///
/// The endpoint sends what the layer produced once per executor turn after any of these calls
/// (so batches survive), and re-arms its one timer; nothing is left for the caller to flush.
/// Which events are handshakes, messages, ends and room to send is what the layer's event
/// type declares in `io::application_traits` (`io/message.hpp`).
///
/// ## The loop (all on the endpoint's executor, no threads)
///  1. when the transport is readable: `receive_batch`, `layer.handle_datagram(bytes, from,
///     now)` for each datagram (`now` read once per batch), and the events it produced are
///     delivered before the next one (their views would not survive it);
///  2. after each batch, after the timer and once per turn after an operation: drain
///     `poll_event()` and `poll_datagram(out, now)` straight into the transport's send slots,
///     then `flush_sends`;
///  3. one `steady_timer` for `layer.deadline()`; on expiry `handle_deadline(now)` and drain.
///
/// ## Lower-level paths, kept for tools and benchmarks
///  - `set_event_handler`: every event synchronously while draining, views still fresh,
///    allocation-free. Messages go to the handler; once an application operation was started
///    (`async_connect`, `async_accept` or `async_receive`: start one before the peer can
///    speak), they are also kept for `async_receive`.
///  - `async_next_event`: queued events converted by the `EventPolicy` (the core's copies its
///    words); one waiter at a time. Messages go here only until an application operation was
///    started.
///  - `layer()`: the machine itself; calling it schedules a drain for this turn, so a send
///    made through it goes out without a `flush()`.
///
/// Lifetime: internal handlers hold only a weak token, so the endpoint may be destroyed at any
/// time on its executor's thread (the destructor calls `close()`, which completes every
/// pending operation with `net::error::operation_aborted`). Thread safety: none; use it from
/// its executor only (or before `run()`).

#include "neutrino/io/asio.hpp"

#include <boost/asio/system_executor.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/core/error.hpp"
#include "neutrino/core/observer.hpp"
#include "neutrino/core/owned_event.hpp"
#include "neutrino/core/words.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/io/error.hpp"
#include "neutrino/io/message.hpp"
#include "neutrino/io/transport.hpp"
#include "neutrino/io/udp_socket.hpp"
#include "neutrino/time.hpp"

namespace neutrino::io {

/// The default `EventPolicy`: queued events are copies of the layer's events. Correct for
/// value-type events only (see the file comment).
template <class Event>
struct copy_event {
    using value_type = Event;
    static value_type make(const Event& e) { return e; }
};

/// The `EventPolicy` an endpoint uses unless told otherwise: a plain copy, except for the core
/// machines' events, whose word views are copied out (`core::own_event`).
template <class Event>
struct default_event_policy {
    using type = copy_event<Event>;
};
template <>
struct default_event_policy<core::event> {
    using type = core::own_event;
};

/// Construction options of an endpoint.
struct endpoint_options {
    udp_socket_options socket{};                 ///< options of the UDP socket (UDP transport)
    std::size_t event_queue_capacity = 4096;     ///< events kept for `async_next_event`
    std::size_t max_batches_per_wakeup = 16;     ///< receive batches before yielding to others
    std::size_t max_datagrams_per_drain = 1024;  ///< datagrams polled before yielding to others
    /// Messages kept per session for `async_receive`. Beyond it a message is dropped, counted
    /// in `messages_dropped`, and the session's next `async_receive` completes with
    /// `net::error::no_buffer_space` (nothing is lost silently).
    std::size_t message_queue_capacity = 65536;
    /// How long `async_connect` waits for the handshake before it completes with
    /// core::errc::timed_out (the machine may keep dialling: a v2 client redials every 3 s
    /// until it gets an answer; a later `async_connect` waits anew). Zero: wait as long as the
    /// machine tries.
    duration connect_timeout = std::chrono::seconds(10);
};

/// What an endpoint did (the transport's own counters are in `transport()`).
struct endpoint_counters {
    std::uint64_t datagrams_rejected = 0;  ///< `handle_datagram` returned an error
    std::uint64_t events = 0;              ///< events polled from the layer
    std::uint64_t events_dropped = 0;      ///< queued events dropped because the queue was full
    std::uint64_t deadlines = 0;           ///< `handle_deadline` calls
    std::uint64_t timer_arms = 0;          ///< times the timer was (re)armed
    std::uint64_t wakeups = 0;             ///< readiness notifications handled
    std::uint64_t messages_dropped = 0;    ///< messages beyond `message_queue_capacity`
    std::uint64_t sends_waited = 0;        ///< `async_send`s that had to wait for room
};

/// A client machine: `connect(now)` and `send(words, now)`.
template <class L>
concept client_layer = requires(L& l, core::word_list w, time_point t) {
    { l.connect(t) } -> std::same_as<result<void>>;
    { l.send(w, t) } -> std::same_as<result<void>>;
    { l.established() } -> std::same_as<bool>;
    { l.state() } -> std::same_as<core::session_state>;
};
/// A server machine: `send(session, words, now)` and `drop_session(session, now)`.
template <class L>
concept server_layer = requires(L& l, std::uint64_t id, core::word_list w, time_point t) {
    { l.send(id, w, t) } -> std::same_as<result<void>>;
    l.drop_session(id, t);
};

template <datagram_layer Layer, datagram_transport Transport = udp_socket,
          class EventPolicy = typename default_event_policy<typename Layer::event_type>::type>
class endpoint {
public:
    using layer_type = Layer;
    using transport_type = Transport;
    using event_type = typename Layer::event_type;
    /// What `async_next_event` completes with.
    using value_type = typename EventPolicy::value_type;
    using executor_type = net::any_io_executor;
    using next_event_signature = void(boost::system::error_code, value_type);
    using connect_signature = void(boost::system::error_code);
    using send_signature = void(boost::system::error_code);
    using receive_signature = void(boost::system::error_code, message);

    class session;
    using accept_signature = void(boost::system::error_code, session);

    /// UDP: opens and binds a socket at `local` (port 0 for an ephemeral one, e.g.
    /// `127.0.0.1:0` for a client), takes `layer` and starts the loop on `ex` (posted: it runs
    /// once the executor runs). Throws `boost::system::system_error` when the socket cannot be
    /// opened or bound.
    endpoint(const executor_type& ex, const net::ip::udp::endpoint& local, Layer layer,
             const endpoint_options& options = {})
        requires std::same_as<Transport, udp_socket>
        : layer_(std::move(layer)), options_(options), transport_(ex, local, options.socket), timer_(ex) {
        start();
    }
    /// Same, on `ctx`'s executor.
    endpoint(net::io_context& ctx, const net::ip::udp::endpoint& local, Layer layer,
             const endpoint_options& options = {})
        requires std::same_as<Transport, udp_socket>
        : endpoint(ctx.get_executor(), local, std::move(layer), options) {}

    /// Any transport, constructed in place from `transport_args` (e.g. `ex, network,
    /// address` for `memory_transport`).
    template <class... TransportArgs>
    endpoint(Layer layer, const endpoint_options& options, std::in_place_t, TransportArgs&&... transport_args)
        : layer_(std::move(layer)),
          options_(options),
          transport_(std::forward<TransportArgs>(transport_args)...),
          timer_(transport_.get_executor()) {
        start();
    }

    endpoint(const endpoint&) = delete;
    endpoint& operator=(const endpoint&) = delete;

    /// Calls `close()`.
    ~endpoint() { close(); }

    [[nodiscard]] executor_type get_executor() noexcept { return transport_.get_executor(); }

    /// The machine, for what the operations do not cover (statistics, configuration, a
    /// streamed send). A drain is scheduled for this turn, so what a call on it produces is
    /// sent without a `flush()`.
    [[nodiscard]] Layer& layer() {
        schedule_drain();
        return layer_;
    }
    [[nodiscard]] const Layer& layer() const noexcept { return layer_; }
    /// Same as `layer()` (Beast's name for the owned lower layer).
    [[nodiscard]] Layer& next_layer() { return layer(); }

    [[nodiscard]] Transport& transport() noexcept { return transport_; }
    [[nodiscard]] const Transport& transport() const noexcept { return transport_; }
    /// The UDP socket (UDP transport), for its counters, `connect`, `local_address`.
    [[nodiscard]] udp_socket& socket() noexcept
        requires std::same_as<Transport, udp_socket>
    {
        return transport_;
    }
    [[nodiscard]] const udp_socket& socket() const noexcept
        requires std::same_as<Transport, udp_socket>
    {
        return transport_;
    }
    [[nodiscard]] net::ip::udp::endpoint local_endpoint() const
        requires std::same_as<Transport, udp_socket>
    {
        return transport_.local_endpoint();
    }
    [[nodiscard]] peer_address local_address() const { return transport_.local_address(); }

    [[nodiscard]] const endpoint_counters& counters() const noexcept { return counters_; }
    /// Events waiting for `async_next_event`.
    [[nodiscard]] std::size_t queued_events() const noexcept { return queue_.size(); }
    /// The fatal transport error that stopped the loop, if any.
    [[nodiscard]] boost::system::error_code last_error() const noexcept { return last_error_; }
    [[nodiscard]] bool is_open() const noexcept { return !closed_; }
    /// The time the endpoint reads (its clock), for calls made through `layer()`.
    [[nodiscard]] static time_point now() noexcept { return clock::now(); }

    /// Delivers every event synchronously to `handler` while draining (views in the event are
    /// valid during the call; the handler may call `layer()`). An empty function switches back
    /// to queueing. Events already queued stay queued.
    void set_event_handler(std::function<void(const event_type&)> handler) {
        handler_ = std::move(handler);
    }

    /// Drains the layer now instead of later in this turn: delivers its events, sends its
    /// datagrams and re-arms the timer. Never needed for correctness (every operation and
    /// `layer()` schedule a drain); useful before `close()` for a goodbye. A no-op after
    /// `close()`.
    void flush() {
        if (closed_) return;
        drain();
    }

    /// Waits for the next event (see the file comment). Errors: `net::error::already_started`
    /// when another call is still waiting; `net::error::operation_aborted` when the endpoint is
    /// closed while waiting, or after `close()` once the queue is empty.
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(next_event_signature) Token>
    auto async_next_event(Token&& token) {
        return net::async_initiate<Token, next_event_signature>(
            [this](auto&& handler) { initiate_next_event(std::forward<decltype(handler)>(handler)); },
            token);
    }

    // --- the application's operations ----------------------------------------------------------

    /// Client: dials (unless a handshake is already under way) and completes once the session
    /// is established, at once if it already is. Errors: the session's end reason (e.g.
    /// core::errc::timed_out when the server never answered), or what `connect` refused.
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(connect_signature) Token>
        requires client_layer<Layer> && application_event<event_type>
    auto async_connect(Token&& token) {
        return net::async_initiate<Token, connect_signature>(
            [this](auto&& handler) { initiate_connect(std::forward<decltype(handler)>(handler)); },
            token);
    }

    /// Client: sends one message. Completes when the layer accepted it (see the table). `words`
    /// must stay valid until the operation starts (for `use_awaitable`: until `co_await`); they
    /// are copied only when the message has to wait for room.
    /// Errors: what the layer refused (not_connected, draining, too_many_words, …), the
    /// session's end reason for a send still waiting when it ended, operation_aborted on close.
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(send_signature) Token>
        requires client_layer<Layer> && application_event<event_type>
    auto async_send(core::word_list words, Token&& token) {
        return net::async_initiate<Token, send_signature>(
            [this, words](auto&& handler) {
                initiate_send(client_channel_, words, std::forward<decltype(handler)>(handler));
            },
            token);
    }

    /// Client: the next message of the session (see the table).
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(receive_signature) Token>
        requires client_layer<Layer> && application_event<event_type>
    auto async_receive(Token&& token) {
        return net::async_initiate<Token, receive_signature>(
            [this](auto&& handler) { initiate_receive(&client_channel_, std::forward<decltype(handler)>(handler)); },
            token);
    }

    /// Server: the next session that completed its handshake and was not accepted yet.
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(accept_signature) Token>
        requires server_layer<Layer> && application_event<event_type>
    auto async_accept(Token&& token) {
        return net::async_initiate<Token, accept_signature>(
            [this](auto&& handler) { initiate_accept(std::forward<decltype(handler)>(handler)); },
            token);
    }

    /// Client: ends the session politely (the layer's `close`: CLIENT_GOOD_BYE, or v3's
    /// authenticated close), sends that now, then `close()`s the endpoint.
    void disconnect()
        requires client_layer<Layer> && requires(Layer& l, time_point t) { l.close(t); }
    {
        if (closed_) return;
        layer_.close(clock::now());
        drain();
        close();
    }

    /// Server: starts the layer's shutdown (SERVER_SHUTDOWN to every session; the reliable
    /// server first lingers until its data is acknowledged). The endpoint keeps running until
    /// `close()`.
    void shutdown()
        requires server_layer<Layer> && requires(Layer& l, time_point t) { l.shutdown(t); }
    {
        if (closed_) return;
        layer_.shutdown(clock::now());
        schedule_drain();
    }

    /// Stops the loop: cancels the timer and the transport's wait, closes the transport, and
    /// completes every pending operation with `net::error::operation_aborted`. Datagrams the
    /// layer has not produced yet are not sent: `flush()` first for a goodbye. Idempotent.
    void close() noexcept {
        if (closed_) return;
        closed_ = true;
        boost::system::error_code ignored;
        timer_.cancel(ignored);
        connect_timer_.cancel(ignored);
        armed_.reset();
        transport_.close();
        const auto aborted = make_aborted();
        if (waiter_) {
            auto w = std::move(waiter_);
            w->complete(get_executor(), aborted, value_type{});
        }
        complete_connectors(aborted);
        fail_channel(client_channel_, aborted);
        for (auto& [id, c] : channels_) fail_channel(c, aborted);
        auto accepts = std::move(acceptors_);
        for (auto& a : accepts) a->complete(get_executor(), aborted, session{});
    }

    /// A server session accepted by `async_accept`: a small handle (copyable) on the endpoint,
    /// valid while the endpoint lives.
    class session {
    public:
        session() = default;
        [[nodiscard]] std::uint64_t id() const noexcept { return id_; }
        [[nodiscard]] const peer_address& peer() const noexcept { return peer_; }
        [[nodiscard]] bool valid() const noexcept { return ep_ != nullptr; }

        /// Sends one message on this session (as the client's `async_send`).
        /// On a default-constructed handle (`!valid()`), both operations complete with
        /// `net::error::bad_descriptor` on the handler's associated executor (default: the
        /// system executor).
        template <BOOST_ASIO_COMPLETION_TOKEN_FOR(send_signature) Token>
        auto async_send(core::word_list words, Token&& token) {
            return net::async_initiate<Token, send_signature>(
                [ep = ep_, id = id_, words](auto&& handler) {
                    if (ep == nullptr) {
                        post_completion(std::forward<decltype(handler)>(handler), net::system_executor(),
                                        boost::system::error_code(net::error::bad_descriptor));
                        return;
                    }
                    ep->initiate_session_send(id, words, std::forward<decltype(handler)>(handler));
                },
                token);
        }
        /// The next message of this session; after the last one, its end reason.
        template <BOOST_ASIO_COMPLETION_TOKEN_FOR(receive_signature) Token>
        auto async_receive(Token&& token) {
            return net::async_initiate<Token, receive_signature>(
                [ep = ep_, id = id_](auto&& handler) {
                    if (ep == nullptr) {
                        post_completion(std::forward<decltype(handler)>(handler), net::system_executor(),
                                        boost::system::error_code(net::error::bad_descriptor), message{});
                        return;
                    }
                    ep->initiate_receive(ep->find_channel(id), std::forward<decltype(handler)>(handler));
                },
                token);
        }
        /// Ends the session as the machine's `drop_session` does (wire v2 has no server-side
        /// close: the client times out); this side's pending operations complete with
        /// core::errc::closed.
        void close() {
            if (ep_ != nullptr && !ep_->closed_) ep_->close_session(id_);
        }

    private:
        friend class endpoint;
        session(endpoint* ep, std::uint64_t id, const peer_address& peer) : ep_(ep), id_(id), peer_(peer) {}
        endpoint* ep_ = nullptr;
        std::uint64_t id_ = 0;
        peer_address peer_;
    };

private:
    // --- type-erased waiting operations ----------------------------------------------------------

    template <class... Args>
    struct op_base {
        virtual ~op_base() = default;
        virtual void complete(const executor_type& fallback, Args... args) = 0;
    };
    template <class Handler, class... Args>
    struct op final : op_base<Args...> {
        explicit op(Handler&& h) : handler(std::move(h)) {}
        void complete(const executor_type& fallback, Args... args) override {
            post_completion(std::move(handler), fallback, std::move(args)...);
        }
        Handler handler;
    };
    template <class... Args, class Handler>
    static std::unique_ptr<op_base<Args...>> make_op(Handler&& h) {
        using handler_type = std::decay_t<Handler>;
        return std::make_unique<op<handler_type, Args...>>(handler_type(std::forward<Handler>(h)));
    }
    template <class Handler, class... Args>
    static void post_completion(Handler&& handler, const executor_type& fallback, Args... args) {
        auto ex = net::get_associated_executor(handler, fallback);
        net::post(ex, [h = std::forward<Handler>(handler), ... a = std::move(args)]() mutable {
            std::move(h)(std::move(a)...);
        });
    }

    using void_op = op_base<boost::system::error_code>;
    using receive_op = op_base<boost::system::error_code, message>;
    using accept_op = op_base<boost::system::error_code, session>;
    using next_event_op = op_base<boost::system::error_code, value_type>;

    struct pending_send {
        message words;  // owned copy while it waits
        std::unique_ptr<void_op> done;
    };
    /// One session's application state (the client has one, a server one per session).
    struct channel {
        std::uint64_t id = 0;
        peer_address peer;
        std::deque<message> inbox;
        std::deque<std::unique_ptr<receive_op>> receivers;
        std::deque<pending_send> sends;
        std::error_code end;  ///< why it ended, once `ended`
        bool ended = false;
        bool reported = false;    ///< `end` reached the application (a receive or a send)
        bool overflowed = false;  ///< a message was dropped: report it once
        bool accepted = false;
    };

    static boost::system::error_code make_aborted() noexcept {
        return net::error::operation_aborted;
    }

    [[nodiscard]] std::weak_ptr<void> weak_alive() const noexcept { return alive_; }

    void start() {
        net::post(get_executor(), [this, alive = weak_alive()] {
            if (alive.expired() || closed_) return;
            drain();
            on_readable();
        });
    }

    // --- initiations ---------------------------------------------------------------------------

    template <class Handler>
    void initiate_next_event(Handler&& handler) {
        if (!queue_.empty()) {
            value_type v = std::move(queue_.front());
            queue_.pop_front();
            post_completion(std::forward<Handler>(handler), get_executor(), boost::system::error_code{}, std::move(v));
        } else if (waiter_) {
            post_completion(std::forward<Handler>(handler), get_executor(),
                            boost::system::error_code(net::error::already_started), value_type{});
        } else if (closed_) {
            post_completion(std::forward<Handler>(handler), get_executor(), make_aborted(), value_type{});
        } else {
            waiter_ = make_op<boost::system::error_code, value_type>(std::forward<Handler>(handler));
        }
    }

    template <class Handler>
    void initiate_connect(Handler&& handler) {
        receiving_ = true;  // from now on messages are kept for async_receive
        if (closed_) {
            post_completion(std::forward<Handler>(handler), get_executor(), make_aborted());
            return;
        }
        if (layer_.established()) {
            post_completion(std::forward<Handler>(handler), get_executor(), boost::system::error_code{});
            return;
        }
        if (layer_.state() != core::session_state::pending) {
            if (client_channel_.ended) client_channel_ = channel{};  // its operations completed
            if (auto r = layer_.connect(clock::now()); !r) {
                post_completion(std::forward<Handler>(handler), get_executor(), to_boost(r.error()));
                return;
            }
        }
        connectors_.push_back(make_op<boost::system::error_code>(std::forward<Handler>(handler)));
        if (connectors_.size() == 1 && options_.connect_timeout > duration::zero()) arm_connect_timer();
        schedule_drain();
    }

    void arm_connect_timer() {
        connect_timer_.expires_after(options_.connect_timeout);
        connect_timer_.async_wait([this, alive = weak_alive()](const boost::system::error_code& ec) {
            if (alive.expired() || ec == net::error::operation_aborted || closed_) return;
            complete_connectors(to_boost(core::make_error_code(core::errc::timed_out)));
        });
    }

    // Completes every waiting async_connect with `ec` and stops their timeout.
    void complete_connectors(boost::system::error_code ec) {
        boost::system::error_code ignored;
        connect_timer_.cancel(ignored);
        auto waiting = std::move(connectors_);
        for (auto& w : waiting) w->complete(get_executor(), ec);
    }

    template <class Handler>
    void initiate_session_send(std::uint64_t id, core::word_list words, Handler&& handler) {
        channel* c = find_channel(id);
        if (c == nullptr) {
            post_completion(std::forward<Handler>(handler), get_executor(),
                            to_boost(core::make_error_code(core::errc::unknown_session)));
            return;
        }
        initiate_send(*c, words, std::forward<Handler>(handler));
    }

    template <class Handler>
    void initiate_send(channel& c, core::word_list words, Handler&& handler) {
        if (closed_) {
            post_completion(std::forward<Handler>(handler), get_executor(), make_aborted());
            return;
        }
        if (c.sends.empty()) {
            auto r = layer_send(c.id, words);
            if (r || r.error() != core::errc::would_block) {
                schedule_drain();
                post_completion(std::forward<Handler>(handler), get_executor(),
                                r ? boost::system::error_code{} : to_boost(r.error()));
                return;
            }
        }
        ++counters_.sends_waited;
        note_waiting(c.id);
        c.sends.push_back(pending_send{message(words), make_op<boost::system::error_code>(std::forward<Handler>(handler))});
        schedule_drain();
    }

    template <class Handler>
    void initiate_receive(channel* c, Handler&& handler) {
        receiving_ = true;
        if (closed_) {
            post_completion(std::forward<Handler>(handler), get_executor(), make_aborted(), message{});
            return;
        }
        if (c == nullptr) {
            post_completion(std::forward<Handler>(handler), get_executor(),
                            to_boost(core::make_error_code(core::errc::unknown_session)), message{});
            return;
        }
        if (c->overflowed) {
            c->overflowed = false;
            post_completion(std::forward<Handler>(handler), get_executor(),
                            boost::system::error_code(net::error::no_buffer_space), message{});
            return;
        }
        if (!c->inbox.empty()) {
            message m = std::move(c->inbox.front());
            c->inbox.pop_front();
            post_completion(std::forward<Handler>(handler), get_executor(), boost::system::error_code{}, std::move(m));
            return;
        }
        if (c->ended) {
            post_completion(std::forward<Handler>(handler), get_executor(), to_boost(c->end), message{});
            c->reported = true;
            forget_if_done(*c);
            return;
        }
        c->receivers.push_back(make_op<boost::system::error_code, message>(std::forward<Handler>(handler)));
    }

    template <class Handler>
    void initiate_accept(Handler&& handler) {
        receiving_ = true;
        if (closed_) {
            post_completion(std::forward<Handler>(handler), get_executor(), make_aborted(), session{});
            return;
        }
        if (!backlog_.empty()) {
            const std::uint64_t id = backlog_.front();
            backlog_.pop_front();
            post_completion(std::forward<Handler>(handler), get_executor(), boost::system::error_code{}, accept(id));
            return;
        }
        acceptors_.push_back(make_op<boost::system::error_code, session>(std::forward<Handler>(handler)));
    }

    // --- application routing -------------------------------------------------------------------

    result<void> layer_send(std::uint64_t id, core::word_list words) {
        if constexpr (client_layer<Layer>) {
            (void)id;
            return layer_.send(words, clock::now());
        } else if constexpr (server_layer<Layer>) {
            return layer_.send(id, words, clock::now());
        } else {  // a layer with no application operations: nothing ever waits
            (void)id;
            (void)words;
            return fail(core::errc::not_connected);
        }
    }

    channel* find_channel(std::uint64_t id) {
        if constexpr (client_layer<Layer>) {
            (void)id;
            return &client_channel_;
        } else {
            auto it = channels_.find(id);
            return it == channels_.end() ? nullptr : &it->second;
        }
    }

    session accept(std::uint64_t id) {
        channel* c = find_channel(id);
        if (c != nullptr) c->accepted = true;
        return session(this, id, c != nullptr ? c->peer : peer_address{});
    }

    void close_session(std::uint64_t id) {
        if constexpr (server_layer<Layer>) {
            layer_.drop_session(id, clock::now());
            schedule_drain();
            if (channel* c = find_channel(id); c != nullptr && !c->ended) {
                end_channel(*c, core::make_error_code(core::errc::closed));
            }
        }
    }

    // Routes one event to the operations it completes. Returns true when it was a message
    // taken by `async_receive` (then it is not queued for `async_next_event`).
    bool route(const event_type& ev) {
        if constexpr (!application_event<event_type>) {
            (void)ev;
            return false;
        } else {
            using traits = application_traits<event_type>;
            switch (traits::classify(ev)) {
                case app_kind::established: on_established(traits::session_of(ev), traits::peer_of(ev)); return false;
                case app_kind::closed: on_closed(traits::session_of(ev), traits::reason_of(ev)); return false;
                case app_kind::writable:
                    if (channel* c = find_channel(traits::session_of(ev))) {
                        if (retry_sends(*c)) schedule_drain();
                    }
                    return false;
                case app_kind::message: {
                    if (!receiving_) return false;
                    channel* c = find_channel(traits::session_of(ev));
                    if (c == nullptr) return true;  // a session nobody can see any more
                    message m;
                    traits::copy_message(ev, m);
                    m.session_id = traits::session_of(ev);
                    m.peer = traits::peer_of(ev);
                    if (!c->receivers.empty()) {
                        auto r = std::move(c->receivers.front());
                        c->receivers.pop_front();
                        r->complete(get_executor(), {}, std::move(m));
                    } else if (c->inbox.size() >= options_.message_queue_capacity) {
                        ++counters_.messages_dropped;
                        c->overflowed = true;
                    } else {
                        c->inbox.push_back(std::move(m));
                    }
                    return true;
                }
                case app_kind::other: return false;
            }
            return false;
        }
    }

    void on_established(std::uint64_t id, const peer_address& peer) {
        if constexpr (client_layer<Layer>) {
            client_channel_.id = id;
            client_channel_.peer = peer;
            complete_connectors({});
        } else {
            channel& c = channels_[id];
            c = channel{};
            c.id = id;
            c.peer = peer;
            if (!acceptors_.empty()) {
                auto a = std::move(acceptors_.front());
                acceptors_.pop_front();
                a->complete(get_executor(), {}, accept(id));
            } else {
                backlog_.push_back(id);
            }
        }
    }

    void on_closed(std::uint64_t id, std::error_code reason) {
        if (!reason) reason = core::make_error_code(core::errc::closed);
        if constexpr (client_layer<Layer>) {
            (void)id;
            complete_connectors(to_boost(reason));
            end_channel(client_channel_, reason);
        } else {
            auto it = channels_.find(id);
            if (it == channels_.end()) return;
            if (!it->second.accepted) {
                std::erase(backlog_, id);
                channels_.erase(it);
                return;
            }
            end_channel(it->second, reason);
        }
    }

    void end_channel(channel& c, std::error_code reason) {
        if (c.ended) return;
        c.ended = true;
        c.end = reason;
        c.reported = !c.receivers.empty() || !c.sends.empty();
        fail_channel(c, to_boost(reason));  // receivers wait only while the inbox is empty
        forget_if_done(c);
    }

    // A server session that ended, whose end reached the application (a receive or send it
    // had pending, or its next receive) and holds nothing more is forgotten; until then a late
    // async_receive gets the session's reason, not unknown_session.
    void forget_if_done(channel& c) {
        if constexpr (server_layer<Layer>) {
            if (c.ended && c.reported && c.inbox.empty() && c.receivers.empty() && c.sends.empty()) {
                channels_.erase(c.id);
            }
        }
    }

    // Completes the channel's waiting sends and receives with `ec`.
    void fail_channel(channel& c, boost::system::error_code ec) {
        auto sends = std::move(c.sends);
        for (auto& s : sends) s.done->complete(get_executor(), ec);
        auto receivers = std::move(c.receivers);
        for (auto& r : receivers) r->complete(get_executor(), ec, message{});
    }

    // Offers waiting sends to the layer in order until it refuses for lack of room; true when
    // it took at least one.
    bool retry_sends(channel& c) {
        bool took = false;
        while (!c.sends.empty()) {
            auto& s = c.sends.front();
            const std::vector<core::word> words = s.words.words();
            auto r = layer_send(c.id, words);
            if (!r && r.error() == core::errc::would_block) return took;
            took = true;
            auto done = std::move(s.done);
            c.sends.pop_front();
            done->complete(get_executor(), r ? boost::system::error_code{} : to_boost(r.error()));
        }
        return took;
    }

    // Retries every session with waiting sends (only those: `waiting_` lists them).
    bool retry_waiting() {
        bool took = false;
        const auto ids = std::exchange(waiting_, {});
        for (std::uint64_t id : ids) {
            channel* c = find_channel(id);
            if (c == nullptr) continue;
            took = retry_sends(*c) || took;
            if (!c->sends.empty()) note_waiting(id);
        }
        return took;
    }

    void note_waiting(std::uint64_t id) {
        if (std::find(waiting_.begin(), waiting_.end(), id) == waiting_.end()) waiting_.push_back(id);
    }

    // --- the loop --------------------------------------------------------------------------------

    void wait_readable() {
        transport_.async_wait_readable([this, alive = weak_alive()](const boost::system::error_code& ec) {
            if (alive.expired() || ec == net::error::operation_aborted || closed_) return;
            on_readable();
        });
    }

    void on_readable() {
        ++counters_.wakeups;
        for (std::size_t batch = 0; batch < options_.max_batches_per_wakeup; ++batch) {
            boost::system::error_code ec;
            const time_point now = clock::now();
            transport_.receive_batch(
                [this, now](std::span<const std::byte> datagram, const peer_address& from) {
                    if (closed_) return;  // the event handler closed us mid-batch
                    if (!layer_.handle_datagram(datagram, from, now)) ++counters_.datagrams_rejected;
                    // Views inside events are valid only until the next call on the layer:
                    // deliver them before the next datagram of the batch.
                    drain_events();
                },
                ec);
            if (ec == net::error::would_block) {
                drain();
                if (!closed_) wait_readable();
                return;
            }
            drain();
            if (closed_) return;
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
            // Sends that waited for room: the datagrams just handed over may have made some
            // (a core machine's queue), an acknowledgement may have (a `writable` event).
            if (!waiting_.empty() && retry_waiting()) redrain_ = true;
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
        const bool taken = route(ev);
        if (closed_) return;
        if (handler_) {
            handler_(ev);
            return;
        }
        if (taken) return;
        if (waiter_) {  // the queue is empty whenever someone waits
            auto w = std::move(waiter_);
            w->complete(get_executor(), {}, EventPolicy::make(ev));
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
            std::span<std::byte> slot = transport_.prepare_send();
            if (slot.empty()) {
                send_pending();
                slot = transport_.prepare_send();
            }
            std::optional<transmit> t = layer_.poll_datagram(slot, now);
            if (!t) break;
            transport_.commit_send(t->size, t->to);
            ++produced;
        }
        if (transport_.pending_sends() != 0) send_pending();
    }

    void send_pending() {
        if (auto ec = transport_.flush_sends()) last_error_ = ec;
    }

    void schedule_drain() {
        if (drain_posted_ || closed_) return;
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
        timer_.async_wait([this, alive = weak_alive(), gen = timer_generation_](const boost::system::error_code& ec) {
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
    Transport transport_;
    net::steady_timer timer_;
    net::steady_timer connect_timer_{timer_.get_executor()};  ///< bounds async_connect
    std::optional<time_point> armed_;
    std::uint64_t timer_generation_ = 0;
    std::function<void(const event_type&)> handler_;
    std::deque<value_type> queue_;
    std::unique_ptr<next_event_op> waiter_;
    // application state
    channel client_channel_;                         ///< clients: the one session
    std::unordered_map<std::uint64_t, channel> channels_;  ///< servers: by session id
    std::deque<std::uint64_t> backlog_;              ///< servers: established, not accepted yet
    std::deque<std::unique_ptr<accept_op>> acceptors_;
    std::deque<std::unique_ptr<void_op>> connectors_;
    std::vector<std::uint64_t> waiting_;  ///< sessions with sends waiting for room
    bool receiving_ = false;  ///< an async_receive/async_accept was started: messages go there
    endpoint_counters counters_;
    boost::system::error_code last_error_;
    bool closed_ = false;
    bool draining_ = false;
    bool redrain_ = false;
    bool drain_posted_ = false;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // handlers hold a weak_ptr to it
};

}  // namespace neutrino::io
