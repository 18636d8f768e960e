#pragma once
/// \file
/// `udp_proxy`: the impaired link as a UDP proxy on the wall clock. It listens on one address,
/// forwards to one target, and runs every datagram through an `impairment` per direction
/// (client → server, server → client). It never parses what it forwards (any UDP protocol
/// works); with no impairment configured it forwards byte-identical datagrams.
///
/// Clients are mapped like a NAT: each client address gets its own upstream socket (an
/// ephemeral port connected to the target), so the target sees one peer per client and its
/// answers find their way back. At most `max_clients` mappings exist; one idle for
/// `idle_timeout` is removed. Datagrams from further clients are dropped and counted.
///
/// The loop (all on the proxy's executor, no threads):
///  1. a readable socket is read in batches (`datagram_receiver`: 64 KiB buffers, GRO);
///     each datagram is `submit`ted to its direction's impairment, tagged with its mapping;
///  2. after each batch and when the timer fires, whatever is due is `poll`ed and sent through
///     the right `neutrino::io::udp_socket` (sendmmsg, GSO; datagrams above its 2048-byte send
///     slots go out alone with `sendmsg`);
///  3. one `steady_timer` is armed for the earlier `next_due()` of the two impairments.
///
/// Bounded: memory by `impairment_config::max_held_size` per direction (past it copies are
/// dropped, `dropped_memory`), `max_clients` sockets, and one shared set of receive buffers
/// (32 × 64 KiB). A full socket buffer or an unreachable peer (ECONNREFUSED) drops the datagram
/// (`send_failed`); nothing stops the loop but a fatal socket error (EBADF, ENOTSOCK, EFAULT).
///
/// Accounting per direction, once nothing is in flight:
/// `received + duplicated = forwarded + dropped`, see `direction_summary`.
///
/// Lifetime: handlers hold a weak token, so the proxy may be destroyed at any time on its
/// executor's thread. Thread safety: none; use it from its executor only.

#include "neutrino/io/asio.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/inspector/impairment.hpp"
#include "neutrino/inspector/io/datagram_receiver.hpp"
#include "neutrino/io/udp_socket.hpp"
#include "neutrino/time.hpp"

#include <sys/socket.h>

namespace neutrino::inspector::io {

/// Configuration of a `udp_proxy`.
struct proxy_config {
    /// Where clients send to (port 0: an ephemeral port, see `udp_proxy::local_endpoint`).
    net::ip::udp::endpoint listen{net::ip::address_v4::loopback(), 22754};
    /// Where their datagrams go.
    net::ip::udp::endpoint target{net::ip::address_v4::loopback(), 22753};
    impairment_config client_to_server{};
    impairment_config server_to_client{};
    /// Seeds both impairments through `derive_seed` (stream 0: client → server, 1: back), like
    /// `simulator`.
    std::uint64_t seed = 1;
    std::size_t max_clients = 64;                        ///< client mappings at most (≥ 1)
    duration idle_timeout = std::chrono::seconds(60);    ///< unmap a silent client (0: never)
    bool offload = true;                                 ///< GSO on send, GRO on receive
    int socket_buffer_size = 4 * 1024 * 1024;            ///< SO_RCVBUF and SO_SNDBUF requests
    std::size_t max_batches_per_wakeup = 16;             ///< receive batches before yielding
};

/// What the proxy itself did in one direction (the impairment's decisions are in its stats).
struct direction_counters {
    std::uint64_t received = 0;  ///< datagrams read for this direction
    std::uint64_t received_bytes = 0;
    std::uint64_t forwarded = 0;  ///< datagrams the kernel accepted
    std::uint64_t forwarded_bytes = 0;
    std::uint64_t send_failed = 0;     ///< dropped by a failed send (full buffer, refused, ...)
    std::uint64_t unroutable = 0;      ///< due after their client mapping was removed
    std::uint64_t no_client_slot = 0;  ///< from a new client while `max_clients` were mapped
};

/// Whole-proxy counters.
struct proxy_counters {
    direction_counters client_to_server;
    direction_counters server_to_client;
    std::uint64_t clients_mapped = 0;    ///< mappings created
    std::uint64_t clients_evicted = 0;   ///< mappings removed for idleness
    std::uint64_t clients_failed = 0;    ///< upstream sockets that could not be opened
    std::uint64_t wakeups = 0;           ///< readiness notifications handled
    std::uint64_t timer_arms = 0;        ///< times the timer was armed
    receive_counters listen_receive;     ///< reads of the listening socket
    receive_counters upstream_receive;   ///< reads of all upstream sockets
    /// Transient errors of the `sendmsg` path for datagrams above 2048 bytes (sendmmsg errors are
    /// in each `udp_socket`'s counters; their drops are in `send_failed` either way).
    ::neutrino::io::transient_error_counters large_send_errors;
};

/// One direction's outcome: the impairment's stats and the proxy's counts together.
struct direction_summary {
    impairment_stats impairment;
    direction_counters proxy;
    std::size_t in_flight = 0;  ///< copies the impairment still holds

