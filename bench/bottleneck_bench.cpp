// neutrino-reliable against kernel TCP through the same real bottleneck, in the same run
// (issue #13, "Benchmark against the kernel").
//
// The lab (bench/lab/netns_lab.hpp): client, router and server network namespaces on one L2
// segment; in the router a userspace delay relay (bench/lab/delay_relay.hpp) holds every frame
// for half the path's RTT and can drop a seeded share of the data direction; tbf on the router's
// egress toward the server is the bottleneck, with a drop-tail queue of one BDP. The bench makes
// the lab, runs every measurement in it, and deletes it, also on failure; it needs root and skips
// with a message (exit 0) otherwise.
//
// Each measurement is one bulk upload, client → server, for --warmup + --seconds:
//  - tcp-bbr, tcp-cubic: a plain kernel TCP socket pair (TCP_CONGESTION set on the sender);
//  - reliable-bbr, reliable-cubic: a reliable::client sending 1200-byte messages to a
//    reliable::server as fast as its controller allows, over the Asio driver (the receiver checks
//    every message arrives once, in order).
// Counted in the steady window after the warm-up: goodput at the receiver (application bytes),
// the bottleneck's load (L2 bytes tbf accepted), frames tbf refused, and the RTT under load,
// measured for every stack the same way: a 64-byte UDP probe every 20 ms from the client
// namespace to an echo in the server namespace, through the same queue (its idle RTT is measured
// before the transfer). Retransmissions: TCP's tcpi_total_retrans / tcpi_data_segs_out; ours,
// DATA resent on request or as probes / DATA sent.
//
// Why a goodput ratio of 1.0 is not reachable by ours: a full 1514-byte TCP frame carries 1448
// bytes (timestamps on), one of our 1200-byte messages travels in a 1306-byte frame (core header,
// nonce, tag, word framing, UDP/IP/Ethernet), so at the same link load ours delivers 0.96× TCP's
// goodput. The table prints both goodput and the bottleneck's load.

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "lab/delay_relay.hpp"
#include "lab/netns_lab.hpp"
#include "lab/tcp_bulk.hpp"
#include "neutrino/congestion/bbr.hpp"
#include "neutrino/congestion/cubic.hpp"
#include "neutrino/core/client.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/io/asio.hpp"
#include "neutrino/io/basic_endpoint.hpp"
#include "neutrino/reliable/client.hpp"
#include "neutrino/reliable/server.hpp"
#include "child_process.hpp"

