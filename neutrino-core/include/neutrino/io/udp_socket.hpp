#pragma once
/// \file
/// `neutrino::io::udp_socket`: a non-blocking UDP socket with batched I/O for the drivers.
///
/// Linux only: receives with `recvmmsg` (plus UDP GRO when the kernel offers it) and sends with
/// `sendmmsg` (plus UDP GSO via the `UDP_SEGMENT` control message). Both offloads are probed at
/// run time and fall back cleanly. No thread and no reactor of its own: readiness comes from
/// `async_wait_readable` on the owning executor; the reads and writes themselves are plain
/// non-blocking system calls on the native handle.
///
/// Errors. Transient errors never end receiving and never throw: ECONNREFUSED (an ICMP port
/// unreachable, reported on connected sockets), ENOBUFS/ENOMEM, EAGAIN/EWOULDBLOCK, EINTR,
/// EHOSTUNREACH, ENETUNREACH and every other ICMP-derived errno are counted in
/// `udp_socket_counters` and ignored; a send that fails that way drops the datagram(s) of that
/// message (counted in `send_dropped`). Only EBADF, ENOTSOCK and EFAULT (and EINVAL when
/// receiving) are reported to the caller as fatal.
///
/// Thread safety: none; use one socket from one executor (strand) at a time.

#include "neutrino/io/asio.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "neutrino/address.hpp"

