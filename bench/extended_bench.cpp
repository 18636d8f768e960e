// neutrino-extended on loopback UDP, against neutrino-reliable measured in the same run, in
// the way reliable_bench.cpp measures reliable against core (forked processes, receiver pinned
// to CPU 0, sender to CPU 1, `io::basic_endpoint` over the same socket strategy for both):
//
//  1. goodput: --messages extended messages of --size bytes (default 512 × 1 MiB sent with
//     `send`, delivered whole) against the same number of bytes as 1200-byte reliable messages.
//     Counted at the receiver, from the delivery that completes the first 10% of the bytes to the
//     last one; --reps rounds alternating the two stacks; medians, and the median of each
//     round's ratio. Goal: extended ≥ 0.90 × reliable. Each side's CPU time (getrusage) is also
//     reported as MB per CPU-second, which moves much less than MB/s when other work shares the
//     two cores.
//  2. memory: ONE message of --big bytes (default 256 MiB) delivered whole, the receiver and the
//     sender each in a process of its own (fork + exec of this binary with --role, so the
//     address space is clean): peak RSS increase of the receiver over its RSS once the session
//     is up, divided by the message size (goal ≤ 1.2), next to the layer's own
//     stats().max_reassembly_bytes. The sender writes the message with begin_message + write
//     from a small pattern buffer, so it never holds it; its peak is reported too.
//  3. the same message received streamed (config::stream_above): the receiver's peak increase
//     should be near zero.
//
// Measurements on a shared 2-core machine are noisy (±10–30%): read the medians and ratios.
// `extended::client` is not movable (its session keeps pointers to the client's own members),
// so it is driven through `boxed<>`, a movable forwarding wrapper around a heap-held client.

#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
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
#include <fstream>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "neutrino/core/client.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/extended/client.hpp"
#include "neutrino/extended/server.hpp"
#include "neutrino/extended/stream_decoder.hpp"
#include "neutrino/io/asio.hpp"
#include "neutrino/io/basic_endpoint.hpp"
#include "neutrino/reliable/client.hpp"
#include "neutrino/reliable/server.hpp"
#include "child_process.hpp"