    [[nodiscard]] std::uint64_t received() const noexcept { return proxy.received; }
    [[nodiscard]] std::uint64_t forwarded() const noexcept { return proxy.forwarded; }
    /// Every datagram (copy) not forwarded and not in flight, whatever the reason.
    [[nodiscard]] std::uint64_t dropped() const noexcept {
        return impairment.dropped() + proxy.send_failed + proxy.unroutable + proxy.no_client_slot;
    }
};

/// The proxy (see the file comment).
class udp_proxy {
public:
    using executor_type = net::any_io_executor;
    using config = proxy_config;

    /// Opens and binds the listening socket and starts the loop on `ex` (the first read is
    /// posted). Throws `boost::system::system_error` when the socket cannot be opened or bound,
    /// `std::invalid_argument` for `max_clients == 0` or what `impairment` rejects.
    udp_proxy(const executor_type& ex, config cfg)
        : cfg_(std::move(cfg)),
          start_(clock::now()),
          c2s_(cfg_.client_to_server, derive_seed(cfg_.seed, 0), start_),
          s2c_(cfg_.server_to_client, derive_seed(cfg_.seed, 1), start_),
          listen_(ex, cfg_.listen, socket_options()),
          timer_(ex),
          sweep_timer_(ex),
          target_(::neutrino::io::to_peer_address(cfg_.target)) {
        if (cfg_.max_clients == 0) throw std::invalid_argument("udp_proxy: max_clients is 0");
        if (cfg_.offload) enable_gro(listen_.next_layer().native_handle());
        listen_v6_ = cfg_.listen.address().is_v6();
        target_v6_ = cfg_.target.address().is_v6();
        slots_.resize(cfg_.max_clients);
        free_.reserve(cfg_.max_clients);
        for (std::size_t i = cfg_.max_clients; i-- > 0;) free_.push_back(i);
        dirty_.reserve(cfg_.max_clients);
        map_.reserve(cfg_.max_clients);
        net::post(ex, [this, alive = weak_alive()] {
            if (alive.expired() || closed_) return;
            on_listen_readable();
        });
    }

    /// Same, on `ctx`'s executor.
    udp_proxy(net::io_context& ctx, config cfg) : udp_proxy(ctx.get_executor(), std::move(cfg)) {}

    udp_proxy(const udp_proxy&) = delete;
    udp_proxy& operator=(const udp_proxy&) = delete;
    /// Calls `close()`.
    ~udp_proxy() { close(); }

    [[nodiscard]] executor_type get_executor() noexcept { return listen_.get_executor(); }
    /// The listening address (with the port the kernel chose for port 0).
    [[nodiscard]] net::ip::udp::endpoint local_endpoint() const { return listen_.local_endpoint(); }
    [[nodiscard]] const net::ip::udp::endpoint& target() const noexcept { return cfg_.target; }
    [[nodiscard]] const config& configuration() const noexcept { return cfg_; }
    /// The impairments, for their stats or a trace hook (`set_trace`).
    [[nodiscard]] impairment& client_to_server() noexcept { return c2s_; }
    [[nodiscard]] impairment& server_to_client() noexcept { return s2c_; }
    [[nodiscard]] const impairment& client_to_server() const noexcept { return c2s_; }
    [[nodiscard]] const impairment& server_to_client() const noexcept { return s2c_; }
    [[nodiscard]] const proxy_counters& counters() const noexcept { return counters_; }
    /// Client mappings now.
    [[nodiscard]] std::size_t clients() const noexcept { return map_.size(); }
    /// The fatal socket error that stopped the loop, if any.
    [[nodiscard]] boost::system::error_code last_error() const noexcept { return last_error_; }
    [[nodiscard]] bool is_open() const noexcept { return !closed_; }

    [[nodiscard]] direction_summary client_to_server_summary() const {
        return {c2s_.stats(), counters_.client_to_server, c2s_.pending()};
    }
    [[nodiscard]] direction_summary server_to_client_summary() const {
        return {s2c_.stats(), counters_.server_to_client, s2c_.pending()};
    }

    /// Sends what is due now (the loop does this by itself; useful right before `close()`).
    void flush() {
        if (!closed_) pump();
    }