namespace {

using namespace neutrino::bench;  // child_process.hpp: spawn, reap, read_all, write_all, median
namespace lab = neutrino::bench::lab;
namespace nc = neutrino::core;
namespace nr = neutrino::reliable;
namespace nio = neutrino::io;
namespace net = neutrino::net;
using neutrino::clock;
using neutrino::time_point;
using fseconds = std::chrono::duration<double>;

constexpr std::uint16_t data_port = 5201;
constexpr std::uint16_t echo_port = 5202;
constexpr std::size_t message_size = 1200;

struct path {
    double mbit = 100;
    double rtt_ms = 40;
    [[nodiscard]] std::uint64_t rate_bit_s() const { return static_cast<std::uint64_t>(mbit * 1e6); }
    [[nodiscard]] std::uint64_t bdp_bytes() const { return static_cast<std::uint64_t>(mbit * 1e6 / 8 * rtt_ms / 1e3); }
    [[nodiscard]] std::string name() const {
        char b[48];
        std::snprintf(b, sizeof b, "%g Mbit/s x %g ms", mbit, rtt_ms);
        return b;
    }
};

enum class stack : std::uint8_t { tcp_bbr, tcp_cubic, reliable_bbr, reliable_cubic };
constexpr std::array<const char*, 4> stack_names{"tcp-bbr", "tcp-cubic", "reliable-bbr", "reliable-cubic"};
const char* name_of(stack s) { return stack_names[static_cast<std::size_t>(s)]; }
bool is_tcp(stack s) { return s == stack::tcp_bbr || s == stack::tcp_cubic; }
/// The kernel algorithm the reliable stack is compared with.
stack kernel_peer(stack s) { return s == stack::reliable_bbr ? stack::tcp_bbr : stack::tcp_cubic; }

struct options {
    double seconds = 10.0;
    double warmup = 0.0;  ///< 0: max(3 s, 25 RTTs)
    std::vector<std::string> paths{"100x40", "20x40", "100x200"};
    std::vector<double> losses{0.0, 0.01};
    std::vector<std::string> stacks{"tcp-bbr", "reliable-bbr", "tcp-cubic", "reliable-cubic"};
    std::uint64_t seed = 20240601;
    std::string json;
    bool smoke = false;
    bool trace = false;
};

// ---- shared memory and reports ------------------------------------------------------------

/// Between the parent and every child of one measurement (anonymous shared mapping).
struct shared_state {
    lab::relay_counters relay;
    lab::transfer_control transfer;  ///< stop, receiver_ready, the window
    std::atomic<int> echo_ready{0};
    std::atomic<int> idle_done{0};   ///< the prober measured the idle RTT
    std::atomic<std::uint64_t> delivered_bytes{0};  ///< the reliable receiver's, for --trace
};
static_assert(std::atomic<std::int64_t>::is_always_lock_free);

using lab::steady_now_ns;
time_point at_ns(std::int64_t ns) { return time_point(std::chrono::duration_cast<clock::duration>(std::chrono::nanoseconds(ns))); }

struct receiver_report {
    int ok = 0;
    int pinned = 0;
    std::array<char, 160> error{};
    lab::receive_counts counts;
    std::uint64_t out_of_order = 0;  ///< reliable: messages whose sequence was not previous + 1
};

struct sender_report {
    int ok = 0;
    int pinned = 0;
    std::array<char, 160> error{};
    lab::send_counts counts;  ///< TCP data segments / our DATA datagrams, resent, smoothed RTT
    double cpu_share = 0;     ///< the sender process's CPU time / wall time of the transfer
};

/// A lab function's error text into the report, or ok.
template <class Report>
void finish(Report& rep, const std::string& error) {
    if (error.empty()) {
        rep.ok = 1;
    } else {
        copy_error(rep, error.c_str());
    }
}

struct probe_report {
    int ok = 0;
    int pinned = 0;
    std::array<char, 160> error{};
    double idle_ms = 0;        ///< median of the idle probes
    double loaded_mean_ms = 0; ///< mean of the probes answered inside the window
    double loaded_p90_ms = 0;
    std::uint64_t sent = 0;
    std::uint64_t answered = 0;
};

bool in_window(const shared_state& s, std::int64_t t) { return s.transfer.in_window(t); }

/// Forks a child that enters `n`'s namespace and runs `body(report)`: spawn() with the lab.
template <class Report, class Body>
pid_t spawn_in(const lab::netns_lab& netns, lab::node n, int cpu, std::array<int, 2> fds, Body body) {
    return spawn<Report>(cpu, fds, [&](Report& rep) {
        if (auto e = netns.enter(n); !e.empty()) return copy_error(rep, e.c_str());
        body(rep);
    });
}

// ---- the RTT probe: echo in the server namespace, prober in the client namespace -----------

int udp_socket_bound(const char* address, std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    ::sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, address, &a.sin_addr);
    if (::bind(fd, reinterpret_cast<const ::sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

void run_echo(shared_state& s, probe_report& rep) {
    const int fd = udp_socket_bound(lab::server_address, echo_port);
    if (fd < 0) return copy_error(rep, "echo: cannot bind");
    s.echo_ready.store(1);
    std::array<char, 256> buf{};
    while (s.transfer.stop.load(std::memory_order_relaxed) == 0) {
        ::pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        ::sockaddr_in from{};
        ::socklen_t len = sizeof from;
        const ssize_t n = ::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<::sockaddr*>(&from), &len);
        if (n > 0) (void)::sendto(fd, buf.data(), static_cast<std::size_t>(n), 0, reinterpret_cast<const ::sockaddr*>(&from), len);
    }
    ::close(fd);
    rep.ok = 1;
}

void run_prober(shared_state& s, probe_report& rep) {
    const int fd = udp_socket_bound(lab::client_address, 0);
    if (fd < 0) return copy_error(rep, "prober: cannot bind");
    ::sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(echo_port);
    ::inet_pton(AF_INET, lab::server_address, &to.sin_addr);
    std::vector<double> idle;
    std::vector<double> loaded;
    auto probe_round = [&](bool idle_phase) {
        std::array<std::int64_t, 8> msg{};  // 64 bytes: the send time, then zeros
        msg[0] = steady_now_ns();
        ++rep.sent;
        (void)::sendto(fd, msg.data(), sizeof msg, 0, reinterpret_cast<const ::sockaddr*>(&to), sizeof to);
        const std::int64_t until = msg[0] + 20'000'000;  // the next probe in 20 ms
        for (std::int64_t now = steady_now_ns(); now < until; now = steady_now_ns()) {
            ::pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>((until - now) / 1'000'000 + 1)) <= 0) continue;
            std::array<std::int64_t, 8> back{};
            if (::recv(fd, back.data(), sizeof back, 0) != static_cast<ssize_t>(sizeof back)) continue;
            const std::int64_t t = steady_now_ns();
            ++rep.answered;
            const double ms = static_cast<double>(t - back[0]) / 1e6;
            if (idle_phase) {
                idle.push_back(ms);
            } else if (in_window(s, back[0])) {
                loaded.push_back(ms);
            }
        }
    };
    for (int i = 0; i < 25 && s.transfer.stop.load() == 0; ++i) probe_round(true);
    s.idle_done.store(1);
    while (s.transfer.stop.load(std::memory_order_relaxed) == 0) probe_round(false);
    ::close(fd);
    if (idle.empty()) return copy_error(rep, "no idle probe came back");
    rep.idle_ms = median(idle);
    if (!loaded.empty()) {
        double sum = 0;
        for (double v : loaded) sum += v;
        rep.loaded_mean_ms = sum / static_cast<double>(loaded.size());
        std::sort(loaded.begin(), loaded.end());
        rep.loaded_p90_ms = loaded[loaded.size() * 9 / 10];
    }
    rep.ok = 1;
}