namespace {

using namespace neutrino::bench;  // child_process.hpp: spawn, reap, read_all, median …
namespace nc = neutrino::core;
namespace nr = neutrino::reliable;
namespace ne = neutrino::extended;
namespace nio = neutrino::io;
namespace net = neutrino::net;
using neutrino::clock;
using neutrino::time_point;
using fseconds = std::chrono::duration<double>;

constexpr std::size_t reliable_payload_size = 1200;  ///< the reliable reference's message
constexpr std::size_t pattern_period = 4093;         ///< prime: never aligned with fragments
constexpr std::size_t pattern_piece = 256 * 1024;    ///< largest piece compared or written at once
constexpr std::size_t framing_margin = 64;  ///< max_message_size above --big (u16 + u32 = 6)
constexpr std::size_t stream_threshold = 64 * 1024;  ///< config::stream_above of the streamed test
constexpr double mib = 1024.0 * 1024.0;

struct options {
    bool quick = false;
    std::size_t messages = 512;  ///< extended messages per goodput run
    std::size_t size = std::size_t{1} << 20;
    int reps = 5;
    std::size_t big = std::size_t{256} << 20;  ///< the memory test's one message
    bool no_offload = false;
    std::string api = "send";  ///< extended goodput sender: send (whole) or write (streamed)
    bool skip_goodput = false;
    bool skip_memory = false;
    bool skip_stream = false;
    bool refill = false;    ///< experiment: see boxed::set_refill
    bool no_check = false;  ///< goodput receivers: sequence only, no content compare
    // internal: the processes of the memory test
    std::string role;
    std::uint16_t port = 0;
    int report_fd = -1;
    bool stream_receive = false;
};

enum class stack_kind : std::uint8_t { reliable, extended };
const char* name_of(stack_kind s) { return s == stack_kind::reliable ? "reliable" : "extended"; }

// ---- process memory and CPU time ------------------------------------------------------------

/// VmRSS / VmHWM of this process, bytes (0 when /proc is not readable).
struct rss_sample {
    std::uint64_t rss = 0;
    std::uint64_t hwm = 0;
};
rss_sample read_rss() {
    rss_sample s;
    std::ifstream in("/proc/self/status");
    std::string key;
    while (in >> key) {
        std::uint64_t kb = 0;
        if (key == "VmRSS:" && in >> kb) s.rss = kb * 1024;
        if (key == "VmHWM:" && in >> kb) s.hwm = kb * 1024;
        in.ignore(1 << 10, '\n');
    }
    return s;
}
std::uint64_t minflt_self() {
    ::rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return static_cast<std::uint64_t>(ru.ru_minflt);
}
/// User + system CPU time of this process, seconds.
double cpu_self() {
    ::rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    const auto sec = [](const ::timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return sec(ru.ru_utime) + sec(ru.ru_stime);
}
std::uint64_t maxrss_self() {
    ::rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return static_cast<std::uint64_t>(ru.ru_maxrss) * 1024;  // Linux: kilobytes
}

const net::ip::udp::endpoint loopback_any{net::ip::address_v4::loopback(), 0};

nio::endpoint_options endpoint_options(const options& opt) {
    nio::endpoint_options o;
    o.socket.gso = !opt.no_offload;
    o.socket.gro = !opt.no_offload;
    return o;
}

nc::keypair example_keys() {
    auto keys = nc::keypair_from_hex(nc::example_public_key_hex, nc::example_secret_key_hex);
    if (!keys) throw std::runtime_error("bad example key");
    return *keys;
}

nc::client_config client_config(std::uint16_t port) {
    nc::client_config cfg;
    cfg.server_key = example_keys().pk;
    cfg.server = neutrino::peer_address::v4({127, 0, 0, 1}, port);
    cfg.reconnect = false;
    return cfg;
}

nc::server_config server_config() {
    nc::server_config cfg;
    cfg.keys = example_keys();
    return cfg;
}

const std::error_code& would_block() {
    static const std::error_code ec = nc::make_error_code(nc::errc::would_block);
    return ec;
}

/// A movable `datagram_layer` holding `Layer` on the heap: `extended::client` cannot be moved
/// into `io::basic_endpoint` itself (see the file comment).
template <class Layer>
class boxed {
public:
    using event_type = typename Layer::event_type;

    template <class... Args>
    explicit boxed(Args&&... args) : layer_(std::make_unique<Layer>(std::forward<Args>(args)...)) {}

    Layer* operator->() noexcept { return layer_.get(); }
    const Layer* operator->() const noexcept { return layer_.get(); }
    /// Experiment (--refill): when the layers below have no datagram left, let the extended
    /// layer hand down more queued fragments and poll again. Emulates the proposed library
    /// change (poll_datagram refilling from the extended send queue) through the only public
    /// entry that flushes without new data, `handle_deadline` (its timers check `now`).
    void set_refill(bool on) noexcept { refill_ = on; }
    [[nodiscard]] std::uint64_t refills() const noexcept { return refills_; }

    neutrino::result<void> handle_datagram(std::span<const std::byte> in,
                                           const neutrino::peer_address& from, time_point now) {
        return layer_->handle_datagram(in, from, now);
    }
    std::optional<neutrino::transmit> poll_datagram(std::span<std::byte> out, time_point now) {
        auto t = layer_->poll_datagram(out, now);
        if (!t && refill_) {
            layer_->handle_deadline(now);
            t = layer_->poll_datagram(out, now);
            if (t) ++refills_;
        }
        return t;
    }
    std::optional<event_type> poll_event() { return layer_->poll_event(); }
    [[nodiscard]] std::optional<time_point> deadline() const noexcept { return layer_->deadline(); }
    void handle_deadline(time_point now) { layer_->handle_deadline(now); }

private:
    std::unique_ptr<Layer> layer_;
    bool refill_ = false;
    std::uint64_t refills_ = 0;
};
static_assert(neutrino::datagram_layer<boxed<ne::client>>);

/// Content of the memory test's message: byte `o` is `bytes()[o % pattern_period]`; `at(o, n)`
/// views `n ≤ pattern_piece` bytes from offset `o`, so both sides work at memcpy/memcmp speed.
class pattern {
public:
    pattern() : bytes_(pattern_period + pattern_piece) {
        std::uint64_t x = 0x9e3779b97f4a7c15ULL;
        for (std::size_t i = 0; i < pattern_period; ++i) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            bytes_[i] = static_cast<std::byte>(x >> 56);
        }
        for (std::size_t i = pattern_period; i < bytes_.size(); ++i)
            bytes_[i] = bytes_[i - pattern_period];
    }
    [[nodiscard]] std::span<const std::byte> at(std::uint64_t offset,
                                                std::size_t n) const noexcept {
        return std::span<const std::byte>(bytes_).subspan(
            static_cast<std::size_t>(offset % pattern_period), n);
    }
    [[nodiscard]] bool matches(std::span<const std::byte> got,
                               std::uint64_t offset) const noexcept {
        while (!got.empty()) {
            const std::size_t n = std::min(got.size(), pattern_piece);
            if (std::memcmp(got.data(), at(offset, n).data(), n) != 0) return false;
            got = got.subspan(n);
            offset += n;
        }
        return true;
    }

private:
    std::vector<std::byte> bytes_;
};

// ---- 1. goodput ---------------------------------------------------------------------------------

struct goodput_rx_report {
    int ok = 0;
    std::array<char, 120> error{};
    std::uint64_t messages = 0;
    std::uint64_t bytes = 0;
    std::uint64_t window_bytes = 0;
    double window_seconds = 0;
    double total_seconds = 0;  ///< first delivery to last
    std::uint64_t out_of_order = 0;
    std::uint64_t corrupt = 0;
    std::uint64_t failed = 0;  ///< extended: message_failed events
    std::uint64_t datagrams_in = 0;
    std::uint64_t rejected = 0;
    std::uint64_t events_dropped = 0;
    std::uint64_t rel_buffered = 0;
    std::uint64_t rel_requests_sent = 0;
    std::uint64_t rel_keep_alives_sent = 0;
    std::uint64_t ext_fragments_received = 0;
    std::uint64_t ext_max_reassembly_bytes = 0;
    std::uint64_t hwm = 0;
    std::uint64_t minflt = 0;  ///< minor page faults during the run
    double cpu_seconds = 0;    ///< user + system CPU time during the run
    int gro = 0;
    int pinned = 0;
};

struct goodput_tx_report {
    int ok = 0;
    std::array<char, 120> error{};
    std::uint64_t sent = 0;
    std::uint64_t datagrams_out = 0;
    std::uint64_t send_calls = 0;
    std::uint64_t would_block =
        0;                    ///< reliable: core queue full; extended: send/write took nothing
    std::uint64_t waits = 0;  ///< turns that slept in the reactor (window full, queue full)
    std::uint64_t send_errors = 0;
    std::uint64_t sessions_lost = 0;
    std::uint64_t retransmitted = 0;
    std::uint64_t requests_received = 0;
    std::uint64_t keep_alives_sent = 0;
    std::uint64_t probes = 0;
    std::uint64_t max_send_buffered = 0;
    std::uint64_t ext_fragments_sent = 0;
    std::uint64_t ext_max_queued_bytes = 0;
    double rtt_ms = 0;
    std::uint64_t minflt = 0;
    std::uint64_t refills = 0;  ///< --refill: datagrams the emulated refill produced
    double cpu_seconds = 0;     ///< user + system CPU time after the session was up
    int gso = 0;
    int pinned = 0;
};

/// Shared between the forked processes (anonymous mapping made before the fork).
struct shared_progress {
    std::atomic<int> stop{0};  ///< the receiver has everything
};

/// Bytes delivered, and the steady window: from the delivery that completes `warm` bytes to the
/// one that completes `total`.
class byte_meter {
public:
    byte_meter(std::uint64_t total, std::uint64_t warm) : total_(total), warm_(warm) {}
    void add(time_point now, std::uint64_t bytes) noexcept {
        if (got_ == 0) first_ = now;
        got_ += bytes;
        if (!marked_ && got_ >= warm_) {
            marked_ = true;
            mark_ = now;
            mark_bytes_ = got_;
        }
        if (!done_ && got_ >= total_) {
            done_ = true;
            end_ = now;
        }
    }
    [[nodiscard]] bool done() const noexcept { return done_; }
    [[nodiscard]] bool started() const noexcept { return got_ > 0; }
    [[nodiscard]] std::uint64_t bytes() const noexcept { return got_; }
    [[nodiscard]] std::uint64_t window_bytes() const noexcept {
        return done_ ? got_ - mark_bytes_ : 0;
    }
    [[nodiscard]] double window_seconds() const noexcept {
        return done_ ? fseconds(end_ - mark_).count() : 0;
    }
    [[nodiscard]] double total_seconds() const noexcept {
        return done_ ? fseconds(end_ - first_).count() : 0;
    }

private:
    std::uint64_t total_;
    std::uint64_t warm_;
    std::uint64_t got_ = 0;
    std::uint64_t mark_bytes_ = 0;
    bool marked_ = false;
    bool done_ = false;
    time_point first_{};
    time_point mark_{};
    time_point end_{};
};

/// Goodput message content (both stacks): 8-byte sequence (1, 2, ...) + 0x5a filler.
class content_check {
public:
    content_check(std::size_t size, bool compare)
        : size_(size), compare_(compare), filler_(size, std::byte{0x5a}) {}
    void check(std::span<const std::byte> w, goodput_rx_report& rep) noexcept {
        if (w.size() != size_ || size_ < 8) {
            ++rep.corrupt;
            return;
        }
        std::uint64_t seq = 0;
        std::memcpy(&seq, w.data(), sizeof seq);
        if (seq != last_ + 1) ++rep.out_of_order;
        last_ = seq;
        if (compare_ && std::memcmp(w.data() + 8, filler_.data() + 8, size_ - 8) != 0)
            ++rep.corrupt;
    }

private:
    std::size_t size_;
    bool compare_;
    std::vector<std::byte> filler_;
    std::uint64_t last_ = 0;
};

struct goodput_plan {
    std::size_t message_size = 0;
    std::uint64_t count = 0;
    std::uint64_t total_bytes = 0;
    std::uint64_t warm_bytes = 0;
    double timeout_s = 0;
};

goodput_plan plan_for(const options& opt, stack_kind s) {
    goodput_plan p;
    const std::uint64_t total = static_cast<std::uint64_t>(opt.messages) * opt.size;
    p.message_size = s == stack_kind::reliable ? reliable_payload_size : opt.size;
    p.count = (total + p.message_size - 1) / p.message_size;
    p.total_bytes = p.count * p.message_size;
    p.warm_bytes = std::max<std::uint64_t>(p.total_bytes / 10, p.message_size);
    p.timeout_s = 15.0 + static_cast<double>(p.total_bytes) / 10e6;  // ≥ 10 MB/s or fail
    return p;
}

template <class Server>
void run_goodput_receiver(const options& opt, const goodput_plan& plan, int fd,
                          shared_progress& progress, goodput_rx_report& rep, Server layer) {
    constexpr bool extended = std::is_same_v<Server, ne::server>;
    net::io_context ctx;
    nio::basic_endpoint<Server> ep(ctx, loopback_any, std::move(layer), endpoint_options(opt));
    const std::uint16_t port = ep.local_endpoint().port();
    if (!write_all(fd, &port, sizeof port)) return copy_error(rep, "cannot report the port");
    rep.gro = ep.socket().gro_enabled() ? 1 : 0;

    byte_meter meter(plan.total_bytes, plan.warm_bytes);
    content_check check(plan.message_size, !opt.no_check);
    const std::uint64_t faults_before = minflt_self();
    const double cpu_before = cpu_self();
    ep.set_event_handler([&](const typename Server::event_type& e) {
        std::span<const std::byte> w;
        if constexpr (extended) {
            if (e.kind == ne::event_kind::message_failed) ++rep.failed;
            if (e.kind != ne::event_kind::message) return;
            if (e.words.size() != 1) {
                ++rep.corrupt;
                return;
            }
            w = *e.words.begin();
        } else {
            if (e.kind != nc::event_kind::data || e.words.size() != 1) return;
            w = e.words[0];
        }
        check.check(w, rep);
        ++rep.messages;
        meter.add(clock::now(), w.size());
    });
    const time_point give_up =
        clock::now() + std::chrono::duration_cast<clock::duration>(fseconds(plan.timeout_s));
    while (!meter.done()) {
        ctx.run_one_for(std::chrono::milliseconds(20));
        if (clock::now() > give_up)
            return copy_error(rep, meter.started() ? "timed out" : "no data arrived");
        if (!ep.is_open() || ep.last_error()) return copy_error(rep, "endpoint failed");
        if (rep.failed != 0) return copy_error(rep, "message_failed");
    }
    progress.stop.store(1, std::memory_order_relaxed);
    rep.bytes = meter.bytes();
    rep.window_bytes = meter.window_bytes();
    rep.window_seconds = meter.window_seconds();
    rep.total_seconds = meter.total_seconds();
    rep.datagrams_in = ep.socket().counters().datagrams_in;
    rep.rejected = ep.counters().datagrams_rejected;
    rep.hwm = read_rss().hwm;
    rep.minflt = minflt_self() - faults_before;
    rep.cpu_seconds = cpu_self() - cpu_before;
    if constexpr (extended) {
        const auto& rel = ep.layer().next_layer().stats();
        rep.rel_buffered = rel.buffered;
        rep.rel_requests_sent = rel.requests_sent;
        rep.rel_keep_alives_sent = rel.keep_alives_sent;
        rep.events_dropped = ep.layer().next_layer().next_layer().stats().events_dropped;
        rep.ext_fragments_received = ep.layer().stats().fragments_received;
        rep.ext_max_reassembly_bytes = ep.layer().stats().max_reassembly_bytes;
    } else {
        const auto& rel = ep.layer().stats();
        rep.rel_buffered = rel.buffered;
        rep.rel_requests_sent = rel.requests_sent;
        rep.rel_keep_alives_sent = rel.keep_alives_sent;
        rep.events_dropped = ep.layer().next_layer().stats().events_dropped;
    }
    rep.ok = 1;
}

/// Dials and waits for the session; false (with the report's error set) on failure.
template <class Endpoint, class Layer, class Report>
bool dial(net::io_context& ctx, Endpoint& ep, Layer& layer, const bool& established, Report& rep) {
    const time_point start = clock::now();
    if (!layer.connect(start)) {
        copy_error(rep, "connect failed");
        return false;
    }
    ep.flush();
    while (!established && clock::now() < start + std::chrono::seconds(10)) {
        ctx.run_one_for(std::chrono::milliseconds(20));
    }
    if (!established) copy_error(rep, "no session within 10 s");
    return established;
}

void run_reliable_sender(const options& opt, const goodput_plan& plan,
                         const shared_progress& progress, goodput_tx_report& rep,
                         std::uint16_t port) {
    net::io_context ctx;
    nio::basic_endpoint<nr::client> ep(ctx, loopback_any, nr::client(client_config(port)),
                                       endpoint_options(opt));
    rep.gso = ep.socket().gso_enabled() ? 1 : 0;
    bool established = false;
    ep.set_event_handler([&](const nc::event& e) {
        if (e.kind == nc::event_kind::established) established = true;
        if (e.kind == nc::event_kind::closed) {
            established = false;
            ++rep.sessions_lost;
        }
    });
    if (!dial(ctx, ep, ep.layer(), established, rep)) return;

    std::vector<std::byte> payload(plan.message_size, std::byte{0x5a});
    const nc::word w(payload);
    std::uint64_t seq = 0;
    const std::uint64_t faults_before = minflt_self();
    const double cpu_before = cpu_self();
    const time_point hard_stop =
        clock::now() + std::chrono::duration_cast<clock::duration>(fseconds(plan.timeout_s));
    while (seq < plan.count && progress.stop.load(std::memory_order_relaxed) == 0) {
        const time_point now = clock::now();
        if (now > hard_stop) return copy_error(rep, "the receiver never finished");
        if (!established) return copy_error(rep, "session lost");
        bool flushed = false;
        bool window_full = false;
        while (seq < plan.count) {
            if (!ep.layer().can_send()) {
                window_full = true;
                break;
            }
            ++seq;
            std::memcpy(payload.data(), &seq, sizeof seq);
            auto r = ep.layer().send({&w, 1}, now);
            if (!r) {
                --seq;
                if (r.error() != would_block()) {
                    ++rep.send_errors;
                    break;
                }
                ++rep.would_block;
                if (flushed) break;
                ep.flush();  // hand the core's queue to the socket, then go on
                flushed = true;
                continue;
            }
            flushed = false;
        }
        ep.flush();
        if (window_full) {
            ++rep.waits;
            ctx.run_one_for(std::chrono::milliseconds(1));
        }
        ctx.poll();
        if (ep.last_error()) return copy_error(rep, "fatal send error");
    }
    // keep answering requests and acknowledgements until the receiver has everything
    while (progress.stop.load(std::memory_order_relaxed) == 0 && clock::now() < hard_stop &&
           established) {
        ctx.run_one_for(std::chrono::milliseconds(5));
    }
    rep.sent = seq;
    rep.datagrams_out = ep.socket().counters().datagrams_out;
    rep.send_calls = ep.socket().counters().send_calls;
    const auto& st = ep.layer().stats();
    rep.retransmitted = st.retransmitted;
    rep.requests_received = st.requests_received;
    rep.keep_alives_sent = st.keep_alives_sent;
    rep.probes = st.probes;
    rep.max_send_buffered = st.max_send_buffered;
    rep.rtt_ms = std::chrono::duration<double, std::milli>(ep.layer().rtt()).count();
    rep.minflt = minflt_self() - faults_before;
    rep.cpu_seconds = cpu_self() - cpu_before;
    rep.ok = 1;
}

void run_extended_sender(const options& opt, const goodput_plan& plan,
                         const shared_progress& progress, goodput_tx_report& rep,
                         std::uint16_t port) {
    net::io_context ctx;
    using layer_t = boxed<ne::client>;
    nio::basic_endpoint<layer_t> ep(ctx, loopback_any, layer_t(client_config(port), ne::config{}),
                                    endpoint_options(opt));
    ne::client& layer = *ep.layer().operator->();
    rep.gso = ep.socket().gso_enabled() ? 1 : 0;
    bool established = false;
    ep.set_event_handler([&](const ne::event& e) {
        if (e.kind == ne::event_kind::established) established = true;
        if (e.kind == ne::event_kind::closed) {
            established = false;
            ++rep.sessions_lost;
        }
    });
    if (!dial(ctx, ep, layer, established, rep)) return;

    const bool streamed = opt.api == "write";
    std::vector<std::byte> payload(plan.message_size, std::byte{0x5a});
    const nc::word w(payload);
    const std::array<std::uint64_t, 1> sizes{plan.message_size};
    std::uint64_t seq = 0;
    std::size_t offset = 0;  // streamed: bytes of the open message written
    ep.layer().set_refill(opt.refill);
    const std::uint64_t faults_before = minflt_self();
    const double cpu_before = cpu_self();
    const time_point hard_stop =
        clock::now() + std::chrono::duration_cast<clock::duration>(fseconds(plan.timeout_s));
    while ((seq < plan.count || layer.writing()) &&
           progress.stop.load(std::memory_order_relaxed) == 0) {
        const time_point now = clock::now();
        if (now > hard_stop) return copy_error(rep, "the receiver never finished");
        if (!established) return copy_error(rep, "session lost");
        bool progressed = false;
        if (!streamed) {
            std::memcpy(payload.data(), &++seq, sizeof seq);
            auto r = layer.send({&w, 1}, now);
            if (r) {
                progressed = true;
            } else {
                --seq;
                if (r.error() != would_block()) {
                    ++rep.send_errors;
                    return copy_error(rep, "send failed");
                }
            }
        } else {
            if (!layer.writing()) {
                std::memcpy(payload.data(), &++seq, sizeof seq);
                if (!layer.begin_message(sizes, now))
                    return copy_error(rep, "begin_message failed");
                offset = 0;
            }
            auto n = layer.write(std::span<const std::byte>(payload).subspan(offset), now);
            if (!n) return copy_error(rep, "write failed");
            offset += *n;
            progressed = *n > 0 || !layer.writing();
        }
        ep.flush();
        if (!progressed) {
            // Nothing taken: the reliable window (or the extended queue) is full. Wait in the
            // reactor for an acknowledgement or the timer.
            ++rep.would_block;
            ++rep.waits;
            ctx.run_one_for(std::chrono::milliseconds(1));
        }
        ctx.poll();
        if (ep.last_error()) return copy_error(rep, "fatal send error");
    }
    while (progress.stop.load(std::memory_order_relaxed) == 0 && clock::now() < hard_stop &&
           established) {
        ctx.run_one_for(std::chrono::milliseconds(5));
    }
    rep.sent = seq;
    rep.datagrams_out = ep.socket().counters().datagrams_out;
    rep.send_calls = ep.socket().counters().send_calls;
    const auto& st = layer.next_layer().stats();
    rep.retransmitted = st.retransmitted;
    rep.requests_received = st.requests_received;
    rep.keep_alives_sent = st.keep_alives_sent;
    rep.probes = st.probes;
    rep.max_send_buffered = st.max_send_buffered;
    rep.rtt_ms = std::chrono::duration<double, std::milli>(layer.next_layer().rtt()).count();
    rep.ext_fragments_sent = layer.stats().fragments_sent;
    rep.ext_max_queued_bytes = layer.stats().max_queued_bytes;
    rep.refills = ep.layer().refills();
    rep.minflt = minflt_self() - faults_before;
    rep.cpu_seconds = cpu_self() - cpu_before;
    rep.ok = 1;
}

// ---- process control ----------------------------------------------------------------------------

/// Waits for `pid` until `deadline` (then kills it); its peak RSS in bytes (wait4), 0 if unknown.
std::uint64_t reap(pid_t pid, time_point deadline) {
    if (pid <= 0) return 0;
    for (;;) {
        int status = 0;
        ::rusage ru{};
        const pid_t r = ::wait4(pid, &status, WNOHANG, &ru);
        if (r == pid) return static_cast<std::uint64_t>(ru.ru_maxrss) * 1024;
        if (r < 0 && errno != EINTR) return 0;
        if (clock::now() >= deadline) {
            ::kill(pid, SIGKILL);
            (void)::wait4(pid, &status, 0, &ru);
            return 0;
        }
        ::usleep(10000);
    }
}

struct goodput_measurement {
    stack_kind stack = stack_kind::reliable;
    bool ok = false;
    std::string error;
    goodput_plan plan;
    goodput_rx_report rx;
    goodput_tx_report tx;
    [[nodiscard]] double mbps() const {
        return rx.window_seconds > 0
                   ? static_cast<double>(rx.window_bytes) / rx.window_seconds / 1e6
                   : 0;
    }
    /// MB delivered per CPU second of the receiver / the sender: what each side would reach on
    /// a core of its own; less sensitive than mbps() to other load on this shared machine.
    [[nodiscard]] double rx_mb_per_cpu_s() const {
        return rx.cpu_seconds > 0 ? static_cast<double>(rx.bytes) / rx.cpu_seconds / 1e6 : 0;
    }
    [[nodiscard]] double tx_mb_per_cpu_s() const {
        return tx.cpu_seconds > 0 ? static_cast<double>(rx.bytes) / tx.cpu_seconds / 1e6 : 0;
    }
};

goodput_measurement measure_goodput(const options& opt, stack_kind stack) {
    goodput_measurement m;
    m.stack = stack;
    m.plan = plan_for(opt, stack);
    std::fflush(stdout);
    std::fflush(stderr);
    void* mapping = ::mmap(nullptr, sizeof(shared_progress), PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) {
        m.error = "mmap failed";
        return m;
    }
    auto* progress = new (mapping) shared_progress;
    std::array<int, 2> rx_pipe{};
    std::array<int, 2> tx_pipe{};
    if (::pipe(rx_pipe.data()) != 0) {
        m.error = "pipe failed";
        return m;
    }
    const pid_t rx_pid = spawn<goodput_rx_report>(0, rx_pipe, [&](goodput_rx_report& rep) {
        if (stack == stack_kind::reliable) {
            run_goodput_receiver(opt, m.plan, rx_pipe[1], *progress, rep,
                                 nr::server(server_config()));
        } else {
            run_goodput_receiver(opt, m.plan, rx_pipe[1], *progress, rep,
                                 ne::server(server_config(), ne::config{}));
        }
    });
    ::close(rx_pipe[1]);
    const time_point start = clock::now();
    const time_point deadline =
        start + std::chrono::duration_cast<clock::duration>(fseconds(m.plan.timeout_s + 15));
    std::uint16_t port = 0;
    pid_t tx_pid = -1;
    if (rx_pid < 0) {
        m.error = "fork failed";
    } else if (!read_all(rx_pipe[0], &port, sizeof port, start + std::chrono::seconds(10))) {
        m.error = "receiver did not start";
    } else if (::pipe(tx_pipe.data()) != 0) {
        m.error = "pipe failed";
    } else {
        tx_pid = spawn<goodput_tx_report>(1, tx_pipe, [&](goodput_tx_report& rep) {
            ::close(rx_pipe[0]);
            if (stack == stack_kind::reliable) {
                run_reliable_sender(opt, m.plan, *progress, rep, port);
            } else {
                run_extended_sender(opt, m.plan, *progress, rep, port);
            }
        });
        ::close(tx_pipe[1]);
        const bool got_rx = read_all(rx_pipe[0], &m.rx, sizeof m.rx, deadline);
        if (!got_rx) progress->stop.store(1);  // let the sender go
        const bool got_tx = tx_pid > 0 && read_all(tx_pipe[0], &m.tx, sizeof m.tx, deadline);
        ::close(tx_pipe[0]);
        if (!got_rx || !got_tx) {
            m.error = "a child timed out or died";
        } else if (!m.rx.ok) {
            m.error = std::string("receiver: ") + m.rx.error.data();
        } else if (!m.tx.ok) {
            m.error = std::string("sender: ") + m.tx.error.data();
        } else if (m.rx.out_of_order != 0 || m.rx.corrupt != 0) {
            m.error = "delivery out of order or corrupt";
        } else {
            m.ok = true;
        }
    }
    ::close(rx_pipe[0]);
    const time_point reap_by = std::min(deadline, clock::now() + std::chrono::seconds(3));
    reap(tx_pid, reap_by);
    reap(rx_pid, reap_by);
    progress->~shared_progress();
    ::munmap(mapping, sizeof(shared_progress));
    return m;
}

void print_goodput(const goodput_measurement& m) {
    if (!m.ok) {
        std::printf("  %-8s FAILED: %s\n", name_of(m.stack), m.error.c_str());
        std::fflush(stdout);
        return;
    }
    std::printf(
        "  %-8s %8.1f MB/s  %llu × %zu B in %.2f s (window %.1f MiB in %.2f s); per CPU-second: rx "
        "%.0f MB, "
        "tx %.0f MB [gso %d gro %d pinned %d/%d; "
        "datagrams out %llu in %llu; sender waits %llu would-block %llu retransmitted %llu "
        "requests %llu/%llu keep-alives %llu/%llu probes %llu rtt %.2f ms max-send-buffered %llu",
        name_of(m.stack), m.mbps(), static_cast<unsigned long long>(m.rx.messages),
        m.plan.message_size, m.rx.total_seconds, static_cast<double>(m.rx.window_bytes) / mib,
        m.rx.window_seconds, m.rx_mb_per_cpu_s(), m.tx_mb_per_cpu_s(), m.tx.gso, m.rx.gro,
        m.tx.pinned, m.rx.pinned, static_cast<unsigned long long>(m.tx.datagrams_out),
        static_cast<unsigned long long>(m.rx.datagrams_in),
        static_cast<unsigned long long>(m.tx.waits),
        static_cast<unsigned long long>(m.tx.would_block),
        static_cast<unsigned long long>(m.tx.retransmitted),
        static_cast<unsigned long long>(m.rx.rel_requests_sent),
        static_cast<unsigned long long>(m.tx.requests_received),
        static_cast<unsigned long long>(m.tx.keep_alives_sent),
        static_cast<unsigned long long>(m.rx.rel_keep_alives_sent),
        static_cast<unsigned long long>(m.tx.probes), m.tx.rtt_ms,
        static_cast<unsigned long long>(m.tx.max_send_buffered));
    if (m.stack == stack_kind::extended) {
        std::printf(
            "; fragments %llu sent %llu received; max_queued_bytes %.1f MiB; max_reassembly_bytes "
            "%.2f MiB; "
            "receiver VmHWM %.1f MiB",
            static_cast<unsigned long long>(m.tx.ext_fragments_sent),
            static_cast<unsigned long long>(m.rx.ext_fragments_received),
            static_cast<double>(m.tx.ext_max_queued_bytes) / mib,
            static_cast<double>(m.rx.ext_max_reassembly_bytes) / mib,
            static_cast<double>(m.rx.hwm) / mib);
    }
    if (m.tx.refills != 0)
        std::printf("; refills %llu", static_cast<unsigned long long>(m.tx.refills));
    std::printf("; page faults tx %llu rx %llu; rx rejected %llu events-dropped %llu]\n",
                static_cast<unsigned long long>(m.tx.minflt),
                static_cast<unsigned long long>(m.rx.minflt),
                static_cast<unsigned long long>(m.rx.rejected),
                static_cast<unsigned long long>(m.rx.events_dropped));
    std::fflush(stdout);
}

// ---- 2./3. memory: one big message, receiver and sender in processes of their own --------------

struct memory_rx_report {
    int ok = 0;
    std::array<char, 120> error{};
    std::uint64_t rss_base = 0;  ///< VmRSS once the session is up (before any message byte)
    std::uint64_t hwm_base = 0;
    std::uint64_t hwm_end = 0;  ///< VmHWM after the delivery
    std::uint64_t maxrss = 0;   ///< getrusage(RUSAGE_SELF).ru_maxrss after the delivery
    std::uint64_t max_reassembly_bytes = 0;
    std::uint64_t bytes = 0;  ///< word bytes delivered and verified
    std::uint64_t parts = 0;  ///< streamed: message_part events
    double seconds = 0;       ///< session up → delivery
    int verified = 0;
    int streamed = 0;
    int pinned = 0;
};

struct memory_tx_report {
    int ok = 0;
    std::array<char, 120> error{};
    std::uint64_t rss_base = 0;
    std::uint64_t hwm_end = 0;
    std::uint64_t maxrss = 0;
    std::uint64_t written = 0;
    std::uint64_t fragments_sent = 0;
    std::uint64_t max_send_buffered = 0;  ///< reliable datagrams stored (× ~1.3 KB)
    std::uint64_t retransmitted = 0;
    double seconds = 0;  ///< begin_message → last byte taken
    int acknowledged = 0;
    int pinned = 0;
};

ne::config big_message_config(const options& opt, bool streamed) {
    ne::config c;
    c.max_message_size = opt.big + framing_margin;
    c.max_reassembly_bytes = c.max_message_size + 2 * ne::server::fragment_size;
    if (streamed) c.stream_above = stream_threshold;
    return c;
}

void run_memory_receiver(const options& opt, memory_rx_report& rep) {
    rep.streamed = opt.stream_receive ? 1 : 0;
    const pattern pat;
    net::io_context ctx;
    nio::basic_endpoint<ne::server> ep(
        ctx, net::ip::udp::endpoint{net::ip::address_v4::loopback(), opt.port},
        ne::server(server_config(), big_message_config(opt, opt.stream_receive)),
        endpoint_options(opt));
    const std::uint16_t port = ep.local_endpoint().port();
    if (opt.report_fd >= 0) {
        if (!write_all(opt.report_fd, &port, sizeof port))
            return copy_error(rep, "cannot report the port");
    } else {
        std::printf("memory-receiver: listening on 127.0.0.1:%u (%s, %zu bytes)\n",
                    static_cast<unsigned>(port),
                    opt.stream_receive ? "streamed receive" : "whole message", opt.big);
        std::fflush(stdout);
    }
    bool up = false;
    bool done = false;
    bool closed = false;
    bool failed = false;
    time_point t_up{};
    ne::stream_decoder decoder;
    std::uint64_t word_offset = 0;
    bool bad = false;
    ep.set_event_handler([&](const ne::event& e) {
        switch (e.kind) {
            case ne::event_kind::established: {
                up = true;
                t_up = clock::now();
                const rss_sample s = read_rss();
                rep.rss_base = s.rss;
                rep.hwm_base = s.hwm;
                break;
            }
            case ne::event_kind::closed: closed = true; break;
            case ne::event_kind::message_failed:
                failed = true;
                copy_error(rep, e.reason.message().c_str());
                break;
            case ne::event_kind::message: {
                if (e.words.size() != 1) {
                    bad = true;
                } else {
                    const auto w = *e.words.begin();
                    rep.bytes = w.size();
                    bad = bad || w.size() != opt.big || !pat.matches(w, 0);
                }
                done = true;
                break;
            }
            case ne::event_kind::message_part: {
                ++rep.parts;
                const auto ec = decoder.feed(e.bytes, [&](const ne::stream_decoder::chunk& c) {
                    if (c.word != 0 || c.word_size != opt.big || !pat.matches(c.bytes, word_offset))
                        bad = true;
                    word_offset += c.bytes.size();
                });
                if (ec) bad = true;
                if (e.last) {
                    bad = bad || !decoder.complete();
                    rep.bytes = word_offset;
                    done = true;
                }
                break;
            }
            default: break;
        }
        if (done && rep.seconds == 0) rep.seconds = fseconds(clock::now() - t_up).count();
    });
    const time_point give_up =
        clock::now() + std::chrono::seconds(20) +
        std::chrono::duration_cast<clock::duration>(fseconds(static_cast<double>(opt.big) / 10e6));
    while (!done && !failed && !(up && closed)) {
        ctx.run_one_for(std::chrono::milliseconds(20));
        if (clock::now() > give_up) return copy_error(rep, up ? "timed out" : "no session");
        if (!ep.is_open() || ep.last_error()) return copy_error(rep, "endpoint failed");
    }
    if (failed) return;
    if (!done) return copy_error(rep, "the session closed before the message arrived");
    rep.hwm_end = read_rss().hwm;
    rep.maxrss = maxrss_self();
    rep.max_reassembly_bytes = ep.layer().stats().max_reassembly_bytes;
    rep.verified = bad ? 0 : 1;
    // let the sender see its last acknowledgements and close
    const time_point linger = clock::now() + std::chrono::seconds(3);
    while (!closed && clock::now() < linger) ctx.run_one_for(std::chrono::milliseconds(20));
    rep.ok = rep.verified;
    if (!rep.ok) copy_error(rep, "content differs");
}

void run_memory_sender(const options& opt, memory_tx_report& rep) {
    const pattern pat;
    net::io_context ctx;
    using layer_t = boxed<ne::client>;
    nio::basic_endpoint<layer_t> ep(
        ctx, loopback_any, layer_t(client_config(opt.port), big_message_config(opt, false)),
        endpoint_options(opt));
    ne::client& layer = *ep.layer().operator->();
    bool established = false;
    ep.set_event_handler([&](const ne::event& e) {
        if (e.kind == ne::event_kind::established) established = true;
        if (e.kind == ne::event_kind::closed) established = false;
    });
    if (!dial(ctx, ep, layer, established, rep)) return;
    rep.rss_base = read_rss().rss;

    const time_point start = clock::now();
    const time_point hard_stop =
        start + std::chrono::seconds(20) +
        std::chrono::duration_cast<clock::duration>(fseconds(static_cast<double>(opt.big) / 10e6));
    const std::array<std::uint64_t, 1> sizes{opt.big};
    if (auto r = layer.begin_message(sizes, start); !r)
        return copy_error(rep, r.error().message().c_str());
    std::uint64_t offset = 0;
    while (layer.writing()) {
        const time_point now = clock::now();
        if (now > hard_stop) return copy_error(rep, "timed out");
        if (!established) return copy_error(rep, "session lost");
        const std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(pattern_piece, opt.big - offset));
        auto took = layer.write(pat.at(offset, n), now);
        if (!took) return copy_error(rep, took.error().message().c_str());
        offset += *took;
        ep.flush();
        if (*took == 0 && layer.writing()) ctx.run_one_for(std::chrono::milliseconds(1));
        ctx.poll();
        if (ep.last_error()) return copy_error(rep, "fatal send error");
    }
    rep.seconds = fseconds(clock::now() - start).count();
    rep.written = offset;
    while (!layer.idle() && established && clock::now() < hard_stop)
        ctx.run_one_for(std::chrono::milliseconds(5));
    rep.acknowledged = layer.idle() ? 1 : 0;
    rep.hwm_end = read_rss().hwm;
    rep.maxrss = maxrss_self();
    rep.fragments_sent = layer.stats().fragments_sent;
    rep.max_send_buffered = layer.next_layer().stats().max_send_buffered;
    rep.retransmitted = layer.next_layer().stats().retransmitted;
    layer.close(clock::now());
    ep.flush();
    ctx.run_for(std::chrono::milliseconds(20));
    rep.ok = rep.written == opt.big && rep.acknowledged ? 1 : 0;
    if (!rep.ok) copy_error(rep, "not everything was written and acknowledged");
}