    /// Stops: cancels the timers and closes every socket; copies still held are not sent (they
    /// stay counted as in flight). Idempotent.
    void close() noexcept {
        if (closed_) return;
        closed_ = true;
        boost::system::error_code ignored;
        timer_.cancel(ignored);
        sweep_timer_.cancel(ignored);
        listen_.close();
        for (auto& s : slots_) {
            if (s.upstream) s.upstream->close();
        }
    }

private:
    using socket = ::neutrino::io::udp_socket;
    static constexpr std::uint64_t no_route = std::numeric_limits<std::uint64_t>::max();
    static constexpr std::size_t no_slot = std::numeric_limits<std::size_t>::max();

    struct slot {
        std::unique_ptr<socket> upstream;
        peer_address client{};
        time_point last_active{};
        std::uint32_t generation = 0;
        bool dirty = false;
    };

    [[nodiscard]] ::neutrino::io::udp_socket_options socket_options() const noexcept {
        ::neutrino::io::udp_socket_options o;
        o.receive_buffer_size = cfg_.socket_buffer_size;
        o.send_buffer_size = cfg_.socket_buffer_size;
        o.gso = cfg_.offload;
        o.gro = false;  // GRO is switched on by hand: udp_socket would allocate 2 MiB for it
        return o;
    }

    [[nodiscard]] std::weak_ptr<void> weak_alive() const noexcept { return alive_; }

    static std::uint64_t tag_of(std::size_t index, std::uint32_t generation) noexcept {
        return std::uint64_t{generation} << 32 | static_cast<std::uint32_t>(index);
    }

    static std::size_t slot_index(std::uint64_t tag) noexcept {
        return static_cast<std::size_t>(tag & 0xffffffffU);
    }

    /// The live slot a tag names, or null when it was unmapped since.
    slot* slot_of(std::uint64_t tag) noexcept {
        const std::size_t index = slot_index(tag);
        if (index >= slots_.size()) return nullptr;
        slot& s = slots_[index];
        if (!s.upstream || s.generation != static_cast<std::uint32_t>(tag >> 32)) return nullptr;
        return &s;
    }

    // ---- receiving ---------------------------------------------------------------------------

    void wait_listen() {
        listen_.async_wait_readable(
            [this, alive = weak_alive()](const boost::system::error_code& ec) {
                if (alive.expired() || ec == net::error::operation_aborted || closed_) return;
                on_listen_readable();
            });
    }

    void on_listen_readable() {
        ++counters_.wakeups;
        const int fd = listen_.next_layer().native_handle();
        for (std::size_t batch = 0; batch < cfg_.max_batches_per_wakeup; ++batch) {
            boost::system::error_code ec;
            const time_point now = clock::now();
            receiver_.receive(
                fd,
                [this, now](std::span<const std::byte> datagram, const peer_address& from) {
                    direction_counters& dc = counters_.client_to_server;
                    ++dc.received;
                    dc.received_bytes += datagram.size();
                    const std::uint64_t tag = route(from, now);
                    if (tag == no_route) {
                        ++dc.no_client_slot;
                        return;
                    }
                    c2s_.submit(datagram, now, tag);
                },
                counters_.listen_receive, ec);
            if (ec == net::error::would_block) {
                pump();
                wait_listen();
                return;
            }
            pump();
            if (closed_) return;
            if (ec) {
                last_error_ = ec;  // fatal: stop reading clients; the rest keeps running
                return;
            }
        }
        post_continue([this] { on_listen_readable(); });
    }

    void wait_upstream(std::size_t index) {
        slot& s = slots_[index];
        s.upstream->async_wait_readable([this, alive = weak_alive(), index,
                                         generation = s.generation](
                                            const boost::system::error_code& ec) {
            if (alive.expired() || ec == net::error::operation_aborted || closed_) return;
            if (slots_[index].generation != generation || !slots_[index].upstream) return;
            on_upstream_readable(index);
        });
    }

    void on_upstream_readable(std::size_t index) {
        ++counters_.wakeups;
        slot& s = slots_[index];
        const int fd = s.upstream->next_layer().native_handle();
        const std::uint64_t tag = tag_of(index, s.generation);
        for (std::size_t batch = 0; batch < cfg_.max_batches_per_wakeup; ++batch) {
            boost::system::error_code ec;
            const time_point now = clock::now();
            const std::size_t n = receiver_.receive(
                fd,
                [this, now, tag](std::span<const std::byte> datagram, const peer_address&) {
                    direction_counters& dc = counters_.server_to_client;
                    ++dc.received;
                    dc.received_bytes += datagram.size();
                    s2c_.submit(datagram, now, tag);
                },
                counters_.upstream_receive, ec);
            if (n > 0) s.last_active = now;
            if (ec == net::error::would_block) {
                pump();
                if (!closed_ && slot_of(tag) != nullptr) wait_upstream(index);
                return;
            }
            pump();
            if (closed_ || slot_of(tag) == nullptr) return;
            if (ec) {
                last_error_ = ec;  // fatal for this mapping only: drop it
                unmap(index);
                return;
            }
        }
        post_continue([this, index, tag] {
            if (slot_of(tag) != nullptr) on_upstream_readable(index);
        });
    }