// ---- neutrino-reliable -------------------------------------------------------------------------

nc::keypair example_keys() {
    auto keys = nc::keypair_from_hex(nc::example_public_key_hex, nc::example_secret_key_hex);
    if (!keys) throw std::runtime_error("bad example key");
    return *keys;
}

/// The send and receive windows the path needs: BBR keeps up to 2 BDP in flight (cwnd gain 2),
/// and the default 512-packet send window is 614 KB, a fifth of the 100 Mbit/s x 200 ms BDP.
nr::config reliable_config(const path& p) {
    nr::config c;
    const auto bdp_packets = static_cast<std::size_t>(p.bdp_bytes() / message_size);
    c.send_window = std::max(c.send_window, 3 * bdp_packets);
    c.receive_window = std::max(c.receive_window, 3 * bdp_packets);
    return c;
}

nio::endpoint_options endpoint_options() {
    nio::endpoint_options o;
    // The veths have checksum offload off (the relay forwards plain frames), and UDP GSO needs it.
    o.socket.gso = false;
    o.socket.gro = false;
    return o;
}

template <class Controller>
void run_reliable_receiver(shared_state& s, const path& p, receiver_report& rep) {
    using server = nr::basic_server<nc::server, Controller>;
    nc::server_config cfg;
    cfg.keys = example_keys();
    net::io_context ctx;
    const net::ip::udp::endpoint local{net::ip::make_address_v4(lab::server_address), data_port};
    nio::basic_endpoint<server> ep(ctx, local, server(std::move(cfg), reliable_config(p)), endpoint_options());
    std::uint64_t last = 0;
    ep.set_event_handler([&](const nc::event& e) {
        if (e.kind != nc::event_kind::data || e.words.size() != 1) return;
        const nc::word w = e.words[0];
        std::uint64_t seq = 0;
        if (w.size() == message_size) std::memcpy(&seq, w.data(), sizeof seq);
        if (seq != last + 1) ++rep.out_of_order;
        last = seq;
        rep.counts.total_bytes += w.size();
        s.delivered_bytes.store(rep.counts.total_bytes, std::memory_order_relaxed);
        if (in_window(s, steady_now_ns())) rep.counts.window_bytes += w.size();
    });
    s.transfer.receiver_ready.store(1);
    while (s.transfer.stop.load(std::memory_order_relaxed) == 0) {
        ctx.run_one_for(std::chrono::milliseconds(20));
        if (!ep.is_open() || ep.last_error()) return copy_error(rep, "reliable: the server's endpoint failed");
    }
    rep.ok = 1;
}

