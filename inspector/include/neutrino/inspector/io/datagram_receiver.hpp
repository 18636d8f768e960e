#pragma once
/// \file
/// `datagram_receiver`: batched receive (`recvmmsg`, UDP GRO aware) into 64 KiB buffers, so
/// that datagrams of any size up to UDP's limit arrive whole.
///
/// Why not `neutrino::io::udp_socket::receive_batch`: without GRO its buffers hold
/// `udp_socket::datagram_buffer_size` (2048) bytes and larger datagrams are dropped as
/// `truncated`; with GRO it allocates 32 × 64 KiB per socket. The proxy must forward anything
/// and may own many sockets, so it keeps `udp_socket` for opening, binding and sending, and
/// reads the descriptors with one shared `datagram_receiver` (one thread reads its sockets in
/// turn, so one set of buffers serves them all).
///
/// Errors are classified like `udp_socket`'s: EAGAIN → `net::error::would_block`; ECONNREFUSED,
/// ENOBUFS, EINTR and the other ICMP-derived errnos are counted and ignored; EBADF, ENOTSOCK,
/// EFAULT and EINVAL are fatal and returned. Not thread-safe.

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
#include "neutrino/io/udp_socket.hpp"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace neutrino::inspector::io {

/// What a `datagram_receiver` read from one socket (the caller keeps one per socket or role).
struct receive_counters {
    std::uint64_t datagrams = 0;    ///< datagrams handed to the callback
    std::uint64_t bytes = 0;        ///< their payload bytes
    std::uint64_t calls = 0;        ///< `recvmmsg` system calls
    std::uint64_t gro_buffers = 0;  ///< buffers that held several coalesced datagrams
    std::uint64_t truncated = 0;    ///< messages larger than a buffer (never on Linux UDP)
    ::neutrino::io::transient_error_counters errors;  ///< transient errors, counted and ignored
};

/// Turns UDP GRO on for `fd` (the kernel then may hand over several same-size datagrams of one
/// flow in one buffer, which `datagram_receiver` splits). False when the kernel refuses.
inline bool enable_gro(int fd) noexcept {
    return ::neutrino::io::detail::set_int_option(fd, SOL_UDP, UDP_GRO, 1);
}

/// Receives batches of datagrams of up to 65535 bytes. Allocates `batch_size` × 64 KiB once.
class datagram_receiver {
public:
    static constexpr std::size_t default_batch_size = 32;
    /// One receive buffer: the largest UDP payload, or one GRO-coalesced buffer.
    static constexpr std::size_t buffer_size = 65536;

    explicit datagram_receiver(std::size_t batch_size = default_batch_size)
        : batch_(batch_size == 0 ? 1 : batch_size),
          buffers_(batch_ * buffer_size),
          msgs_(batch_),
          iov_(batch_),
          addr_(batch_),
          cmsg_(batch_) {
        for (std::size_t i = 0; i < batch_; ++i) {
            iov_[i].iov_base = buffers_.data() + i * buffer_size;
            iov_[i].iov_len = buffer_size;
        }
    }

    datagram_receiver(const datagram_receiver&) = delete;
    datagram_receiver& operator=(const datagram_receiver&) = delete;
    ~datagram_receiver() = default;

    [[nodiscard]] std::size_t batch_size() const noexcept { return batch_; }

