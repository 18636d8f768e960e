#include "tcp_bulk.hpp"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <chrono>
#include <cstring>
#include <vector>

namespace neutrino::bench::lab {
namespace {

::sockaddr_in ipv4(const char* address, std::uint16_t port) {
    ::sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, address, &a.sin_addr);
    return a;
}

/// Closes a descriptor when the function returns, whichever way.
struct fd_guard {
    int fd;
    ~fd_guard() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

std::string tcp_receive(transfer_control& control, const char* address, std::uint16_t port, receive_counts& counts) {
    fd_guard ls{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    const int one = 1;
    (void)::setsockopt(ls.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const ::sockaddr_in a = ipv4(address, port);
    if (::bind(ls.fd, reinterpret_cast<const ::sockaddr*>(&a), sizeof a) != 0 || ::listen(ls.fd, 1) != 0) {
        return "tcp: cannot listen";
    }
    control.receiver_ready.store(1);
    ::pollfd p{ls.fd, POLLIN, 0};
    while (::poll(&p, 1, 50) <= 0) {
        if (control.stop.load() != 0) return "tcp: no connection";
    }
    fd_guard fd{::accept4(ls.fd, nullptr, nullptr, SOCK_CLOEXEC)};
    if (fd.fd < 0) return "tcp: accept failed";
    std::vector<char> buf(256 * 1024);
    while (control.stop.load(std::memory_order_relaxed) == 0) {
        ::pollfd q{fd.fd, POLLIN, 0};
        if (::poll(&q, 1, 50) <= 0) continue;
        const ssize_t n = ::recv(fd.fd, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n == 0) break;
        if (n < 0) continue;
        counts.total_bytes += static_cast<std::uint64_t>(n);
        if (control.in_window(steady_now_ns())) counts.window_bytes += static_cast<std::uint64_t>(n);
    }
    return {};
}

std::string tcp_send(transfer_control& control, const char* algorithm, const char* address, std::uint16_t port,
                     send_counts& counts) {
    fd_guard fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (::setsockopt(fd.fd, IPPROTO_TCP, TCP_CONGESTION, algorithm, static_cast<::socklen_t>(std::strlen(algorithm))) != 0) {
        return std::string("tcp: this kernel refuses congestion control ") + algorithm;
    }
    const ::sockaddr_in a = ipv4(address, port);
    if (::connect(fd.fd, reinterpret_cast<const ::sockaddr*>(&a), sizeof a) != 0) return "tcp: connect failed";
    const ::timeval tv{0, 20000};  // a full send buffer blocks at most 20 ms: the loop sees the window end
    (void)::setsockopt(fd.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::vector<char> chunk(64 * 1024, 'x');
    std::int64_t next_sample = 0;
    auto info = [&](::tcp_info& out) {
        ::socklen_t len = sizeof out;
        return ::getsockopt(fd.fd, IPPROTO_TCP, TCP_INFO, &out, &len) == 0;
    };
    while (control.stop.load(std::memory_order_relaxed) == 0 && steady_now_ns() < control.window_end_ns.load()) {
        (void)::send(fd.fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
        const std::int64_t now = steady_now_ns();
        if (control.in_window(now) && now >= next_sample) {
            if (::tcp_info i{}; info(i)) {
                counts.sample(i.tcpi_rtt / 1000.0, static_cast<double>(i.tcpi_pacing_rate),
                              static_cast<double>(i.tcpi_snd_cwnd) * i.tcpi_snd_mss,
                              static_cast<double>(i.tcpi_unacked) * i.tcpi_snd_mss);
            }
            next_sample = now + 50'000'000;
        }
    }
    if (::tcp_info i{}; info(i)) {
        counts.retransmitted = i.tcpi_total_retrans;
        counts.segments = i.tcpi_data_segs_out;
    }
    counts.finish();
    ::shutdown(fd.fd, SHUT_WR);
    return {};
}

}  // namespace neutrino::bench::lab