    template <class F>
    void post_continue(F f) {
        net::post(listen_.get_executor(), [this, alive = weak_alive(), f = std::move(f)] {
            if (alive.expired() || closed_) return;
            f();
        });
    }

    /// The mapping of `client` (created when new), as a tag; `no_route` when none can be made.
    std::uint64_t route(const peer_address& client, time_point now) {
        if (last_ < slots_.size() && slots_[last_].upstream && slots_[last_].client == client) {
            slots_[last_].last_active = now;
            return tag_of(last_, slots_[last_].generation);
        }
        if (auto it = map_.find(client); it != map_.end()) {
            last_ = it->second;
            slots_[last_].last_active = now;
            return tag_of(last_, slots_[last_].generation);
        }
        if (free_.empty()) return no_route;
        const std::size_t index = free_.back();
        slot& s = slots_[index];
        try {
            const net::ip::udp::endpoint local(cfg_.target.protocol(), 0);
            s.upstream = std::make_unique<socket>(listen_.get_executor(), local, socket_options());
            boost::system::error_code ec;
            s.upstream->connect(target_, ec);  // ICMP errors about the target get reported
            if (cfg_.offload) enable_gro(s.upstream->next_layer().native_handle());
        } catch (const std::exception&) {
            s.upstream.reset();
            ++counters_.clients_failed;
            return no_route;
        }
        free_.pop_back();
        s.client = client;
        s.last_active = now;
        s.dirty = false;
        map_.emplace(client, index);
        ++counters_.clients_mapped;
        last_ = index;
        wait_upstream(index);
        arm_sweep();
        return tag_of(index, s.generation);
    }

    void unmap(std::size_t index) {
        slot& s = slots_[index];
        if (!s.upstream) return;
        s.upstream->close();
        s.upstream.reset();
        ++s.generation;
        map_.erase(s.client);
        free_.push_back(index);
        if (last_ == index) last_ = no_slot;
    }

    // ---- idle sweep --------------------------------------------------------------------------

    void arm_sweep() {
        if (sweep_armed_ || cfg_.idle_timeout <= duration::zero()) return;
        sweep_armed_ = true;
        const duration period =
            std::clamp<duration>(cfg_.idle_timeout / 4, std::chrono::milliseconds(10),
                                 std::chrono::seconds(1));
        sweep_timer_.expires_after(period);
        sweep_timer_.async_wait([this, alive = weak_alive()](const boost::system::error_code& ec) {
            if (alive.expired() || ec == net::error::operation_aborted || closed_) return;
            sweep_armed_ = false;
            const time_point now = clock::now();
            for (std::size_t i = 0; i < slots_.size(); ++i) {
                if (slots_[i].upstream && now - slots_[i].last_active >= cfg_.idle_timeout) {
                    unmap(i);
                    ++counters_.clients_evicted;
                }
            }
            if (!map_.empty()) arm_sweep();
        });
    }

    // ---- sending -----------------------------------------------------------------------------

    /// Sends what both impairments have due, flushes, re-arms the timer.
    void pump() {
        const time_point now = clock::now();
        while (auto d = c2s_.poll(now)) {
            slot* s = slot_of(d->tag);
            if (s == nullptr) {
                ++counters_.client_to_server.unroutable;
                continue;
            }
            send(*s->upstream, s->dirty, slot_index(d->tag), target_v6_, d->bytes, target_,
                 counters_.client_to_server);
        }
        while (auto d = s2c_.poll(now)) {
            slot* s = slot_of(d->tag);
            if (s == nullptr) {
                ++counters_.server_to_client.unroutable;
                continue;
            }
            send(listen_, listen_dirty_, no_slot, listen_v6_, d->bytes, s->client,
                 counters_.server_to_client);
        }
        if (listen_dirty_) flush(listen_, listen_dirty_, counters_.server_to_client);
        for (std::size_t i : dirty_) {
            slot& s = slots_[i];
            if (s.upstream && s.dirty) flush(*s.upstream, s.dirty, counters_.client_to_server);
        }
        dirty_.clear();
        rearm_timer();
    }