template <class Controller>
void run_reliable_sender(shared_state& s, const path& p, bool trace, sender_report& rep) {
    using client = nr::basic_client<nc::client, Controller>;
    nc::client_config cfg;
    cfg.server_key = example_keys().pk;
    cfg.server = neutrino::peer_address::v4({10, 77, 0, 2}, data_port);
    cfg.reconnect = false;
    net::io_context ctx;
    const net::ip::udp::endpoint local{net::ip::make_address_v4(lab::client_address), 0};
    nio::basic_endpoint<client> ep(ctx, local, client(std::move(cfg), reliable_config(p)), endpoint_options());
    bool established = false;
    bool lost = false;
    ep.set_event_handler([&](const nc::event& e) {
        if (e.kind == nc::event_kind::established) established = true;
        if (e.kind == nc::event_kind::closed) lost = true;
    });
    if (!ep.layer().connect(clock::now())) return copy_error(rep, "reliable: connect failed");
    ep.flush();
    const time_point dial = clock::now();
    while (!established && clock::now() < dial + std::chrono::seconds(10)) ctx.run_one_for(std::chrono::milliseconds(20));
    if (!established) return copy_error(rep, "reliable: no session within 10 s");

    std::vector<std::byte> payload(message_size, std::byte{0x5a});
    const nc::word w(payload);
    std::uint64_t seq = 0;
    std::int64_t next_sample = 0;
    const time_point end = at_ns(s.transfer.window_end_ns.load());
    const time_point began = clock::now();
    time_point next_trace = began;
    std::uint64_t traced_bytes = 0;
    const char* traced_state = "";
    // Queries go through the const view: the mutable `layer()` schedules a drain each call, which
    // would make every `run_one_for` below return at once.
    const auto& machine = std::as_const(ep).layer();
    while (s.transfer.stop.load(std::memory_order_relaxed) == 0 && clock::now() < end) {
        if (lost) return copy_error(rep, "reliable: session lost");
        const time_point now = clock::now();
        bool full = false;
        for (int n = 0; n < 64; ++n) {  // then let the reactor read acknowledgements
            if (!machine.can_send()) {
                full = true;
                break;
            }
            std::memcpy(payload.data(), &(++seq), sizeof seq);
            if (!ep.layer().send({&w, 1}, now)) {
                --seq;
                ep.flush();  // the core's datagram queue is full: hand it to the socket
                break;
            }
        }
        ep.flush();
        if (full) ctx.run_one_for(std::chrono::milliseconds(1));
        ctx.poll();
        if (ep.last_error()) return copy_error(rep, "reliable: fatal send error");
        if (trace) {
            const auto cc = machine.congestion();
            const time_point at = clock::now();
            if (at >= next_trace || std::strcmp(cc.state, traced_state) != 0) {
                const bool periodic = at >= next_trace;
                const std::uint64_t d = s.delivered_bytes.load(std::memory_order_relaxed);
                std::fprintf(stderr, "%s t=%6.3f %-16s pacing %6.1f Mbit/s cwnd %5.0f KB in flight %5.0f KB srtt %5.1f ms",
                             periodic ? "   " : " ->", fseconds(at - began).count(), cc.state, cc.pacing_rate * 8e-6,
                             static_cast<double>(cc.window) / 1e3, static_cast<double>(cc.bytes_in_flight) / 1e3,
                             std::chrono::duration<double, std::milli>(cc.smoothed_rtt).count());
                if constexpr (requires { machine.controller().max_bandwidth(); }) {
                    std::fprintf(stderr, " max_bw %6.1f bw %6.1f", machine.controller().max_bandwidth() * 8e-6,
                                 machine.controller().bottleneck_bandwidth() * 8e-6);
                }
                if (periodic) {
                    std::fprintf(stderr, "  delivered %6.1f Mbit/s  resent %llu", static_cast<double>(d - traced_bytes) * 8 / 0.25e6,
                                 static_cast<unsigned long long>(machine.stats().retransmitted));
                    traced_bytes = d;
                    next_trace += std::chrono::milliseconds(250);
                }
                std::fprintf(stderr, "\n");
                traced_state = cc.state;
            }
        }
        const std::int64_t t = steady_now_ns();
        if (in_window(s, t) && t >= next_sample) {
            const auto cc = machine.congestion();
            rep.counts.sample(std::chrono::duration<double, std::milli>(cc.smoothed_rtt).count(), cc.pacing_rate,
                              static_cast<double>(cc.window), static_cast<double>(cc.bytes_in_flight));
            next_sample = t + 50'000'000;
        }
    }
    const auto& st = machine.stats();
    rep.counts.segments = seq + st.retransmitted + st.probes;
    rep.counts.retransmitted = st.retransmitted + st.probes;
    rep.counts.finish();
    rep.ok = 1;
}