/// --role memory-receiver / memory-sender: runs one side, prints a line, and writes its report to
/// --report-fd when given (the parent process reads it).
template <class Report, class Body>
int run_role(const options& opt, const char* name, Body body) {
    Report rep;
    try {
        body(rep);
    } catch (const std::exception& e) {
        copy_error(rep, e.what());
        rep.ok = 0;
    }
    if (opt.report_fd >= 0) {
        (void)write_all(opt.report_fd, &rep, sizeof rep);
        ::close(opt.report_fd);
    } else {
        const rss_sample s = read_rss();
        std::printf("%s: %s; VmRSS at session start %.1f MiB, VmHWM %.1f MiB, ru_maxrss %.1f MiB\n",
                    name, rep.ok ? "ok" : rep.error.data(), static_cast<double>(rep.rss_base) / mib,
                    static_cast<double>(s.hwm) / mib, static_cast<double>(maxrss_self()) / mib);
    }
    return rep.ok ? 0 : 1;
}

/// Forks, pins to `cpu` and execs this binary with `args` and `--report-fd` (the write end).
pid_t spawn_role(int cpu, std::array<int, 2> pipe_fds, std::vector<std::string> args) {
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = ::fork();
    if (pid != 0) return pid;
    ::close(pipe_fds[0]);
    (void)pin_to_cpu(cpu);
    args.insert(args.begin(), "/proc/self/exe");
    args.emplace_back("--report-fd");
    args.push_back(std::to_string(pipe_fds[1]));
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv("/proc/self/exe", argv.data());
    ::_exit(127);
}