    /// One `recvmmsg` on the non-blocking descriptor `fd`; calls `on_datagram(std::span<const
    /// std::byte>, const peer_address&)` for each datagram (GRO buffers are split). The span is
    /// valid during the call only. Returns the number of datagrams delivered.
    ///
    /// `ec` afterwards: `net::error::would_block` when nothing was waiting; empty after data or
    /// a transient error (call again); anything else is fatal for the socket.
    template <class OnDatagram>
    std::size_t receive(int fd, OnDatagram&& on_datagram, receive_counters& counters,
                        boost::system::error_code& ec) {
        ec = {};
        for (std::size_t i = 0; i < batch_; ++i) {
            ::msghdr& h = msgs_[i].msg_hdr;
            h.msg_name = &addr_[i];
            h.msg_namelen = sizeof(::sockaddr_storage);
            h.msg_iov = &iov_[i];
            h.msg_iovlen = 1;
            h.msg_control = cmsg_[i].bytes.data();
            h.msg_controllen = cmsg_[i].bytes.size();
            h.msg_flags = 0;
            msgs_[i].msg_len = 0;
        }
        ++counters.calls;
        const int r =
            ::recvmmsg(fd, msgs_.data(), static_cast<unsigned>(batch_), MSG_DONTWAIT, nullptr);
        if (r < 0) {
            const int err = errno;
            if (err == EAGAIN || err == EWOULDBLOCK) {
                ec = net::error::would_block;
            } else if (::neutrino::io::detail::is_fatal_receive(err)) {
                ec.assign(err, boost::system::system_category());
            } else {
                ::neutrino::io::detail::count_transient(counters.errors, err);
            }
            return 0;
        }
        std::size_t delivered = 0;
        for (std::size_t i = 0; i < static_cast<std::size_t>(r); ++i) {
            const ::msghdr& h = msgs_[i].msg_hdr;
            if ((h.msg_flags & MSG_TRUNC) != 0) {
                ++counters.truncated;
                continue;
            }
            const std::size_t len = msgs_[i].msg_len;
            std::size_t segment = gro_segment_size(h);
            if (segment == 0 || segment > len) segment = len;
            const peer_address from = ::neutrino::io::detail::from_sockaddr(addr_[i]);
            const auto* base = static_cast<const std::byte*>(iov_[i].iov_base);
            if (len == 0) {
                ++delivered;
                ++counters.datagrams;
                on_datagram(std::span<const std::byte>{base, 0}, from);
                continue;
            }
            if (segment < len) ++counters.gro_buffers;
            for (std::size_t off = 0; off < len; off += segment) {
                const std::size_t n = std::min(segment, len - off);
                ++delivered;
                ++counters.datagrams;
                counters.bytes += n;
                on_datagram(std::span<const std::byte>{base + off, n}, from);
            }
        }
        return delivered;
    }

private:
    static constexpr std::size_t cmsg_size = ::neutrino::io::detail::cmsg_space(sizeof(int));
    struct alignas(::cmsghdr) cmsg_buffer {
        std::array<unsigned char, cmsg_size> bytes{};
    };

    // The UDP_GRO control message's segment size; 0 when absent. Walked by hand: CMSG_NXTHDR
    // is a macro full of C casts.
    static std::size_t gro_segment_size(const ::msghdr& h) noexcept {
        if (h.msg_control == nullptr || h.msg_controllen < sizeof(::cmsghdr)) return 0;
        const auto* p = static_cast<const unsigned char*>(h.msg_control);
        std::size_t off = 0;
        while (off + sizeof(::cmsghdr) <= h.msg_controllen) {
            ::cmsghdr c{};
            std::memcpy(&c, p + off, sizeof c);
            if (c.cmsg_len < sizeof(::cmsghdr)) break;
            if (c.cmsg_level == SOL_UDP && c.cmsg_type == UDP_GRO &&
                c.cmsg_len >= ::neutrino::io::detail::cmsg_len(sizeof(int))) {
                int size = 0;
                std::memcpy(&size, p + off + ::neutrino::io::detail::cmsg_len(0), sizeof size);
                return size > 0 ? static_cast<std::size_t>(size) : 0;
            }
            off += ::neutrino::io::detail::cmsg_align(c.cmsg_len);
        }
        return 0;
    }

    std::size_t batch_;
    std::vector<std::byte> buffers_;
    std::vector<::mmsghdr> msgs_;
    std::vector<::iovec> iov_;
    std::vector<::sockaddr_storage> addr_;
    std::vector<cmsg_buffer> cmsg_;
};

}  // namespace neutrino::inspector::io
