// Loopback forwarding rate of the neutrino-inspector proxy (no impairment) against a direct
// sender → receiver run in the same invocation (issue #3: "at least 200 000 datagrams/s of
// 1280 bytes"; report the ratio).
//
// Each measurement forks separate, pinned processes:
//  - direct: receiver on CPU 0, sender on CPU 1;
//  - proxy:  receiver and sender on CPU 0, the `udp_proxy` on CPU 1 (the machine has two cores:
//    the proxy gets one to itself, the endpoints share the other).
// The sender writes 1280-byte datagrams (a sequence number in front) into `udp_socket` send
// slots (sendmmsg, GSO when available), paced by credit: at most `--window` datagrams ahead of
// what the receiver counted (a shared-memory counter), so no socket buffer overflows. The
// receiver `receive_batch`es (recvmmsg, GRO when available) and counts over a steady window
// after `--warmup`. Children report through pipes, are bounded in time and killed on a timeout.
//
// Not a Google Benchmark program: the sides are separate processes.

#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "neutrino/inspector/io/udp_proxy.hpp"
#include "neutrino/io/asio.hpp"
#include "neutrino/io/udp_socket.hpp"
#include "child_process.hpp"

namespace {

using namespace neutrino::bench;  // child_process.hpp: spawn, reap, read_all, median …
namespace nio = neutrino::io;
namespace nii = neutrino::inspector::io;
namespace net = neutrino::net;
using neutrino::clock;
using neutrino::time_point;
using fseconds = std::chrono::duration<double>;

constexpr std::size_t datagram_size = 1280;
constexpr std::size_t burst = 64;  ///< datagrams the sender commits per loop turn at most

struct options {
    double seconds = 2.0;
    double warmup = 0.3;
    std::uint64_t window = 2048;
    bool offload = true;
    int repeat = 3;
};

enum class path_kind : std::uint8_t { direct, proxy };
const char* name_of(path_kind p) { return p == path_kind::direct ? "direct" : "proxy"; }

struct receiver_report {
    int ok = 0;
    std::array<char, 120> error{};
    std::uint64_t window_datagrams = 0;
    double window_seconds = 0;
    std::uint64_t total = 0;
    std::uint64_t wrong_size = 0;
    std::uint64_t out_of_order = 0;  ///< sequence not above the previous one
    std::uint64_t receive_calls = 0;
    std::uint64_t gro_buffers = 0;
    int gro = 0;
    int pinned = 0;
};

struct sender_report {
    int ok = 0;
    std::array<char, 120> error{};
    std::uint64_t window_datagrams = 0;
    double window_seconds = 0;
    std::uint64_t sent = 0;
    std::uint64_t send_calls = 0;
    std::uint64_t gso_messages = 0;
    std::uint64_t send_dropped = 0;
    std::uint64_t credit_stalls = 0;
    int gso = 0;
    int pinned = 0;
};

struct proxy_report {
    int ok = 0;
    std::array<char, 120> error{};
    std::uint64_t received = 0;
    std::uint64_t forwarded = 0;
    std::uint64_t dropped = 0;
    std::uint64_t receive_calls = 0;
    std::uint64_t gro_buffers = 0;
    std::uint64_t wakeups = 0;
    int pinned = 0;
};

/// Shared between the processes (an anonymous mapping made before the forks).
struct shared_state {
    std::atomic<std::uint64_t> delivered{0};  ///< the receiver's count, for credit pacing
    std::atomic<int> stop{0};                 ///< tells the proxy to report and leave
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

nio::udp_socket_options socket_options(bool offload) {
    nio::udp_socket_options o;
    o.gso = offload;
    o.gro = offload;
    return o;
}

const net::ip::udp::endpoint loopback_any{net::ip::address_v4::loopback(), 0};

/// Counts deliveries inside the steady window: from the first delivery plus the warm-up, for
/// `--seconds`.
class window_meter {
public:
    explicit window_meter(const options& opt)
        : warmup_(std::chrono::duration_cast<clock::duration>(fseconds(opt.warmup))),
          length_(std::chrono::duration_cast<clock::duration>(fseconds(opt.seconds))) {}