template <class F>
void with_controller(stack st, F&& f) {
    if (st == stack::reliable_bbr) {
        f.template operator()<neutrino::congestion::bbr>();
    } else {
        f.template operator()<neutrino::congestion::cubic>();
    }
}

// ---- one measurement --------------------------------------------------------------------------

struct measurement {
    path p;
    double loss = 0;
    stack st = stack::tcp_bbr;
    bool ok = false;
    std::string error;
    receiver_report rx;
    sender_report tx;
    probe_report probe;
    double window_seconds = 0;
    std::uint64_t bottleneck_bytes = 0;  ///< L2 bytes tbf accepted in the window
    std::uint64_t queue_drops = 0;       ///< frames tbf refused in the window
    std::uint64_t random_drops = 0;      ///< frames the relay dropped on purpose (whole run)

    [[nodiscard]] double goodput_mbit() const {
        return window_seconds > 0 ? static_cast<double>(rx.counts.window_bytes) * 8.0 / window_seconds / 1e6 : 0;
    }
    [[nodiscard]] double load() const {  ///< share of the bottleneck's rate used
        return window_seconds > 0
                   ? static_cast<double>(bottleneck_bytes) * 8.0 / window_seconds / static_cast<double>(p.rate_bit_s())
                   : 0;
    }
    [[nodiscard]] double rtt_ratio() const { return probe.idle_ms > 0 ? probe.loaded_mean_ms / probe.idle_ms : 0; }
    [[nodiscard]] double retransmit_share() const {
        return tx.counts.segments > 0
                   ? static_cast<double>(tx.counts.retransmitted) / static_cast<double>(tx.counts.segments)
                   : 0;
    }
};

template <class Report>
bool collect(int fd, Report& rep, time_point deadline, std::string& error, const char* who) {
    const bool got = read_all(fd, &rep, sizeof rep, deadline);
    ::close(fd);
    if (!got) {
        if (error.empty()) error = std::string(who) + ": no report (timed out or died)";
        return false;
    }
    if (!rep.ok) {
        if (error.empty()) error = std::string(who) + ": " + rep.error.data();
        return false;
    }
    return true;
}