struct memory_measurement {
    bool ok = false;
    std::string error;
    memory_rx_report rx;
    memory_tx_report tx;
    std::uint64_t rx_wait4_maxrss = 0;
    std::uint64_t tx_wait4_maxrss = 0;
};

std::vector<std::string> role_args(const options& opt, const char* role) {
    std::vector<std::string> a{"--role", role, "--big", std::to_string(opt.big)};
    if (opt.no_offload) a.emplace_back("--no-offload");
    return a;
}

memory_measurement measure_memory(const options& opt, bool streamed) {
    memory_measurement m;
    std::array<int, 2> rx_pipe{};
    std::array<int, 2> tx_pipe{};
    if (::pipe(rx_pipe.data()) != 0) {
        m.error = "pipe failed";
        return m;
    }
    auto rx_args = role_args(opt, "memory-receiver");
    if (streamed) rx_args.emplace_back("--stream-receive");
    const pid_t rx_pid = spawn_role(0, rx_pipe, rx_args);
    ::close(rx_pipe[1]);
    const time_point start = clock::now();
    const time_point deadline =
        start + std::chrono::seconds(40) +
        std::chrono::duration_cast<clock::duration>(fseconds(static_cast<double>(opt.big) / 10e6));
    std::uint16_t port = 0;
    pid_t tx_pid = -1;
    if (rx_pid < 0) {
        m.error = "fork failed";
    } else if (!read_all(rx_pipe[0], &port, sizeof port, start + std::chrono::seconds(10))) {
        m.error = "receiver did not start";
    } else if (::pipe(tx_pipe.data()) != 0) {
        m.error = "pipe failed";
    } else {
        auto tx_args = role_args(opt, "memory-sender");
        tx_args.emplace_back("--port");
        tx_args.push_back(std::to_string(port));
        tx_pid = spawn_role(1, tx_pipe, tx_args);
        ::close(tx_pipe[1]);
        const bool got_rx = read_all(rx_pipe[0], &m.rx, sizeof m.rx, deadline);
        const bool got_tx = tx_pid > 0 && read_all(tx_pipe[0], &m.tx, sizeof m.tx, deadline);
        ::close(tx_pipe[0]);
        if (!got_rx || !got_tx) {
            m.error = "a child timed out or died";
        } else if (!m.rx.ok) {
            m.error = std::string("receiver: ") + m.rx.error.data();
        } else if (!m.tx.ok) {
            m.error = std::string("sender: ") + m.tx.error.data();
        } else {
            m.ok = true;
        }
    }
    ::close(rx_pipe[0]);
    const time_point reap_by = std::min(deadline, clock::now() + std::chrono::seconds(5));
    m.tx_wait4_maxrss = reap(tx_pid, reap_by);
    m.rx_wait4_maxrss = reap(rx_pid, reap_by);
    return m;
}