    void add(std::uint64_t n, time_point now) noexcept {
        if (!started_) {
            started_ = true;
            start_ = now + warmup_;
            end_ = start_ + length_;
        }
        total_ += n;
        if (now >= start_ && now < end_) window_ += n;
    }
    [[nodiscard]] bool done(time_point now) const noexcept { return started_ && now >= end_; }
    [[nodiscard]] bool started() const noexcept { return started_; }
    [[nodiscard]] time_point end() const noexcept { return end_; }
    [[nodiscard]] std::uint64_t window() const noexcept { return window_; }
    [[nodiscard]] std::uint64_t total() const noexcept { return total_; }
    [[nodiscard]] double seconds() const noexcept { return fseconds(length_).count(); }

private:
    clock::duration warmup_;
    clock::duration length_;
    bool started_ = false;
    time_point start_{};
    time_point end_{};
    std::uint64_t window_ = 0;
    std::uint64_t total_ = 0;
};

void receiver(const options& opt, int fd, shared_state& shared, receiver_report& rep) {
    net::io_context ctx;
    nio::udp_socket sock(ctx, loopback_any, socket_options(opt.offload));
    const std::uint16_t port = sock.local_endpoint().port();
    if (!write_all(fd, &port, sizeof port)) return copy_error(rep, "cannot report the port");
    rep.gro = sock.gro_enabled() ? 1 : 0;
    window_meter meter(opt);
    std::uint64_t last = 0;
    const time_point give_up = clock::now() + std::chrono::seconds(15);
    while (!meter.done(clock::now())) {
        boost::system::error_code ec;
        const time_point now = clock::now();
        std::uint64_t n = 0;
        sock.receive_batch(
            [&](std::span<const std::byte> d, const neutrino::peer_address&) {
                if (d.size() != datagram_size) {
                    ++rep.wrong_size;
                    return;
                }
                std::uint64_t seq = 0;
                std::memcpy(&seq, d.data(), sizeof seq);
                if (seq <= last) ++rep.out_of_order;
                last = seq;
                ++n;
            },
            ec);
        if (n > 0) {
            meter.add(n, now);
            shared.delivered.store(meter.total(), std::memory_order_relaxed);
        }
        if (ec == net::error::would_block) {
            if (!meter.started() && clock::now() > give_up) return copy_error(rep, "no data");
            ::pollfd pfd{sock.next_layer().native_handle(), POLLIN, 0};
            (void)::poll(&pfd, 1, 20);
        } else if (ec) {
            return copy_error(rep, "fatal receive error");
        }
    }
    rep.window_datagrams = meter.window();
    rep.window_seconds = meter.seconds();
    rep.total = meter.total();
    rep.receive_calls = sock.counters().receive_calls;
    rep.gro_buffers = sock.counters().gro_buffers;
    rep.ok = 1;
}

void sender(const options& opt, std::uint16_t port, const shared_state& shared,
            sender_report& rep) {
    net::io_context ctx;
    nio::udp_socket sock(ctx, loopback_any, socket_options(opt.offload));
    rep.gso = sock.gso_enabled() ? 1 : 0;
    const auto to = neutrino::peer_address::v4({127, 0, 0, 1}, port);
    std::uint64_t sent = 0;
    std::uint64_t seen = 0;
    std::uint64_t written_off = 0;
    time_point progress_at = clock::now();
    window_meter meter(opt);
    const auto tail = std::chrono::milliseconds(500);
    for (;;) {
        const time_point now = clock::now();
        if (meter.started() && now >= meter.end() + tail) break;
        // Credit: at most `window` datagrams ahead of the receiver; in-flight datagrams that
        // make no progress for 5 ms (lost somewhere) are written off.
        const std::uint64_t delivered = shared.delivered.load(std::memory_order_relaxed);
        if (delivered != seen) {
            seen = delivered;
            progress_at = now;
        }
        std::uint64_t in_flight = sent > delivered + written_off ? sent - delivered - written_off : 0;
        if (in_flight >= opt.window && now - progress_at > std::chrono::milliseconds(5)) {
            written_off = sent - delivered;
            ++rep.credit_stalls;
            progress_at = now;
            in_flight = 0;
        }
        const std::size_t budget =
            std::min<std::uint64_t>(burst, in_flight >= opt.window ? 0 : opt.window - in_flight);
        for (std::size_t i = 0; i < budget; ++i) {
            std::span<std::byte> slot = sock.prepare_send();
            if (slot.empty()) {
                (void)sock.flush_sends();
                slot = sock.prepare_send();
            }
            ++sent;
            std::memset(slot.data(), 0x5a, datagram_size);
            std::memcpy(slot.data(), &sent, sizeof sent);
            sock.commit_send(datagram_size, to);
        }
        if (auto ec = sock.flush_sends()) return copy_error(rep, "fatal send error");
        if (budget > 0) meter.add(budget, now);
    }
    const auto& c = sock.counters();
    rep.window_datagrams = meter.window();
    rep.window_seconds = meter.seconds();
    rep.sent = sent;
    rep.send_calls = c.send_calls;
    rep.gso_messages = c.gso_messages;
    rep.send_dropped = c.send_dropped;
    rep.ok = 1;
}

void proxy(const options& opt, std::uint16_t target, int fd, const shared_state& shared,
           proxy_report& rep) {
    net::io_context ctx;
    nii::proxy_config cfg;
    cfg.listen = loopback_any;
    cfg.target = {net::ip::address_v4::loopback(), target};
    cfg.offload = opt.offload;
    nii::udp_proxy p(ctx, cfg);
    const std::uint16_t port = p.local_endpoint().port();
    if (!write_all(fd, &port, sizeof port)) return copy_error(rep, "cannot report the port");
    const time_point give_up =
        clock::now() + std::chrono::duration_cast<clock::duration>(
                           fseconds(opt.warmup + opt.seconds + 20.0));
    while (shared.stop.load(std::memory_order_relaxed) == 0 && clock::now() < give_up) {
        ctx.run_for(std::chrono::milliseconds(20));
        if (p.last_error()) return copy_error(rep, "proxy socket error");
    }
    const auto s = p.client_to_server_summary();
    rep.received = s.received();
    rep.forwarded = s.forwarded();
    rep.dropped = s.dropped();
    rep.receive_calls = p.counters().listen_receive.calls;
    rep.gro_buffers = p.counters().listen_receive.gro_buffers;
    rep.wakeups = p.counters().wakeups;
    rep.ok = 1;
}

template <class Report, class Body>
pid_t spawn(int cpu, std::array<int, 2> pipe_fds, Body body) {
    const pid_t pid = ::fork();
    if (pid != 0) return pid;
    ::close(pipe_fds[0]);
    Report rep;
    rep.pinned = pin_to_cpu(cpu) ? 1 : 0;
    try {
        body(pipe_fds[1], rep);
    } catch (const std::exception& e) {
        copy_error(rep, e.what());
        rep.ok = 0;
    }
    (void)write_all(pipe_fds[1], &rep, sizeof rep);
    ::close(pipe_fds[1]);
    ::_exit(rep.ok ? 0 : 1);
}

struct measurement {
    path_kind path = path_kind::direct;
    bool ok = false;
    std::string error;
    receiver_report rx;
    sender_report tx;
    proxy_report px;

