#include "delay_relay.hpp"

#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

namespace neutrino::bench::lab {
namespace {

/// A raw socket on one interface: every frame arriving on it (not the ones we send), non-blocking.
class packet_socket {
public:
    packet_socket() = default;
    packet_socket(const packet_socket&) = delete;
    packet_socket& operator=(const packet_socket&) = delete;
    ~packet_socket() {
        if (fd_ >= 0) ::close(fd_);
    }

    std::string open(const std::string& name) {
        index_ = static_cast<int>(::if_nametoindex(name.c_str()));
        if (index_ == 0) return "no interface " + name;
        fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
        if (fd_ < 0) return std::string("AF_PACKET socket: ") + std::strerror(errno);
        const int one = 1;
        (void)::setsockopt(fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
        // tbf may hold a BDP of our frames (2.5 MB on the slowest path): the send buffer must not
        // be what limits the queue, nor the receive buffer what drops a burst.
        const int big = 64 * 1024 * 1024;
        (void)::setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big);
        (void)::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
        ::sockaddr_ll addr{};
        addr.sll_family = AF_PACKET;
        addr.sll_protocol = htons(ETH_P_ALL);
        addr.sll_ifindex = index_;
        if (::bind(fd_, reinterpret_cast<const ::sockaddr*>(&addr), sizeof addr) != 0) {
            return "bind to " + name + ": " + std::strerror(errno);
        }
        return {};
    }
    [[nodiscard]] int fd() const noexcept { return fd_; }
    [[nodiscard]] int index() const noexcept { return index_; }

private:
    int fd_ = -1;
    int index_ = 0;
};

/// One direction: frames wait in a ring of fixed slots until their release time.
class delay_line {
public:
    static constexpr std::size_t slot_size = 2048;
    static constexpr std::size_t slots = 32768;  ///< 64 MB: a 1 Gbit/s burst held for 100 ms + room

    delay_line(const packet_socket& in, const packet_socket& out, std::int64_t delay_ns, double loss,
               std::uint64_t seed, relay_direction_counters& c)
        : in_(in), out_(out), delay_ns_(delay_ns), loss_(loss), rng_(seed), c_(c),
          data_(slots * slot_size), length_(slots), release_(slots) {
        to_.sll_family = AF_PACKET;
        to_.sll_ifindex = out.index();
        to_.sll_halen = ETH_ALEN;
    }

    /// Takes every frame waiting on the ingress socket.
    void receive(std::int64_t now) {
        for (;;) {
            std::array<std::byte, slot_size + 1> scratch;
            std::byte* slot = count_ < slots ? data_.data() + ((head_ + count_) % slots) * slot_size : scratch.data();
            const ssize_t n = ::recv(in_.fd(), slot, slot_size + 1, MSG_TRUNC);
            if (n < 0) return;  // EAGAIN (or a transient error): poll again
            if (count_ == slots || static_cast<std::size_t>(n) > slot_size) {
                c_.overflow_drops.fetch_add(1, std::memory_order_relaxed);
                continue;
            }
            if (loss_ > 0 && uniform_(rng_) < loss_) {
                c_.random_drops.fetch_add(1, std::memory_order_relaxed);
                continue;
            }
            const std::size_t i = (head_ + count_) % slots;
            length_[i] = static_cast<std::uint16_t>(n);
            release_[i] = now + delay_ns_;
            ++count_;
        }
    }

    /// Hands every frame whose time has come to the egress interface; returns the next release
    /// time (or max when empty).
    std::int64_t release(std::int64_t now, std::int64_t window_start, std::int64_t window_end) {
        while (count_ > 0 && release_[head_] <= now) {
            const std::byte* frame = data_.data() + head_ * slot_size;
            const std::size_t n = length_[head_];
            const bool in_window = now >= window_start && now < window_end;
            const ssize_t sent = ::sendto(out_.fd(), frame, n, 0, reinterpret_cast<const ::sockaddr*>(&to_), sizeof to_);
            if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;  // the socket's buffer: retry
            if (sent < 0) {
                c_.queue_drops.fetch_add(1, std::memory_order_relaxed);  // ENOBUFS: tbf is full
                if (in_window) c_.window_queue_drops.fetch_add(1, std::memory_order_relaxed);
            } else {
                c_.frames.fetch_add(1, std::memory_order_relaxed);
                c_.bytes.fetch_add(n, std::memory_order_relaxed);
                if (in_window) c_.window_bytes.fetch_add(n, std::memory_order_relaxed);
            }
            head_ = (head_ + 1) % slots;
            --count_;
        }
        return count_ > 0 ? release_[head_] : INT64_MAX;
    }

private:
    const packet_socket& in_;
    const packet_socket& out_;
    std::int64_t delay_ns_;
    double loss_;
    std::mt19937_64 rng_;
    std::uniform_real_distribution<double> uniform_{0.0, 1.0};
    relay_direction_counters& c_;
    ::sockaddr_ll to_{};
    std::vector<std::byte> data_;
    std::vector<std::uint16_t> length_;
    std::vector<std::int64_t> release_;
    std::size_t head_ = 0;
    std::size_t count_ = 0;
};

}  // namespace

std::string run_delay_relay(const relay_config& config, const transfer_control& control, relay_counters& counters) {
    packet_socket client_side;
    packet_socket server_side;
    if (auto e = client_side.open(config.client_side); !e.empty()) return e;
    if (auto e = server_side.open(config.server_side); !e.empty()) return e;
    const std::int64_t delay = std::chrono::duration_cast<std::chrono::nanoseconds>(config.one_way).count();
    delay_line forward(client_side, server_side, delay, config.forward_loss, config.seed, counters.forward);
    delay_line reverse(server_side, client_side, delay, 0.0, config.seed + 1, counters.reverse);
    counters.ready.store(1);

    std::array<::pollfd, 2> fds{::pollfd{client_side.fd(), POLLIN, 0}, ::pollfd{server_side.fd(), POLLIN, 0}};
    while (control.stop.load(std::memory_order_relaxed) == 0) {
        const std::int64_t now = steady_now_ns();
        const std::int64_t ws = control.window_start_ns.load(std::memory_order_relaxed);
        const std::int64_t we = control.window_end_ns.load(std::memory_order_relaxed);
        forward.receive(now);
        reverse.receive(now);
        const std::int64_t next = std::min(forward.release(now, ws, we), reverse.release(now, ws, we));
        // Sleep until the next release, a new frame, or 50 ms (to see `stop`), to the microsecond.
        const std::int64_t wait = std::clamp<std::int64_t>(next - steady_now_ns(), 0, 50'000'000);
        if (wait == 0) continue;
        const ::timespec ts{static_cast<time_t>(wait / 1'000'000'000), static_cast<long>(wait % 1'000'000'000)};
        (void)::ppoll(fds.data(), fds.size(), &ts, nullptr);
    }
    return {};
}

}  // namespace neutrino::bench::lab