#if !defined(__linux__)
#error "neutrino/io/udp_socket.hpp: only Linux (recvmmsg/sendmmsg) is supported"
#endif

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace neutrino::io {

/// Counts of errors that did not end the socket, by kind.
struct transient_error_counters {
    std::uint64_t connection_refused = 0;   ///< ECONNREFUSED (ICMP port unreachable)
    std::uint64_t no_buffer_space = 0;      ///< ENOBUFS, ENOMEM
    std::uint64_t would_block = 0;          ///< EAGAIN/EWOULDBLOCK (sends only: a full buffer)
    std::uint64_t interrupted = 0;          ///< EINTR
    std::uint64_t host_unreachable = 0;     ///< EHOSTUNREACH
    std::uint64_t network_unreachable = 0;  ///< ENETUNREACH
    std::uint64_t other = 0;                ///< any other non-fatal errno (EMSGSIZE, EPERM, ...)

    /// Sum of all kinds.
    [[nodiscard]] std::uint64_t total() const noexcept {
        return connection_refused + no_buffer_space + would_block + interrupted + host_unreachable +
               network_unreachable + other;
    }
};

/// What a `udp_socket` did. Plain counters, never reset by the socket.
struct udp_socket_counters {
    std::uint64_t datagrams_in = 0;   ///< datagrams handed to the receive callback
    std::uint64_t bytes_in = 0;       ///< their payload bytes
    std::uint64_t datagrams_out = 0;  ///< datagrams accepted by the kernel
    std::uint64_t bytes_out = 0;      ///< their payload bytes
    std::uint64_t receive_calls = 0;  ///< `recvmmsg` system calls
    std::uint64_t send_calls = 0;     ///< `sendmmsg` system calls
    std::uint64_t gro_buffers = 0;    ///< received buffers that held several coalesced datagrams
    std::uint64_t gso_messages = 0;   ///< sent messages that carried several datagrams (GSO)
    std::uint64_t gso_fallbacks = 0;  ///< GSO sends refused (EIO/EINVAL): GSO then disabled
    std::uint64_t truncated = 0;      ///< received datagrams larger than the buffer, dropped
    std::uint64_t send_dropped = 0;   ///< datagrams dropped by a failed send
    std::uint64_t unroutable = 0;     ///< datagrams to a handle that is not an IP address, dropped
    transient_error_counters receive_errors;  ///< transient errors of `recvmmsg`
    transient_error_counters send_errors;     ///< transient errors of `sendmmsg`
};

/// Construction options of a `udp_socket`.
struct udp_socket_options {
    int receive_buffer_size = 4 * 1024 * 1024;  ///< SO_RCVBUF request in bytes; failure ignored
    int send_buffer_size = 4 * 1024 * 1024;     ///< SO_SNDBUF request in bytes; failure ignored
    bool gso = true;                            ///< use UDP GSO on send when the kernel supports it
    bool gro = true;  ///< use UDP GRO on receive when the kernel supports it
};

namespace detail {

/// `CMSG_SPACE` without the macro's C casts.
constexpr std::size_t cmsg_align(std::size_t n) noexcept {
    return (n + sizeof(std::size_t) - 1) & ~(sizeof(std::size_t) - 1);
}
constexpr std::size_t cmsg_space(std::size_t n) noexcept {
    return cmsg_align(n) + cmsg_align(sizeof(::cmsghdr));
}
constexpr std::size_t cmsg_len(std::size_t n) noexcept { return cmsg_align(sizeof(::cmsghdr)) + n; }

/// The `peer_address` of a kernel socket address; v4-mapped IPv6 addresses become IPv4.
inline peer_address from_sockaddr(const ::sockaddr_storage& ss) noexcept {
    if (ss.ss_family == AF_INET) {
        ::sockaddr_in sin{};
        std::memcpy(&sin, &ss, sizeof sin);
        std::array<std::uint8_t, 4> a{};
        std::memcpy(a.data(), &sin.sin_addr, 4);
        std::array<std::uint8_t, 2> p{};
        std::memcpy(p.data(), &sin.sin_port, 2);
        return peer_address::v4(a, static_cast<std::uint16_t>(p[0] << 8 | p[1]));
    }
    if (ss.ss_family == AF_INET6) {
        ::sockaddr_in6 sin6{};
        std::memcpy(&sin6, &ss, sizeof sin6);
        std::array<std::uint8_t, 16> a{};
        std::memcpy(a.data(), &sin6.sin6_addr, 16);
        std::array<std::uint8_t, 2> p{};
        std::memcpy(p.data(), &sin6.sin6_port, 2);
        const auto port = static_cast<std::uint16_t>(p[0] << 8 | p[1]);
        const bool mapped = std::all_of(a.begin(), a.begin() + 10, [](auto b) { return b == 0; }) &&
                            a[10] == 0xff && a[11] == 0xff;
        if (mapped) return peer_address::v4({a[12], a[13], a[14], a[15]}, port);
        return peer_address::v6(a, port);
    }
    return {};
}

/// Writes the kernel socket address of `a` into `ss` and returns its length. On an IPv6 socket
/// IPv4 peers are written v4-mapped.
inline ::socklen_t to_sockaddr(const peer_address& a, bool v6_socket,
                               ::sockaddr_storage& ss) noexcept {
    ss = {};
    const std::array<std::uint8_t, 2> port{static_cast<std::uint8_t>(a.port >> 8),
                                           static_cast<std::uint8_t>(a.port & 0xff)};
    if (a.family == peer_address::family_type::v4 && !v6_socket) {
        ::sockaddr_in sin{};
        sin.sin_family = AF_INET;
        std::memcpy(&sin.sin_port, port.data(), 2);
        std::memcpy(&sin.sin_addr, a.bytes.data(), 4);
        std::memcpy(&ss, &sin, sizeof sin);
        return sizeof sin;
    }
    ::sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    std::memcpy(&sin6.sin6_port, port.data(), 2);
    if (a.family == peer_address::family_type::v4) {
        std::array<std::uint8_t, 16> m{};
        m[10] = 0xff;
        m[11] = 0xff;
        std::memcpy(m.data() + 12, a.bytes.data(), 4);
        std::memcpy(&sin6.sin6_addr, m.data(), 16);
    } else {
        std::memcpy(&sin6.sin6_addr, a.bytes.data(), 16);
    }
    std::memcpy(&ss, &sin6, sizeof sin6);
    return sizeof sin6;
}

/// Counts `err` in `c` by kind.
inline void count_transient(transient_error_counters& c, int err) noexcept {
    switch (err) {
        case ECONNREFUSED: ++c.connection_refused; break;
        case ENOBUFS:
        case ENOMEM: ++c.no_buffer_space; break;
        case EAGAIN:
#if EAGAIN != EWOULDBLOCK
        case EWOULDBLOCK:
#endif
            ++c.would_block;
            break;
        case EINTR: ++c.interrupted; break;
        case EHOSTUNREACH: ++c.host_unreachable; break;
        case ENETUNREACH: ++c.network_unreachable; break;
        default: ++c.other; break;
    }
}

/// Errors after which the socket is unusable (a closed or invalid descriptor, a bad buffer).
inline bool is_fatal_send(int err) noexcept {
    return err == EBADF || err == ENOTSOCK || err == EFAULT;
}
/// Same for receiving, where EINVAL also means a broken socket or call.
inline bool is_fatal_receive(int err) noexcept { return is_fatal_send(err) || err == EINVAL; }

inline bool set_int_option(int fd, int level, int name, int value) noexcept {
    return ::setsockopt(fd, level, name, &value, sizeof value) == 0;
}

}  // namespace detail

/// A bound, non-blocking UDP socket with batched receive and send (see the file comment).
///
/// Receiving: call `receive_batch` when `async_wait_readable` completed, and again until it
/// reports `net::error::would_block` (the readiness notification is edge-like).
/// Sending: fill the slots returned by `prepare_send` / `commit_send`, then `flush_sends`.
/// All buffers are allocated once at construction; no call allocates afterwards.
class udp_socket {
public:
    using executor_type = net::any_io_executor;

    static constexpr std::size_t batch_size = 32;  ///< datagrams per recvmmsg/sendmmsg call
    /// Size of a send slot and of a receive buffer without GRO; the largest datagram handled.
    static constexpr std::size_t datagram_buffer_size = 2048;
    static constexpr std::size_t gro_buffer_size = 65536;  ///< receive buffer size with GRO
    static constexpr std::size_t max_gso_segments = 64;    ///< datagrams per GSO message
    static constexpr std::size_t max_gso_bytes = 65000;    ///< payload bytes per GSO message

    /// Opens a UDP socket of `local`'s family, sets SO_RCVBUF/SO_SNDBUF (failures ignored),
    /// makes it non-blocking, binds it to `local` (port 0: an ephemeral port) and probes GRO
    /// and GSO. Throws `boost::system::system_error` when opening or binding fails.
    udp_socket(const executor_type& ex, const net::ip::udp::endpoint& local,
               const udp_socket_options& options = {})
        : socket_(ex) {
        socket_.open(local.protocol());
        v6_ = local.address().is_v6();
        boost::system::error_code ignored;
        socket_.set_option(net::socket_base::receive_buffer_size(options.receive_buffer_size),
                           ignored);
        socket_.set_option(net::socket_base::send_buffer_size(options.send_buffer_size), ignored);
        socket_.non_blocking(true);
        socket_.bind(local);
        const int fd = socket_.native_handle();
        if (options.gro) gro_ = detail::set_int_option(fd, SOL_UDP, UDP_GRO, 1);
        if (options.gso) {
            int size = 0;
            ::socklen_t len = sizeof size;
            gso_ = ::getsockopt(fd, SOL_UDP, UDP_SEGMENT, &size, &len) == 0;
        }
        receive_buffer_size_ = gro_ ? gro_buffer_size : datagram_buffer_size;
        receive_buffer_.resize(batch_size * receive_buffer_size_);
        send_buffer_.resize(batch_size * datagram_buffer_size);
        for (std::size_t i = 0; i < batch_size; ++i) {
            receive_iov_[i].iov_base = receive_buffer_.data() + i * receive_buffer_size_;
            receive_iov_[i].iov_len = receive_buffer_size_;
            send_iov_[i].iov_base = send_buffer_.data() + i * datagram_buffer_size;
            send_iov_[i].iov_len = 0;
        }
    }

    /// Same, on `ctx`'s executor.
    udp_socket(net::io_context& ctx, const net::ip::udp::endpoint& local,
               const udp_socket_options& options = {})
        : udp_socket(ctx.get_executor(), local, options) {}

    udp_socket(const udp_socket&) = delete;
    udp_socket& operator=(const udp_socket&) = delete;
    ~udp_socket() = default;

    [[nodiscard]] executor_type get_executor() noexcept { return socket_.get_executor(); }
    /// The wrapped Asio socket (for options; do not read from it or wait on it directly).
    [[nodiscard]] net::ip::udp::socket& next_layer() noexcept { return socket_; }
    [[nodiscard]] bool is_open() const noexcept { return socket_.is_open(); }
    /// The bound address (with the ephemeral port chosen by the kernel).
    [[nodiscard]] net::ip::udp::endpoint local_endpoint() const { return socket_.local_endpoint(); }
    [[nodiscard]] peer_address local_address() const { return to_peer_address(local_endpoint()); }

    /// Connects the socket to `peer`: only its datagrams are received afterwards, and ICMP
    /// errors about it are reported (as counted ECONNREFUSED etc.). Can be called again to
    /// change the peer. Sends still carry an explicit destination.
    void connect(const peer_address& peer, boost::system::error_code& ec) {
        socket_.connect(to_endpoint(peer), ec);
    }

    /// Closes the socket; a pending `async_wait_readable` completes with
    /// `net::error::operation_aborted`. Unsent datagrams are discarded.
    void close() noexcept {
        boost::system::error_code ignored;
        socket_.close(ignored);
        send_count_ = 0;
    }

    /// Waits until the socket is readable (or has a pending error), then calls `handler` with
    /// `(boost::system::error_code)` through Asio's usual rules.
    template <class Handler>
    void async_wait_readable(Handler&& handler) {
        socket_.async_wait(net::socket_base::wait_read, std::forward<Handler>(handler));
    }

    /// True when sends use UDP GSO (probed at construction, switched off after a refused GSO
    /// send).
    [[nodiscard]] bool gso_enabled() const noexcept { return gso_; }
    /// True when the kernel may hand us GRO-coalesced buffers (probed at construction).
    [[nodiscard]] bool gro_enabled() const noexcept { return gro_; }
    /// Stops using GSO from now on (tests, or callers that know the path refuses it).
    void disable_gso() noexcept { gso_ = false; }
    [[nodiscard]] const udp_socket_counters& counters() const noexcept { return counters_; }

    /// Receives one batch with a single `recvmmsg` and calls `on_datagram(std::span<const
    /// std::byte>, const peer_address&)` for each datagram (GRO buffers are split into their
    /// datagrams). The span is valid only during the call. Returns the number of datagrams
    /// delivered.
    ///
    /// `ec` afterwards: `net::error::would_block` when nothing was waiting (stop and wait for
    /// readiness); empty after data *or a transient error* (call again); any other value is a
    /// fatal error (EBADF, ENOTSOCK, EFAULT, EINVAL) and the socket should be closed.
    template <class OnDatagram>
    std::size_t receive_batch(OnDatagram&& on_datagram, boost::system::error_code& ec) {
        ec = {};
        for (std::size_t i = 0; i < batch_size; ++i) {
            ::msghdr& h = receive_msgs_[i].msg_hdr;
            h.msg_name = &receive_addr_[i];
            h.msg_namelen = sizeof(::sockaddr_storage);
            h.msg_iov = &receive_iov_[i];
            h.msg_iovlen = 1;
            h.msg_control = gro_ ? receive_cmsg_[i].data() : nullptr;
            h.msg_controllen = gro_ ? receive_cmsg_[i].size() : 0;
            h.msg_flags = 0;
            receive_msgs_[i].msg_len = 0;
        }
        ++counters_.receive_calls;
        const int r = ::recvmmsg(socket_.native_handle(), receive_msgs_.data(),
                                 static_cast<unsigned>(batch_size), MSG_DONTWAIT, nullptr);
        if (r < 0) {
            const int err = errno;
            if (err == EAGAIN || err == EWOULDBLOCK) {
                ec = net::error::would_block;
            } else if (detail::is_fatal_receive(err)) {
                ec.assign(err, boost::system::system_category());
            } else {
                detail::count_transient(counters_.receive_errors, err);
            }
            return 0;
        }
        std::size_t delivered = 0;
        for (std::size_t i = 0; i < static_cast<std::size_t>(r); ++i) {
            const ::msghdr& h = receive_msgs_[i].msg_hdr;
            if ((h.msg_flags & MSG_TRUNC) != 0) {
                ++counters_.truncated;
                continue;
            }
            const std::size_t len = receive_msgs_[i].msg_len;
            std::size_t segment = gro_ ? gro_segment_size(h) : 0;
            if (segment == 0 || segment > len) segment = len;
            const peer_address from = detail::from_sockaddr(receive_addr_[i]);
            const auto* base = static_cast<const std::byte*>(receive_iov_[i].iov_base);
            if (len == 0) {
                on_datagram(std::span<const std::byte>{base, 0}, from);
                ++delivered;
                ++counters_.datagrams_in;
                continue;
            }
            if (segment < len) ++counters_.gro_buffers;
            for (std::size_t off = 0; off < len; off += segment) {
                const std::size_t n = std::min(segment, len - off);
                ++delivered;
                ++counters_.datagrams_in;
                counters_.bytes_in += n;
                on_datagram(std::span<const std::byte>{base + off, n}, from);
            }
        }
        return delivered;
    }

    /// The next free send slot (`datagram_buffer_size` bytes), empty when `batch_size`
    /// datagrams are pending: then call `flush_sends` first. Valid until `commit_send` or
    /// `flush_sends`.
    [[nodiscard]] std::span<std::byte> prepare_send() noexcept {
        if (send_count_ == batch_size) return {};
        return {send_buffer_.data() + send_count_ * datagram_buffer_size, datagram_buffer_size};
    }

    /// Queues the first `size` bytes of the slot from `prepare_send` for `to`. A `size` above
    /// `datagram_buffer_size` (or a call without a free slot) drops the datagram, counted in
    /// `send_dropped`; one to a handle that is not an IP address (an opaque handle of another
    /// transport) is dropped and counted in `unroutable`.
    void commit_send(std::size_t size, const peer_address& to) noexcept {
        if (!to.is_ip()) {
            ++counters_.unroutable;
            return;
        }
        if (send_count_ == batch_size || size > datagram_buffer_size) {
            ++counters_.send_dropped;
            return;
        }
        send_iov_[send_count_].iov_len = size;
        send_to_[send_count_] = to;
        ++send_count_;
    }

    /// Datagrams committed and not yet flushed.
    [[nodiscard]] std::size_t pending_sends() const noexcept { return send_count_; }

    /// Sends every committed datagram with as few `sendmmsg` calls as possible, grouping runs
    /// to the same destination with equal sizes (the last may be shorter) into one GSO message
    /// when GSO is enabled. A GSO message refused with EIO or EINVAL disables GSO for this
    /// socket and is resent as plain datagrams (`gso_fallbacks`). Transient errors drop the
    /// message's datagrams (counted); ECONNREFUSED and EINTR are retried (ECONNREFUSED reports
    /// an earlier datagram). Returns a fatal error (EBADF, ENOTSOCK, EFAULT: the pending
    /// datagrams are dropped), else an empty code. Afterwards no datagram is pending. Cheap when
    /// none is.
    boost::system::error_code flush_sends() {
        std::size_t next = 0;  // first datagram not yet handed to a message
        while (next < send_count_) {
            const std::size_t messages = build_messages(next);
            std::size_t m = 0;
            int retries = 0;
            std::size_t resume = send_count_;
            while (m < messages) {
                ++counters_.send_calls;
                const int r = ::sendmmsg(socket_.native_handle(), &send_msgs_[m],
                                         static_cast<unsigned>(messages - m), MSG_DONTWAIT);
                if (r > 0) {
                    for (std::size_t k = m; k < m + static_cast<std::size_t>(r); ++k) {
                        counters_.datagrams_out += message_count_[k];
                        counters_.bytes_out += message_bytes_[k];
                        if (message_count_[k] > 1) ++counters_.gso_messages;
                    }
                    m += static_cast<std::size_t>(r);
                    retries = 0;
                    continue;
                }
                const int err = errno;
                if ((err == EIO || err == EINVAL) && message_count_[m] > 1) {
                    gso_ = false;
                    ++counters_.gso_fallbacks;
                    resume = message_first_[m];
                    break;
                }
                if (detail::is_fatal_send(err)) {
                    counters_.send_dropped += send_count_ - message_first_[m];
                    send_count_ = 0;
                    return {err, boost::system::system_category()};
                }
                detail::count_transient(counters_.send_errors, err);
                if ((err == EINTR || err == ECONNREFUSED) && ++retries <= 3) continue;
                counters_.send_dropped += message_count_[m];
                ++m;
                retries = 0;
            }
            next = resume < send_count_ ? resume : next_unbuilt_;
        }
        send_count_ = 0;
        return {};
    }

private:
    using cmsg_buffer = std::array<unsigned char, detail::cmsg_space(sizeof(int))>;
    using send_cmsg_buffer = std::array<unsigned char, detail::cmsg_space(sizeof(std::uint16_t))>;

    static std::size_t gro_segment_size(const ::msghdr& h) noexcept {
        if (h.msg_control == nullptr || h.msg_controllen < sizeof(::cmsghdr)) return 0;
        // Walk the control buffer by hand: CMSG_NXTHDR is a macro full of C casts.
        const auto* p = static_cast<const unsigned char*>(h.msg_control);
        std::size_t off = 0;
        while (off + sizeof(::cmsghdr) <= h.msg_controllen) {
            ::cmsghdr c{};
            std::memcpy(&c, p + off, sizeof c);
            if (c.cmsg_len < sizeof(::cmsghdr)) break;
            if (c.cmsg_level == SOL_UDP && c.cmsg_type == UDP_GRO &&
                c.cmsg_len >= detail::cmsg_len(sizeof(int))) {
                int size = 0;
                std::memcpy(&size, p + off + detail::cmsg_len(0), sizeof size);
                return size > 0 ? static_cast<std::size_t>(size) : 0;
            }
            off += detail::cmsg_align(c.cmsg_len);
        }
        return 0;
    }

    /// Builds `sendmmsg` messages from datagram `first` on; returns how many. Sets
    /// `next_unbuilt_` to the first datagram not covered.
    std::size_t build_messages(std::size_t first) noexcept {
        std::size_t messages = 0;
        std::size_t i = first;
        while (i < send_count_ && messages < batch_size) {
            const std::size_t segment = send_iov_[i].iov_len;
            std::size_t run = 1;
            std::size_t bytes = segment;
            if (gso_ && segment > 0) {
                while (i + run < send_count_ && run < max_gso_segments &&
                       send_to_[i + run] == send_to_[i]) {
                    const std::size_t n = send_iov_[i + run].iov_len;
                    if (n == 0 || n > segment || bytes + n > max_gso_bytes) break;
                    bytes += n;
                    ++run;
                    if (n < segment) break;  // a shorter datagram ends the run
                }
            }
            ::msghdr& h = send_msgs_[messages].msg_hdr;
            h = {};
            h.msg_name = &send_addr_[messages];
            h.msg_namelen = detail::to_sockaddr(send_to_[i], v6_, send_addr_[messages]);
            h.msg_iov = &send_iov_[i];
            h.msg_iovlen = run;
            if (run > 1) {
                auto& c = send_cmsg_[messages];
                c.fill(0);
                ::cmsghdr ch{};
                ch.cmsg_level = SOL_UDP;
                ch.cmsg_type = UDP_SEGMENT;
                ch.cmsg_len = detail::cmsg_len(sizeof(std::uint16_t));
                std::memcpy(c.data(), &ch, sizeof ch);
                const auto size16 = static_cast<std::uint16_t>(segment);
                std::memcpy(c.data() + detail::cmsg_len(0), &size16, sizeof size16);
                h.msg_control = c.data();
                h.msg_controllen = c.size();
            }
            send_msgs_[messages].msg_len = 0;
            message_first_[messages] = i;
            message_count_[messages] = run;
            message_bytes_[messages] = bytes;
            ++messages;
            i += run;
        }
        next_unbuilt_ = i;
        return messages;
    }

    net::ip::udp::socket socket_;
    bool v6_ = false;
    bool gro_ = false;
    bool gso_ = false;
    udp_socket_counters counters_;

    std::size_t receive_buffer_size_ = datagram_buffer_size;
    std::vector<std::byte> receive_buffer_;
    std::array<::mmsghdr, batch_size> receive_msgs_{};
    std::array<::iovec, batch_size> receive_iov_{};
    std::array<::sockaddr_storage, batch_size> receive_addr_{};
    alignas(::cmsghdr) std::array<cmsg_buffer, batch_size> receive_cmsg_{};

    std::vector<std::byte> send_buffer_;
    std::size_t send_count_ = 0;
    std::size_t next_unbuilt_ = 0;
    std::array<::iovec, batch_size> send_iov_{};
    std::array<peer_address, batch_size> send_to_{};
    std::array<::mmsghdr, batch_size> send_msgs_{};
    std::array<::sockaddr_storage, batch_size> send_addr_{};
    alignas(::cmsghdr) std::array<send_cmsg_buffer, batch_size> send_cmsg_{};
    std::array<std::size_t, batch_size> message_first_{};
    std::array<std::size_t, batch_size> message_count_{};
    std::array<std::size_t, batch_size> message_bytes_{};
};

}  // namespace neutrino::io