    /// Queues (or, above the slot size, sends) one datagram on `sock`; `index` is its mapping's
    /// slot (`no_slot` for the listening socket), remembered for the flush.
    void send(socket& sock, bool& dirty, std::size_t index, bool v6,
              std::span<const std::byte> bytes, const peer_address& to, direction_counters& dc) {
        if (bytes.size() > socket::datagram_buffer_size) {
            if (dirty) flush(sock, dirty, dc);  // keep the order
            send_large(sock, v6, bytes, to, dc);
            return;
        }
        std::span<std::byte> out = sock.prepare_send();
        if (out.empty()) {
            flush(sock, dirty, dc);
            out = sock.prepare_send();
        }
        if (!bytes.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
        sock.commit_send(bytes.size(), to);
        if (!dirty) {
            dirty = true;
            if (index != no_slot) dirty_.push_back(index);
        }
    }

    void flush(socket& sock, bool& dirty, direction_counters& dc) {
        dirty = false;
        const auto& c = sock.counters();
        const std::uint64_t out0 = c.datagrams_out;
        const std::uint64_t bytes0 = c.bytes_out;
        const std::uint64_t dropped0 = c.send_dropped;
        const boost::system::error_code ec = sock.flush_sends();
        dc.forwarded += c.datagrams_out - out0;
        dc.forwarded_bytes += c.bytes_out - bytes0;
        dc.send_failed += c.send_dropped - dropped0;
        if (ec) last_error_ = ec;
    }

    /// One datagram above the send slots' size, with a plain `sendmsg`.
    void send_large(socket& sock, bool v6, std::span<const std::byte> bytes,
                    const peer_address& to, direction_counters& dc) {
        ::sockaddr_storage addr{};
        ::iovec iov{const_cast<std::byte*>(bytes.data()), bytes.size()};
        ::msghdr h{};
        h.msg_name = &addr;
        h.msg_namelen = ::neutrino::io::detail::to_sockaddr(to, v6, addr);
        h.msg_iov = &iov;
        h.msg_iovlen = 1;
        const int fd = sock.next_layer().native_handle();
        for (int attempt = 0;; ++attempt) {
            if (::sendmsg(fd, &h, MSG_DONTWAIT) >= 0) {
                ++dc.forwarded;
                dc.forwarded_bytes += bytes.size();
                return;
            }
            const int err = errno;
            if (::neutrino::io::detail::is_fatal_send(err)) {
                last_error_.assign(err, boost::system::system_category());
                ++dc.send_failed;
                return;
            }
            ::neutrino::io::detail::count_transient(counters_.large_send_errors, err);
            // ECONNREFUSED reports an earlier datagram; EINTR interrupted this one: retry.
            if ((err == EINTR || err == ECONNREFUSED) && attempt < 3) continue;
            ++dc.send_failed;
            return;
        }
    }

    // ---- the timer ---------------------------------------------------------------------------

    void rearm_timer() {
        std::optional<time_point> next = c2s_.next_due();
        if (const auto t = s2c_.next_due(); t && (!next || *t < *next)) next = t;
        if (!next || closed_) return;            // an armed timer fires harmlessly
        if (armed_ && *armed_ <= *next) return;  // the armed one comes first
        armed_ = next;
        ++timer_generation_;
        ++counters_.timer_arms;
        timer_.expires_at(*next);  // cancels a wait in progress
        timer_.async_wait([this, alive = weak_alive(), generation = timer_generation_](
                              const boost::system::error_code& ec) {
            if (alive.expired() || ec == net::error::operation_aborted || closed_) return;
            if (generation != timer_generation_) return;  // completed just before a re-arm
            armed_.reset();
            pump();
        });
    }

    config cfg_;
    time_point start_;
    impairment c2s_;
    impairment s2c_;
    socket listen_;
    net::steady_timer timer_;
    net::steady_timer sweep_timer_;
    peer_address target_;
    bool listen_v6_ = false;
    bool target_v6_ = false;
    bool listen_dirty_ = false;
    bool sweep_armed_ = false;
    bool closed_ = false;
    std::optional<time_point> armed_;
    std::uint64_t timer_generation_ = 0;
    datagram_receiver receiver_;
    std::vector<slot> slots_;
    std::vector<std::size_t> free_;
    std::vector<std::size_t> dirty_;
    std::unordered_map<peer_address, std::size_t, peer_address_hash> map_;
    std::size_t last_ = no_slot;
    proxy_counters counters_;
    boost::system::error_code last_error_;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // handlers hold a weak_ptr to it
};

}  // namespace neutrino::inspector::io