measurement measure(const lab::netns_lab& netns, const options& opt, const path& p, double loss, stack st,
                    std::uint64_t seed) {
    measurement m;
    m.p = p;
    m.loss = loss;
    m.st = st;
    const double warmup = opt.warmup > 0 ? opt.warmup : std::max(3.0, 25 * p.rtt_ms / 1e3);
    m.window_seconds = opt.seconds;
    std::fflush(stdout);
    void* mapping = ::mmap(nullptr, sizeof(shared_state), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) {
        m.error = "mmap failed";
        return m;
    }
    auto* s = new (mapping) shared_state;

    // The delay relay: a plain child in the router namespace (its counters are in `s`).
    const pid_t relay_pid = ::fork();
    if (relay_pid == 0) {
        int code = 1;
        if (netns.enter(lab::node::router).empty()) {
            lab::relay_config rc;
            rc.client_side = lab::netns_lab::router_client_side();
            rc.server_side = lab::netns_lab::router_server_side();
            rc.one_way = std::chrono::microseconds(static_cast<std::int64_t>(p.rtt_ms * 500));
            rc.forward_loss = loss;
            rc.seed = seed;
            const std::string e = lab::run_delay_relay(rc, s->transfer, s->relay);
            if (!e.empty()) std::fprintf(stderr, "delay relay: %s\n", e.c_str());
            code = e.empty() ? 0 : 1;
        }
        ::_exit(code);
    }
    std::vector<pid_t> pids{relay_pid};
    std::array<int, 2> echo_fds{}, probe_fds{}, rx_fds{}, tx_fds{};
    (void)::pipe(echo_fds.data());
    (void)::pipe(probe_fds.data());
    (void)::pipe(rx_fds.data());
    (void)::pipe(tx_fds.data());
    auto wait_for = [&](const std::atomic<int>& flag, double seconds) {
        const time_point until = clock::now() + std::chrono::duration_cast<clock::duration>(fseconds(seconds));
        while (flag.load() == 0 && clock::now() < until) ::usleep(1000);
        return flag.load() != 0;
    };
    pids.push_back(spawn_in<probe_report>(netns, lab::node::server, 0, echo_fds, [&](probe_report& r) { run_echo(*s, r); }));
    ::close(echo_fds[1]);
    if (!wait_for(s->relay.ready, 5) || !wait_for(s->echo_ready, 5)) m.error = "the relay or the echo did not start";
    if (m.error.empty()) {
        pids.push_back(spawn_in<probe_report>(netns, lab::node::client, 1, probe_fds, [&](probe_report& r) { run_prober(*s, r); }));
    }
    ::close(probe_fds[1]);
    if (m.error.empty() && !wait_for(s->idle_done, 5)) m.error = "the idle RTT probes did not finish";
    if (m.error.empty()) {
        pids.push_back(spawn_in<receiver_report>(netns, lab::node::server, 0, rx_fds, [&](receiver_report& r) {
            if (is_tcp(st)) return finish(r, lab::tcp_receive(s->transfer, lab::server_address, data_port, r.counts));
            with_controller(st, [&]<class C>() { run_reliable_receiver<C>(*s, p, r); });
        }));
    }
    ::close(rx_fds[1]);
    if (m.error.empty() && !wait_for(s->transfer.receiver_ready, 5)) m.error = "the receiver did not start";
    const std::int64_t t0 = steady_now_ns();
    const auto window_start = t0 + static_cast<std::int64_t>(warmup * 1e9);
    const auto window_end = window_start + static_cast<std::int64_t>(opt.seconds * 1e9);
    if (m.error.empty()) {
        s->transfer.window_start_ns.store(window_start);
        s->transfer.window_end_ns.store(window_end);
        pids.push_back(spawn_in<sender_report>(netns, lab::node::client, 1, tx_fds, [&](sender_report& r) {
            const auto began = clock::now();
            struct cpu_meter {  // the sender's CPU share, whichever way the body returns
                sender_report& r;
                time_point began;
                ~cpu_meter() {
                    ::rusage u{};
                    ::getrusage(RUSAGE_SELF, &u);
                    const double cpu = static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
                                       static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
                    r.cpu_share = cpu / std::max(1e-3, fseconds(clock::now() - began).count());
                }
            } meter{r, began};
            if (is_tcp(st)) {
                const char* algorithm = st == stack::tcp_bbr ? "bbr" : "cubic";
                return finish(r, lab::tcp_send(s->transfer, algorithm, lab::server_address, data_port, r.counts));
            }
            with_controller(st, [&]<class C>() { run_reliable_sender<C>(*s, p, opt.trace, r); });
        }));
    }
    ::close(tx_fds[1]);
    // Run the transfer: until the window ends (plus a little for the last acknowledgements).
    if (m.error.empty()) {
        while (steady_now_ns() < window_end + 300'000'000) ::usleep(20000);
    }
    s->transfer.stop.store(1);
    const time_point deadline = clock::now() + std::chrono::seconds(10);
    collect(tx_fds[0], m.tx, deadline, m.error, "sender");
    collect(rx_fds[0], m.rx, deadline, m.error, "receiver");
    collect(probe_fds[0], m.probe, deadline, m.error, "prober");
    probe_report echo;
    collect(echo_fds[0], echo, deadline, m.error, "echo");
    for (const pid_t pid : pids) reap(pid, deadline);
    m.bottleneck_bytes = s->relay.forward.window_bytes.load();
    m.queue_drops = s->relay.forward.window_queue_drops.load();
    m.random_drops = s->relay.forward.random_drops.load();
    if (m.error.empty() && m.rx.out_of_order != 0) m.error = "reliable delivery out of order";
    if (m.error.empty() && s->relay.forward.overflow_drops.load() != 0) m.error = "the delay line overflowed";
    m.ok = m.error.empty();
    s->~shared_state();
    ::munmap(mapping, sizeof(shared_state));
    return m;
}