void print_memory(const options& opt, const memory_measurement& m, bool streamed) {
    const char* what =
        streamed ? "streamed receive (stream_above 64 KiB)" : "whole-message delivery";
    if (!m.ok) {
        std::printf("  %s: FAILED: %s\n", what, m.error.c_str());
        return;
    }
    const double size = static_cast<double>(opt.big);
    const auto increase = [](std::uint64_t peak, std::uint64_t base) {
        return peak > base ? static_cast<double>(peak - base) : 0.0;
    };
    const double rx_inc = increase(m.rx.hwm_end, m.rx.rss_base);
    const double tx_inc = increase(m.tx.hwm_end, m.tx.rss_base);
    std::printf("  %s of %.0f MiB in %.2f s (%.1f MB/s), content verified%s:\n", what, size / mib,
                m.rx.seconds, m.rx.seconds > 0 ? size / m.rx.seconds / 1e6 : 0.0,
                streamed ? (" in " + std::to_string(m.rx.parts) + " parts").c_str() : "");
    std::printf(
        "    receiver: peak RSS increase %.1f MiB (VmHWM %.1f MiB − VmRSS %.1f MiB at session "
        "start; "
        "ru_maxrss %.1f MiB, wait4 %.1f MiB)\n",
        rx_inc / mib, static_cast<double>(m.rx.hwm_end) / mib,
        static_cast<double>(m.rx.rss_base) / mib, static_cast<double>(m.rx.maxrss) / mib,
        static_cast<double>(m.rx_wait4_maxrss) / mib);
    std::printf("    receiver: ratio peak RSS increase / message size = %.3f%s\n", rx_inc / size,
                streamed ? " (should be near 0)" : " (goal <= 1.2)");
    std::printf("    receiver: stats().max_reassembly_bytes = %.1f MiB (ratio %.3f)\n",
                static_cast<double>(m.rx.max_reassembly_bytes) / mib,
                static_cast<double>(m.rx.max_reassembly_bytes) / size);
    std::printf(
        "    sender (begin_message + write): peak RSS increase %.1f MiB (VmHWM %.1f MiB, wait4 "
        "%.1f MiB), "
        "ratio %.3f; %llu fragments, max_send_buffered %llu, retransmitted %llu, written in %.2f "
        "s\n",
        tx_inc / mib, static_cast<double>(m.tx.hwm_end) / mib,
        static_cast<double>(m.tx_wait4_maxrss) / mib, tx_inc / size,
        static_cast<unsigned long long>(m.tx.fragments_sent),
        static_cast<unsigned long long>(m.tx.max_send_buffered),
        static_cast<unsigned long long>(m.tx.retransmitted), m.tx.seconds);
}

}  // namespace