    [[nodiscard]] double delivered_rate() const {
        return rx.window_seconds > 0 ? static_cast<double>(rx.window_datagrams) / rx.window_seconds
                                     : 0;
    }
    [[nodiscard]] double offered_rate() const {
        return tx.window_seconds > 0 ? static_cast<double>(tx.window_datagrams) / tx.window_seconds
                                     : 0;
    }
};

measurement measure(const options& opt, path_kind path) {
    measurement m;
    m.path = path;
    std::fflush(stdout);
    void* mapping = ::mmap(nullptr, sizeof(shared_state), PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) {
        m.error = "mmap failed";
        return m;
    }
    auto* shared = new (mapping) shared_state;
    const time_point start = clock::now();
    const time_point deadline =
        start + std::chrono::duration_cast<clock::duration>(fseconds(opt.warmup + opt.seconds + 20));
    const bool via_proxy = path == path_kind::proxy;

    std::array<int, 2> rx_pipe{-1, -1};
    std::array<int, 2> px_pipe{-1, -1};
    std::array<int, 2> tx_pipe{-1, -1};
    pid_t rx_pid = -1;
    pid_t px_pid = -1;
    pid_t tx_pid = -1;
    auto fail = [&](const char* what) {
        if (m.error.empty()) m.error = what;
    };
    if (::pipe(rx_pipe.data()) != 0) {
        fail("pipe failed");
    } else {
        rx_pid = spawn<receiver_report>(0, rx_pipe, [&](int fd, receiver_report& rep) {
            receiver(opt, fd, *shared, rep);
        });
        ::close(rx_pipe[1]);
    }
    std::uint16_t port = 0;
    if (m.error.empty() &&
        !read_all(rx_pipe[0], &port, sizeof port, start + std::chrono::seconds(10))) {
        fail("receiver did not start");
    }
    if (m.error.empty() && via_proxy) {
        if (::pipe(px_pipe.data()) != 0) {
            fail("pipe failed");
        } else {
            const std::uint16_t target = port;
            px_pid = spawn<proxy_report>(1, px_pipe, [&](int fd, proxy_report& rep) {
                ::close(rx_pipe[0]);
                proxy(opt, target, fd, *shared, rep);
            });
            ::close(px_pipe[1]);
            if (!read_all(px_pipe[0], &port, sizeof port, start + std::chrono::seconds(10))) {
                fail("proxy did not start");
            }
        }
    }
    if (m.error.empty()) {
        if (::pipe(tx_pipe.data()) != 0) {
            fail("pipe failed");
        } else {
            const std::uint16_t to = port;
            tx_pid = spawn<sender_report>(via_proxy ? 0 : 1, tx_pipe,
                                          [&](int, sender_report& rep) {
                                              ::close(rx_pipe[0]);
                                              if (px_pipe[0] >= 0) ::close(px_pipe[0]);
                                              sender(opt, to, *shared, rep);
                                          });
            ::close(tx_pipe[1]);
            const bool got_rx = read_all(rx_pipe[0], &m.rx, sizeof m.rx, deadline);
            const bool got_tx = read_all(tx_pipe[0], &m.tx, sizeof m.tx, deadline);
            shared->stop.store(1, std::memory_order_relaxed);
            const bool got_px = !via_proxy || read_all(px_pipe[0], &m.px, sizeof m.px, deadline);
            if (!got_rx || !got_tx || !got_px) {
                fail("a child timed out or died");
            } else if (!m.rx.ok) {
                m.error = std::string("receiver: ") + m.rx.error.data();
            } else if (!m.tx.ok) {
                m.error = std::string("sender: ") + m.tx.error.data();
            } else if (via_proxy && !m.px.ok) {
                m.error = std::string("proxy: ") + m.px.error.data();
            } else {
                m.ok = true;
            }
        }
    }
    shared->stop.store(1, std::memory_order_relaxed);
    for (int fd : {rx_pipe[0], px_pipe[0], tx_pipe[0]}) {
        if (fd >= 0) ::close(fd);
    }
    const time_point reap_by = std::min(deadline, clock::now() + std::chrono::seconds(3));
    reap(tx_pid, reap_by);
    reap(px_pid, reap_by);
    reap(rx_pid, reap_by);
    shared->~shared_state();
    ::munmap(mapping, sizeof(shared_state));
    return m;
}

void print_run(const measurement& m) {
    if (!m.ok) {
        std::printf("  %-6s FAILED: %s\n", name_of(m.path), m.error.c_str());
        return;
    }
    std::printf("  %-6s offered %8.0f/s  delivered %8.0f/s  [gso %d gro %d pinned %d/%d; "
                "sent %llu, tx calls %llu gso-msgs %llu dropped %llu stalls %llu; received %llu, rx "
                "calls %llu gro-bufs %llu out-of-order %llu wrong-size %llu",
                name_of(m.path), m.offered_rate(), m.delivered_rate(), m.tx.gso, m.rx.gro,
                m.tx.pinned, m.rx.pinned, static_cast<unsigned long long>(m.tx.sent),
                static_cast<unsigned long long>(m.tx.send_calls),
                static_cast<unsigned long long>(m.tx.gso_messages),
                static_cast<unsigned long long>(m.tx.send_dropped),
                static_cast<unsigned long long>(m.tx.credit_stalls),
                static_cast<unsigned long long>(m.rx.total),
                static_cast<unsigned long long>(m.rx.receive_calls),
                static_cast<unsigned long long>(m.rx.gro_buffers),
                static_cast<unsigned long long>(m.rx.out_of_order),
                static_cast<unsigned long long>(m.rx.wrong_size));
    if (m.path == path_kind::proxy) {
        std::printf("; proxy pinned %d received %llu forwarded %llu dropped %llu rx calls %llu "
                    "gro-bufs %llu wakeups %llu",
                    m.px.pinned, static_cast<unsigned long long>(m.px.received),
                    static_cast<unsigned long long>(m.px.forwarded),
                    static_cast<unsigned long long>(m.px.dropped),
                    static_cast<unsigned long long>(m.px.receive_calls),
                    static_cast<unsigned long long>(m.px.gro_buffers),
                    static_cast<unsigned long long>(m.px.wakeups));
    }
    std::printf("]\n");
    std::fflush(stdout);
}

}  // namespace

static int run(int argc, char** argv) {
    options opt;
    bool no_offload = false;
    CLI::App app{"neutrino-inspector proxy forwarding rate against a direct run (same invocation)"};
    app.add_option("--seconds", opt.seconds, "measured window per measurement, s")
        ->check(CLI::PositiveNumber);
    app.add_option("--warmup", opt.warmup, "excluded start of each measurement, s")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--window", opt.window, "datagrams in flight at most (credit pacing)")
        ->check(CLI::Range(1, 100000));
    app.add_flag("--no-offload", no_offload, "plain sendmmsg/recvmmsg everywhere (no GSO/GRO)");
    app.add_option("--repeat", opt.repeat, "rounds (direct and proxy alternate); medians reported")
        ->check(CLI::Range(1, 50));
    CLI11_PARSE(app, argc, argv);
    opt.offload = !no_offload;
    ::signal(SIGPIPE, SIG_IGN);

    std::printf("%zu-byte datagrams, %s; window %.1f s after %.1f s warm-up; credit %llu; %d "
                "round(s)\n",
                datagram_size, opt.offload ? "GSO/GRO when available" : "no offload",
                opt.seconds, opt.warmup, static_cast<unsigned long long>(opt.window), opt.repeat);
    std::vector<double> direct;
    std::vector<double> via;
    bool all_ok = true;
    for (int round = 0; round < opt.repeat; ++round) {
        for (const path_kind p : {path_kind::direct, path_kind::proxy}) {
            const measurement m = measure(opt, p);
            print_run(m);
            all_ok = all_ok && m.ok;
            if (m.ok) (p == path_kind::direct ? direct : via).push_back(m.delivered_rate());
        }
    }
    const double d = median(direct);
    const double v = median(via);
    std::printf("\nmedian delivered datagrams/s: direct %.0f, through the proxy %.0f; ratio %.3f "
                "(goal: proxy ≥ 200000/s)\n",
                d, v, d > 0 ? v / d : 0.0);
    return all_ok ? 0 : 1;
}

int main(int argc, char** argv) { return run(argc, argv); }