void print(const measurement& m) {
    if (!m.ok) {
        std::printf("  %-15s FAILED: %s\n", name_of(m.st), m.error.c_str());
    } else {
        std::printf("  %-15s %7.2f Mbit/s goodput  load %5.1f%%  RTT %6.1f ms (%.2fx idle %.1f, p90 %.1f)  "
                    "retransmitted %5.2f%%  tbf drops %llu | sender: srtt %.1f ms, pacing %.1f Mbit/s, cwnd %.0f KB, "
                    "in flight %.0f KB, CPU %.0f%%\n",
                    name_of(m.st), m.goodput_mbit(), 100 * m.load(), m.probe.loaded_mean_ms, m.rtt_ratio(),
                    m.probe.idle_ms, m.probe.loaded_p90_ms, 100 * m.retransmit_share(),
                    static_cast<unsigned long long>(m.queue_drops), m.tx.counts.srtt_ms_mean,
                    m.tx.counts.pacing_mbit_mean, m.tx.counts.cwnd_kb_mean, m.tx.counts.inflight_kb_mean,
                    100 * m.tx.cpu_share);
    }
    std::fflush(stdout);
}

bool parse_path(const std::string& text, path& p) {
    const auto x = text.find('x');
    if (x == std::string::npos) return false;
    try {
        p.mbit = std::stod(text.substr(0, x));
        p.rtt_ms = std::stod(text.substr(x + 1));
    } catch (const std::exception&) {
        return false;
    }
    return p.mbit > 0 && p.rtt_ms >= 1;
}

}  // namespace