static int run(int argc, char** argv) {
    options opt;
    CLI::App app{
        "neutrino-extended on loopback against neutrino-reliable in the same run: bulk goodput of "
        "large "
        "messages, and the peak memory of one big message (forked, pinned processes)"};
    app.add_flag("--quick", opt.quick, "smoke run: 16 × 1 MiB, one round, a 16 MiB big message");
    app.add_option("--messages", opt.messages,
                   "extended messages per goodput run (reliable: the same bytes)")
        ->check(CLI::Range(4, 1 << 20));
    app.add_option("--size", opt.size, "bytes of each extended goodput message")
        ->check(CLI::Range(8, 1 << 30));
    app.add_option("--reps", opt.reps, "goodput rounds (reliable and extended alternate); medians")
        ->check(CLI::Range(1, 50));
    app.add_option("--big", opt.big, "bytes of the memory test's one message")
        ->check(CLI::Range(8, 0x7fff0000));
    app.add_flag("--no-offload", opt.no_offload,
                 "plain sendmmsg/recvmmsg (GSO/GRO off) for every run");
    app.add_option(
           "--api", opt.api,
           "extended goodput sender: send (whole messages) or write (begin_message + write)")
        ->check(CLI::IsMember({"send", "write"}));
    app.add_flag("--refill", opt.refill,
                 "experiment: the extended sender's poll_datagram refills from the extended queue "
                 "(emulates a proposed library change)");
    app.add_flag(
        "--no-check", opt.no_check,
        "goodput receivers check the sequence only, not the content (the application's read of "
        "a 1 MiB message comes from outside L1, of a 1200-byte one from inside)");
    app.add_flag("--skip-goodput", opt.skip_goodput, "skip the goodput comparison");
    app.add_flag("--skip-memory", opt.skip_memory, "skip the whole-message memory test");
    app.add_flag("--skip-stream", opt.skip_stream, "skip the streamed-receive memory test");
    app.add_option("--role", opt.role,
                   "run one process of the memory test (see the printed /usr/bin/time command)")
        ->check(CLI::IsMember({"memory-receiver", "memory-sender"}));
    app.add_option("--port", opt.port,
                   "--role memory-receiver: port to bind (0: any); memory-sender: port to dial");
    app.add_option("--report-fd", opt.report_fd,
                   "internal: write the role's binary report to this descriptor");
    app.add_flag("--stream-receive", opt.stream_receive,
                 "--role memory-receiver: streamed receive");
    CLI11_PARSE(app, argc, argv);
    ::signal(SIGPIPE, SIG_IGN);
    if (opt.quick) {
        if (app.count("--messages") == 0) opt.messages = 16;
        if (app.count("--reps") == 0) opt.reps = 1;
        if (app.count("--big") == 0) opt.big = std::size_t{16} << 20;
    }

    if (opt.role == "memory-receiver") {
        return run_role<memory_rx_report>(opt, "memory-receiver", [&](memory_rx_report& r) {
            r.pinned = 1;
            run_memory_receiver(opt, r);
        });
    }
    if (opt.role == "memory-sender") {
        if (opt.port == 0) throw std::runtime_error("--role memory-sender needs --port");
        return run_role<memory_tx_report>(opt, "memory-sender", [&](memory_tx_report& r) {
            r.pinned = 1;
            run_memory_sender(opt, r);
        });
    }

    bool all_ok = true;
    if (!opt.skip_goodput) {
        const auto rp = plan_for(opt, stack_kind::reliable);
        std::printf(
            "goodput: %zu extended messages of %zu B (%s) vs %llu reliable messages of %zu B, same "
            "bytes; "
            "%s sockets; window from 10%% of the bytes to the end; %d round(s)\n",
            opt.messages, opt.size, opt.api == "send" ? "send" : "begin_message + write",
            static_cast<unsigned long long>(rp.count), reliable_payload_size,
            opt.no_offload ? "mmsg" : "gso+gro", opt.reps);
        std::vector<goodput_measurement> runs[2];
        for (int round = 0; round < opt.reps; ++round) {
            for (const stack_kind s : {stack_kind::reliable, stack_kind::extended}) {
                auto m = measure_goodput(opt, s);
                all_ok = all_ok && m.ok;
                print_goodput(m);
                runs[static_cast<int>(s)].push_back(std::move(m));
            }
        }
        const auto med = [](const std::vector<goodput_measurement>& v,
                            double (goodput_measurement::*f)() const) {
            std::vector<double> x;
            for (const auto& m : v) {
                if (m.ok) x.push_back((m.*f)());
            }
            return median(x);
        };
        // the same rounds' ratios: a load change on this shared machine hits both of a round
        const auto paired = [&](double (goodput_measurement::*f)() const) {
            std::vector<double> x;
            for (std::size_t i = 0; i < runs[0].size() && i < runs[1].size(); ++i) {
                const double r = (runs[0][i].*f)();
                if (runs[0][i].ok && runs[1][i].ok && r > 0) x.push_back((runs[1][i].*f)() / r);
            }
            return median(x);
        };
        const double rel = med(runs[0], &goodput_measurement::mbps);
        const double ext = med(runs[1], &goodput_measurement::mbps);
        std::printf("medians: reliable (%zu B) %.1f MB/s, extended (%zu B) %.1f MB/s\n",
                    reliable_payload_size, rel, opt.size, ext);
        std::printf(
            "ratio extended / reliable goodput (same run) = %.3f of the medians, %.3f median of "
            "the rounds' "
            "ratios (goal >= 0.90)\n",
            rel > 0 ? ext / rel : 0.0, paired(&goodput_measurement::mbps));
        std::printf(
            "CPU efficiency extended / reliable (MB per CPU-second, median of the rounds' ratios): "
            "receiver "
            "%.3f, sender %.3f (reliable: rx %.0f, tx %.0f MB/cpu-s; extended: rx %.0f, tx "
            "%.0f)\n\n",
            paired(&goodput_measurement::rx_mb_per_cpu_s),
            paired(&goodput_measurement::tx_mb_per_cpu_s),
            med(runs[0], &goodput_measurement::rx_mb_per_cpu_s),
            med(runs[0], &goodput_measurement::tx_mb_per_cpu_s),
            med(runs[1], &goodput_measurement::rx_mb_per_cpu_s),
            med(runs[1], &goodput_measurement::tx_mb_per_cpu_s));
    }
    const auto memory = [&](bool streamed) {
        const auto m = measure_memory(opt, streamed);
        all_ok = all_ok && m.ok;
        print_memory(opt, m, streamed);
    };
    if (!opt.skip_memory || !opt.skip_stream) {
        std::printf(
            "memory: one message of %zu bytes (max_message_size %zu, max_reassembly_bytes %zu), "
            "receiver on "
            "CPU 0 and sender on CPU 1 in processes of their own\n",
            opt.big, opt.big + framing_margin,
            opt.big + framing_margin + 2 * ne::server::fragment_size);
    }
    if (!opt.skip_memory) memory(false);
    if (!opt.skip_stream) memory(true);
    if (!opt.skip_memory || !opt.skip_stream) {
        std::printf(
            "  check with /usr/bin/time -v (receiver's \"Maximum resident set size\"):\n"
            "    B=%s; /usr/bin/time -v $B --role memory-receiver --port 47999 --big %zu%s & sleep "
            "1; "
            "$B --role memory-sender --port 47999 --big %zu%s; wait\n",
            argv[0], opt.big, opt.no_offload ? " --no-offload" : "", opt.big,
            opt.no_offload ? " --no-offload" : "");
    }
    std::fflush(stdout);
    return all_ok ? 0 : 1;
}

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "neutrino_bench_extended: %s\n", e.what());
        return 1;
    }
}