static int run(int argc, char** argv) {
    options opt;
    CLI::App app{"neutrino-reliable against kernel TCP through a real bottleneck (network namespaces, tbf, a "
                 "userspace delay relay), same run. Needs root; skips otherwise."};
    app.add_option("--seconds", opt.seconds, "measured window per transfer, s")->check(CLI::PositiveNumber);
    app.add_option("--warmup", opt.warmup, "excluded start of each transfer, s (0: max(3 s, 25 RTT))")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--paths", opt.paths, "bottlenecks as <Mbit/s>x<RTT ms>")->capture_default_str();
    app.add_option("--losses", opt.losses, "random loss of the data direction, each path")->capture_default_str();
    app.add_option("--stacks", opt.stacks, "what to measure")
        ->check(CLI::IsMember({"tcp-bbr", "tcp-cubic", "reliable-bbr", "reliable-cubic"}))
        ->capture_default_str();
    app.add_option("--seed", opt.seed, "seed of the relay's random loss")->capture_default_str();
    app.add_option("--json", opt.json, "also write the figures to this JSON file");
    app.add_flag("--smoke", opt.smoke,
                 "a short check that the lab works and is torn down (20x40, 2 s, tcp-bbr and reliable-bbr, "
                 "no loss); exit 1 on any failure");
    app.add_flag("--trace", opt.trace,
                 "reliable senders print their controller's state, pacing rate, window and the delivered rate "
                 "every 250 ms and on each state change (stderr)");
    CLI11_PARSE(app, argc, argv);
    ::signal(SIGPIPE, SIG_IGN);
    if (opt.smoke) {
        opt.paths = {"20x40"};
        opt.losses = {0.0};
        opt.stacks = {"tcp-bbr", "reliable-bbr"};
        opt.seconds = 2;
        opt.warmup = 1;
    }
    std::vector<path> paths;
    for (const auto& t : opt.paths) {
        path p;
        if (!parse_path(t, p)) {
            std::fprintf(stderr, "bad path %s (want e.g. 100x40)\n", t.c_str());
            return 2;
        }
        paths.push_back(p);
    }
    if (const std::string why = lab::netns_lab::unavailable_reason(); !why.empty()) {
        std::printf("SKIPPED: the bottleneck lab %s\n", why.c_str());
        return 0;
    }
    lab::netns_lab netns;
    if (const std::string e = netns.create(); !e.empty()) {
        std::printf("cannot build the lab: %s\n", e.c_str());
        return 1;
    }
    std::printf("lab: %s | %s (delay relay) | %s, tbf drop-tail queue of one BDP on the router's egress\n",
                netns.name(lab::node::client).c_str(), netns.name(lab::node::router).c_str(),
                netns.name(lab::node::server).c_str());
    std::printf("window %.1f s per transfer after the warm-up; RTT under load from 64-byte UDP probes every 20 ms "
                "through the same queue\n",
                opt.seconds);
    std::vector<measurement> all;
    bool all_ok = true;
    std::uint64_t seed = opt.seed;
    for (const path& p : paths) {
        if (const std::string e = netns.set_bottleneck(p.rate_bit_s(), p.bdp_bytes()); !e.empty()) {
            std::printf("cannot set the bottleneck: %s\n", e.c_str());
            return 1;
        }
        for (const double loss : opt.losses) {
            std::printf("\n%s, queue %llu bytes, loss %.1f%%, relay seed %llu\n", p.name().c_str(),
                        static_cast<unsigned long long>(p.bdp_bytes()), 100 * loss, static_cast<unsigned long long>(seed));
            for (const auto& name : opt.stacks) {
                const auto st = static_cast<stack>(std::find(stack_names.begin(), stack_names.end(), name) - stack_names.begin());
                measurement m = measure(netns, opt, p, loss, st, seed);
                all_ok = all_ok && m.ok;
                print(m);
                all.push_back(std::move(m));
            }
            ++seed;
        }
    }
    netns.destroy();
    const bool torn_down = !lab::netns_lab::exists(netns.name(lab::node::client)) &&
                           !lab::netns_lab::exists(netns.name(lab::node::router)) &&
                           !lab::netns_lab::exists(netns.name(lab::node::server));

    // Ratios: each reliable run against the kernel TCP run with the same algorithm, path and loss.
    std::printf("\nratios (same run):\n");
    std::ostringstream json;
    json << "{\n  \"seconds\": " << opt.seconds << ",\n  \"runs\": [";
    bool first = true;
    for (const measurement& m : all) {
        json << (first ? "\n" : ",\n") << "    {\"path\": \"" << m.p.name() << "\", \"loss\": " << m.loss
             << ", \"stack\": \"" << name_of(m.st) << "\", \"ok\": " << (m.ok ? "true" : "false")
             << ", \"goodput_mbit\": " << m.goodput_mbit() << ", \"load\": " << m.load()
             << ", \"rtt_ms\": " << m.probe.loaded_mean_ms << ", \"idle_rtt_ms\": " << m.probe.idle_ms
             << ", \"retransmitted\": " << m.retransmit_share() << ", \"tbf_drops\": " << m.queue_drops << "}";
        first = false;
        if (is_tcp(m.st) || !m.ok) continue;
        for (const measurement& k : all) {
            if (k.ok && k.st == kernel_peer(m.st) && k.p.mbit == m.p.mbit && k.p.rtt_ms == m.p.rtt_ms && k.loss == m.loss) {
                const double ratio = k.goodput_mbit() > 0 ? m.goodput_mbit() / k.goodput_mbit() : 0;
                std::printf("  %-22s loss %4.1f%%  %-14s / %-9s goodput %.3f  load %.3f  RTT %.2fx idle vs %.2fx  "
                            "(goal: >= 0.95 and RTT <= 1.25x at 0%% loss; > 1 at 1%%)\n",
                            m.p.name().c_str(), 100 * m.loss, name_of(m.st), name_of(k.st), ratio,
                            k.load() > 0 ? m.load() / k.load() : 0, m.rtt_ratio(), k.rtt_ratio());
            }
        }
    }
    json << "\n  ]\n}\n";
    if (!opt.json.empty()) {
        if (FILE* f = std::fopen(opt.json.c_str(), "w")) {
            std::fputs(json.str().c_str(), f);
            std::fclose(f);
        }
    }
    std::printf("lab torn down: %s\n", torn_down ? "yes" : "NO");
    if (opt.smoke) {
        for (const measurement& m : all) {
            if (m.ok && m.goodput_mbit() < 1.0) {
                std::printf("smoke: %s moved almost nothing through the lab\n", name_of(m.st));
                all_ok = false;
            }
        }
    }
    return all_ok && torn_down ? 0 : 1;
}

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
