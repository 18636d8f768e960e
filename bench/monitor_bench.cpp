// What monitoring costs (issue #6):
//  "Monitoring off costs nothing measurable (bench: with the null observer vs no observer, same
//   run). Recording to pcapng keeps at least 80% of the unmonitored loopback throughput of the
//   core example in the same run."
//
// Part 1, micro (Google Benchmark, same process, interleaved repetitions, medians): the machine
// path client.send → poll_datagram → server.handle_datagram → poll_event with one 1200-byte word,
//  - machines_null:      basic_client/basic_server<wire::v2, null_observer>;
//  - machines_empty:     the same with `empty_observer`, a hand-written observer whose members
//                        are empty but which is NOT null_observer (nor derived from it);
//  - machines_counting:  an observer that counts each call (the smallest real observer);
//  - machines_recording: recording_observer on both sides, pcapng to /dev/null (the
//                        serialisation and buffered writes, no file system);
//  - raw_seal_open:      XChaCha20-Poly1305 seal + open of the same plaintext, no protocol.
// There is no observer-free build of the machines: every machine calls its observer, and
// null_observer is the default. "No observer" can therefore only be approximated: by an
// unrelated type with empty members (the calls must compile away the same way: the ratio
// empty/null shows it) and by the raw crypto floor (which also has no session state).
//
// Part 2, loopback (forked receiver pinned to CPU 0, sender pinned to CPU 1, like
// throughput_bench.cpp): a core client in a basic_endpoint sends DATA packets of one 1200-byte
// word to a core server in a basic_endpoint, credit-paced against the receiver's count;
// delivered datagrams/s at the receiver over a steady window,
//  (i)  unmonitored: null_observer on both sides;
//  (ii) recording: recording_observer on both sides, every datagram sent and received written
//       to a pcapng file per side (temp dir), and the key log on;
// alternating in one invocation, --repeat rounds, medians and the ratio recording/unmonitored
// (goal ≥ 0.8). Capture files go through the page cache (fwrite, no fsync) and are deleted
// after each run unless --keep.

#include <poll.h>
#include <sched.h>
#include <sodium.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <benchmark/benchmark.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "neutrino/core/client.hpp"
#include "neutrino/core/crypto.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/core/wire_v2.hpp"
#include "neutrino/io/asio.hpp"
#include "neutrino/io/basic_endpoint.hpp"
#include "neutrino/io/udp_socket.hpp"
#include "neutrino/monitor/key_log.hpp"
#include "neutrino/monitor/pcapng_writer.hpp"
#include "neutrino/monitor/recording_observer.hpp"
#include "neutrino/random.hpp"
#include "child_process.hpp"

namespace {

using namespace neutrino::bench;  // child_process.hpp: spawn, reap, read_all, median …
namespace nc = neutrino::core;
namespace nio = neutrino::io;
namespace nm = neutrino::monitor;
namespace net = neutrino::net;
namespace fs = std::filesystem;
using neutrino::clock;
using neutrino::peer_address;
using neutrino::time_point;
using fseconds = std::chrono::duration<double>;

constexpr std::size_t payload_size = 1200;  ///< one word of application bytes per DATA packet
/// What the machines encrypt: protected header + word framing + the word.
constexpr std::size_t plain_size = nc::protected_header_size + 3 + payload_size;
constexpr std::size_t datagram_size = nc::clear_header_size + nc::wire::v2::overhead + plain_size;

// ============================================================================================
// Part 1: micro
// ============================================================================================

/// Not null_observer, not derived from it: empty members only.
struct empty_observer {
    void on_datagram_received(std::span<const std::byte>, const peer_address&, time_point) {}
    void on_packet_received(const nc::packet_info&, time_point) {}
    void on_packet_sent(const nc::packet_info&, time_point) {}
    void on_dropped(std::error_code, const peer_address&, std::size_t, time_point) {}
    void on_session_state(std::uint64_t, const peer_address&, nc::session_state,
                          nc::session_state, time_point) {}
};
static_assert(nc::observer<empty_observer>);
static_assert(!std::is_base_of_v<nc::null_observer, empty_observer>);

/// Counts every call (shared by copies: the machine takes its observer by value).
struct counting_observer {
    struct counts {
        std::uint64_t datagrams = 0, received = 0, sent = 0, dropped = 0, states = 0;
    };
    std::shared_ptr<counts> c = std::make_shared<counts>();
    void on_datagram_received(std::span<const std::byte>, const peer_address&, time_point) {
        ++c->datagrams;
    }
    void on_packet_received(const nc::packet_info&, time_point) { ++c->received; }
    void on_packet_sent(const nc::packet_info&, time_point) { ++c->sent; }
    void on_dropped(std::error_code, const peer_address&, std::size_t, time_point) { ++c->dropped; }
    void on_session_state(std::uint64_t, const peer_address&, nc::session_state,
                          nc::session_state, time_point) {
        ++c->states;
    }
};
static_assert(nc::observer<counting_observer>);

nc::secret_key test_key() {
    std::array<std::byte, 32> k{};
    for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::byte>(i);
    return nc::secret_key(k);
}

const peer_address micro_client_address = peer_address::v4({127, 0, 0, 1}, 40000);
const peer_address micro_server_address = peer_address::v4({127, 0, 0, 1}, 22753);

/// The machine path of crypto_bench's core_machines_round, with observers `co` and `so`.
template <class Observer>
void machines_round(benchmark::State& state, Observer co, Observer so) {
    using client_t = nc::basic_client<nc::wire::v2, Observer, neutrino::seeded_random>;
    using server_t = nc::basic_server<nc::wire::v2, Observer, neutrino::seeded_random>;
    const auto keys = *nc::keypair_from_hex(nc::example_public_key_hex, nc::example_secret_key_hex);
    const auto& ca = micro_client_address;
    const auto& sa = micro_server_address;
    nc::client_config cc;
    cc.server_key = keys.pk;
    cc.server = sa;
    nc::server_config sc;
    sc.keys = keys;
    client_t c(cc, std::move(co), neutrino::seeded_random(1));
    server_t s(sc, std::move(so), neutrino::seeded_random(2));
    std::array<std::byte, nc::max_datagram_size> buf{};
    time_point now{};
    auto pump = [&] {
        while (auto t = c.poll_datagram(buf, now)) (void)s.handle_datagram({buf.data(), t->size}, ca, now);
        while (auto t = s.poll_datagram(buf, now)) (void)c.handle_datagram({buf.data(), t->size}, sa, now);
        while (c.poll_event()) {}
        while (s.poll_event()) {}
    };
    (void)c.connect(now);
    pump();
    pump();
    if (!c.established()) {
        state.SkipWithError("no session");
        return;
    }
    std::vector<std::byte> payload(payload_size, std::byte{0x5a});
    const nc::word w(payload);
    std::uint64_t delivered = 0;
    for (auto _ : state) {
        (void)c.send({&w, 1}, now);
        auto t = c.poll_datagram(buf, now);
        (void)s.handle_datagram({buf.data(), t->size}, ca, now);
        auto e = s.poll_event();
        if (e && e->kind == nc::event_kind::data) ++delivered;
        benchmark::DoNotOptimize(e);
    }
    if (delivered != static_cast<std::uint64_t>(state.iterations())) {
        state.SkipWithError("a datagram was not delivered");
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(datagram_size));
}

void machines_null(benchmark::State& state) {
    machines_round(state, nc::null_observer{}, nc::null_observer{});
}
void machines_empty(benchmark::State& state) {
    machines_round(state, empty_observer{}, empty_observer{});
}
void machines_counting(benchmark::State& state) {
    counting_observer o;  // both machines count into the same totals
    machines_round(state, o, o);
}
void machines_recording(benchmark::State& state) {
    // One writer, an interface per side, as a capture of both ends of a memory link; keys too.
    auto writer = std::make_shared<nm::pcapng_writer>("/dev/null");
    auto keys = std::make_shared<nm::key_log_writer>("/dev/null");
    nm::recording_options copt;
    copt.local = micro_client_address;
    copt.interface_name = "client";
    copt.key_log = keys;
    nm::recording_options sopt = copt;
    sopt.local = micro_server_address;
    sopt.interface_name = "server";
    machines_round(state, nm::recording_observer(writer, copt), nm::recording_observer(writer, sopt));
    const auto expected = 2 * static_cast<std::uint64_t>(state.iterations());
    if (writer->packets_written() < expected) state.SkipWithError("packets not recorded");
}

void raw_seal_open(benchmark::State& state) {
    std::vector<unsigned char> msg(plain_size, 0x5a), c(plain_size + 16), m(plain_size);
    std::array<unsigned char, 24> nonce{};
    const auto key = test_key();
    const auto* k = reinterpret_cast<const unsigned char*>(key.bytes().data());
    for (auto _ : state) {
        ++nonce[0];
        crypto_aead_xchacha20poly1305_ietf_encrypt(c.data(), nullptr, msg.data(), msg.size(),
                                                   nullptr, 0, nullptr, nonce.data(), k);
        const int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
            m.data(), nullptr, nullptr, c.data(), c.size(), nullptr, 0, nonce.data(), k);
        benchmark::DoNotOptimize(rc);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(datagram_size));
}

/// Like ratio_reporter.hpp's, but prints the ratios of both the wall-clock and the CPU time
/// per iteration (medians of the repetitions): on a shared machine the CPU time is the steadier.
class micro_reporter : public benchmark::ConsoleReporter {
public:
    explicit micro_reporter(std::vector<std::pair<std::string, std::string>> pairs)
        : pairs_(std::move(pairs)) {}

    void ReportRuns(const std::vector<Run>& runs) override {
        for (const Run& r : runs) {
            if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
            times_[r.run_name.function_name] = {r.GetAdjustedRealTime(), r.GetAdjustedCPUTime()};
        }
        ConsoleReporter::ReportRuns(runs);
    }

    void Finalize() override {
        ConsoleReporter::Finalize();
        std::printf("\nmedian time per iteration, same run:\n");
        for (const auto& [name, t] : times_) {
            std::printf("  %-20s wall %8.1f ns   cpu %8.1f ns\n", name.c_str(), t.first, t.second);
        }
        std::printf("\nratios (time per iteration, medians, same run; lower is better for the "
                    "first):\n");
        for (const auto& [measured, reference] : pairs_) {
            auto m = times_.find(measured);
            auto r = times_.find(reference);
            if (m == times_.end() || r == times_.end() || r->second.first == 0 ||
                r->second.second == 0) {
                continue;
            }
            std::printf("  %-20s / %-16s = %.3f wall, %.3f cpu\n", measured.c_str(),
                        reference.c_str(), m->second.first / r->second.first,
                        m->second.second / r->second.second);
        }
    }

private:
    std::vector<std::pair<std::string, std::string>> pairs_;
    std::map<std::string, std::pair<double, double>> times_;
};

int run_micro() {
    std::printf(
        "== micro: client.send → poll_datagram → server.handle_datagram → poll_event, one %zu-byte "
        "word (%zu-byte datagram)\n"
        "   \"no observer\" here: the machines have no observer-free build (null_observer is the "
        "default), so\n"
        "   machines_empty uses an unrelated observer type with empty members (not "
        "null_observer, not derived\n"
        "   from it) and raw_seal_open is the crypto floor with no protocol at all. "
        "empty/null ≈ 1 means\n"
        "   the observer calls compile away; null/raw is the whole machine overhead, not an "
        "observer cost.\n\n",
        payload_size, datagram_size);
    std::fflush(stdout);
    benchmark::RegisterBenchmark("raw_seal_open", raw_seal_open);
    benchmark::RegisterBenchmark("machines_null", machines_null);
    benchmark::RegisterBenchmark("machines_empty", machines_empty);
    benchmark::RegisterBenchmark("machines_counting", machines_counting);
    benchmark::RegisterBenchmark("machines_recording", machines_recording);
    micro_reporter reporter({{"machines_empty", "machines_null"},
                                              {"machines_counting", "machines_null"},
                                              {"machines_recording", "machines_null"},
                                              {"machines_null", "raw_seal_open"}});
    benchmark::RunSpecifiedBenchmarks(&reporter);
    std::fflush(stdout);
    return 0;
}

// ============================================================================================
// Part 2: loopback, forked and pinned (helpers copied from throughput_bench.cpp)
// ============================================================================================

struct options {
    std::string part = "all";  ///< all | micro | loopback
    double seconds = 3.0;
    double warmup = 0.3;
    std::uint64_t window = 1024;  ///< credit pacing: datagrams in flight at most
    int repeat = 3;
    bool no_offload = false;
    std::string dir;  ///< capture directory; empty: a new one under the temp directory
    bool keep = false;
    std::string sink = "file";
    std::string only;  ///< empty, unmonitored or recording (one mode alone, e.g. to profile)  ///< file | devnull: where the recording runs' captures go
};

enum class mode : std::uint8_t { unmonitored, recording };
const char* name_of(mode m) { return m == mode::unmonitored ? "unmonitored" : "recording"; }

struct run_files {
    std::string client_pcap, server_pcap, keylog;
    bool removable = true;  ///< false when the captures go to /dev/null
};

struct receiver_report {
    int ok = 0;
    std::array<char, 160> error{};
    std::uint64_t window_datagrams = 0;
    std::uint64_t window_bytes = 0;
    double window_seconds = 0;
    std::uint64_t delivered_total = 0;
    std::uint64_t datagrams_in = 0;
    std::uint64_t rejected = 0;
    std::uint64_t events_dropped = 0;
    std::uint64_t recorded = 0;      ///< packets written to the capture
    std::uint64_t file_bytes = 0;    ///< capture size
    double user_s = 0, sys_s = 0;    ///< the process's CPU time, whole run
    int gro = 0;
    int pinned = 0;
};

struct sender_report {
    int ok = 0;
    std::array<char, 160> error{};
    std::uint64_t window_datagrams = 0;
    double window_seconds = 0;
    std::uint64_t sent_total = 0;
    std::uint64_t queue_full = 0;
    std::uint64_t send_errors = 0;
    std::uint64_t sessions_lost = 0;
    std::uint64_t credit_stalls = 0;
    std::uint64_t recorded = 0;
    std::uint64_t file_bytes = 0;
    double user_s = 0, sys_s = 0;
    int gso = 0;
    int pinned = 0;
};

const net::ip::udp::endpoint loopback_any{net::ip::address_v4::loopback(), 0};

nio::endpoint_options endpoint_options(const options& opt) {
    nio::endpoint_options o;
    o.socket.gso = !opt.no_offload;
    o.socket.gro = !opt.no_offload;
    return o;
}

class window_meter {
public:
    explicit window_meter(const options& opt)
        : warmup_(std::chrono::duration_cast<clock::duration>(fseconds(opt.warmup))),
          length_(std::chrono::duration_cast<clock::duration>(fseconds(opt.seconds))) {}

    void add(std::uint64_t datagrams, time_point now, std::uint64_t bytes) noexcept {
        if (!started_) {
            started_ = true;
            start_ = now + warmup_;
            end_ = start_ + length_;
        }
        total_ += datagrams;
        if (now >= end_) {
            done_ = true;
        } else if (now >= start_) {
            window_datagrams_ += datagrams;
            window_bytes_ += bytes;
        }
    }
    [[nodiscard]] bool done(time_point now) const noexcept {
        return done_ || (started_ && now >= end_);
    }
    [[nodiscard]] bool started() const noexcept { return started_; }
    [[nodiscard]] time_point end() const noexcept { return end_; }
    [[nodiscard]] std::uint64_t window_datagrams() const noexcept { return window_datagrams_; }
    [[nodiscard]] std::uint64_t window_bytes() const noexcept { return window_bytes_; }
    [[nodiscard]] std::uint64_t total() const noexcept { return total_; }
    [[nodiscard]] double window_seconds() const noexcept { return fseconds(length_).count(); }

private:
    clock::duration warmup_;
    clock::duration length_;
    bool started_ = false;
    bool done_ = false;
    time_point start_{};
    time_point end_{};
    std::uint64_t window_datagrams_ = 0;
    std::uint64_t window_bytes_ = 0;
    std::uint64_t total_ = 0;
};

/// The receiver's delivered count in a shared mapping, read by the sender's credit pacing.
struct shared_progress {
    std::atomic<std::uint64_t> delivered{0};
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

/// Credit pacing (throughput_bench's default): at most `window` datagrams in flight against
/// the receiver's delivered count; in-flight datagrams without progress for 5 ms are written off.
class pacer {
public:
    pacer(std::uint64_t window, const shared_progress* progress)
        : window_(window), progress_(progress) {}

    std::size_t budget(time_point now) noexcept {
        const std::uint64_t d = progress_->delivered.load(std::memory_order_relaxed);
        if (d != seen_ || !started_) {
            started_ = true;
            seen_ = d;
            last_ = now;
        }
        std::uint64_t in_flight = sent_ > d + written_off_ ? sent_ - d - written_off_ : 0;
        if (in_flight >= window_ && now - last_ > std::chrono::milliseconds(5)) {
            written_off_ = sent_ - d;
            ++stalls_;
            last_ = now;
            in_flight = 0;
        }
        return in_flight >= window_ ? 0 : static_cast<std::size_t>(window_ - in_flight);
    }
    void consume(std::size_t n) noexcept { sent_ += n; }
    [[nodiscard]] std::uint64_t stalls() const noexcept { return stalls_; }

private:
    std::uint64_t window_;
    const shared_progress* progress_;
    bool started_ = false;
    time_point last_{};
    std::uint64_t sent_ = 0;
    std::uint64_t seen_ = 0;
    std::uint64_t written_off_ = 0;
    std::uint64_t stalls_ = 0;
};

/// The observer the machine is constructed with. A recording observer needs the endpoint's
/// bound address, known only after the endpoint exists: it starts as a placeholder (no writer,
/// no key log: records nothing) and is replaced through `ep.layer().observer()`.
template <class Observer>
Observer placeholder_observer() {
    if constexpr (std::is_same_v<Observer, nm::recording_observer>) {
        return nm::recording_observer(nullptr, {});
    } else {
        return Observer{};
    }
}

/// For the recording runs: installs a recording observer on `ep`'s machine, writing `pcap`
/// (interface `name`) and the key log `keylog`. Returns the writer (null when not recording).
template <class Endpoint>
std::shared_ptr<nm::pcapng_writer> start_recording(Endpoint& ep, const std::string& pcap,
                                                   const std::string& keylog, const char* name) {
    using observer_t = typename Endpoint::layer_type::observer_type;
    if constexpr (std::is_same_v<observer_t, nm::recording_observer>) {
        auto writer = std::make_shared<nm::pcapng_writer>(pcap);
        nm::recording_options o;
        o.local = ep.local_address();
        o.interface_name = name;
        o.key_log = std::make_shared<nm::key_log_writer>(keylog);
        ep.layer().observer() = nm::recording_observer(writer, std::move(o));
        return writer;
    } else {
        return nullptr;
    }
}

std::uint64_t finish_recording(const std::shared_ptr<nm::pcapng_writer>& writer,
                               const std::string& path, std::uint64_t& file_bytes) {
    if (!writer) return 0;
    writer->flush();
    std::error_code ec;
    file_bytes = fs::file_size(path, ec);
    if (ec) file_bytes = 0;
    return writer->packets_written();
}

template <class Observer>
void receiver(const options& opt, const run_files& files, int fd, shared_progress& progress,
              receiver_report& rep) {
    using server_t = nc::basic_server<nc::wire::v2, Observer>;
    net::io_context ctx;
    nc::server_config cfg;
    auto keys = nc::keypair_from_hex(nc::example_public_key_hex, nc::example_secret_key_hex);
    if (!keys) return copy_error(rep, "bad example key");
    cfg.keys = *keys;
    nio::basic_endpoint<server_t> ep(ctx, loopback_any,
                                     server_t(std::move(cfg), placeholder_observer<Observer>()),
                                     endpoint_options(opt));
    auto writer = start_recording(ep, files.server_pcap, files.keylog, "server");
    const std::uint16_t port = ep.local_endpoint().port();
    if (!write_all(fd, &port, sizeof port)) return copy_error(rep, "cannot report the port");
    rep.gro = ep.socket().gro_enabled() ? 1 : 0;

    window_meter meter(opt);
    ep.set_event_handler([&](const nc::event& e) {
        if (e.kind != nc::event_kind::data) return;
        std::uint64_t bytes = 0;
        for (const nc::word w : e.words) bytes += w.size();
        meter.add(1, clock::now(), bytes);
        progress.delivered.store(meter.total(), std::memory_order_relaxed);
    });
    const time_point give_up = clock::now() + std::chrono::seconds(15);
    while (!meter.done(clock::now())) {
        ctx.run_one_for(std::chrono::milliseconds(20));
        if (!meter.started() && clock::now() > give_up) return copy_error(rep, "no data arrived");
        if (!ep.is_open() || ep.last_error()) return copy_error(rep, "endpoint failed");
    }
    rep.window_datagrams = meter.window_datagrams();
    rep.window_bytes = meter.window_bytes();
    rep.window_seconds = meter.window_seconds();
    rep.delivered_total = meter.total();
    rep.datagrams_in = ep.socket().counters().datagrams_in;
    rep.rejected = ep.counters().datagrams_rejected;
    rep.events_dropped = ep.layer().stats().events_dropped;
    rep.recorded = finish_recording(writer, files.server_pcap, rep.file_bytes);
    rep.ok = 1;
}

template <class Observer>
void sender(const options& opt, const run_files& files, std::uint16_t port,
            const shared_progress& progress, sender_report& rep) {
    using client_t = nc::basic_client<nc::wire::v2, Observer>;
    net::io_context ctx;
    auto keys = nc::keypair_from_hex(nc::example_public_key_hex, nc::example_secret_key_hex);
    if (!keys) return copy_error(rep, "bad example key");
    nc::client_config cfg;
    cfg.server_key = keys->pk;
    cfg.server = peer_address::v4({127, 0, 0, 1}, port);
    nio::basic_endpoint<client_t> ep(ctx, loopback_any,
                                     client_t(cfg, placeholder_observer<Observer>()),
                                     endpoint_options(opt));
    auto writer = start_recording(ep, files.client_pcap, files.keylog, "client");
    rep.gso = ep.socket().gso_enabled() ? 1 : 0;

    bool established = false;
    ep.set_event_handler([&](const nc::event& e) {
        if (e.kind == nc::event_kind::established) established = true;
        if (e.kind == nc::event_kind::closed) {
            established = false;
            ++rep.sessions_lost;
        }
    });
    const time_point dial = clock::now();
    if (!ep.layer().connect(dial)) return copy_error(rep, "connect failed");
    ep.flush();
    while (!established && clock::now() < dial + std::chrono::seconds(10)) {
        ctx.run_one_for(std::chrono::milliseconds(20));
    }
    if (!established) return copy_error(rep, "no session within 10 s");

    std::vector<std::byte> payload(payload_size, std::byte{0x5a});
    const nc::word w(payload);
    const std::error_code would_block = nc::make_error_code(nc::errc::would_block);
    pacer pace(opt.window, &progress);
    std::uint64_t sequence = 0;
    std::uint64_t stalls_in_window = 0;
    window_meter meter(opt);
    const auto tail = std::chrono::milliseconds(500);
    for (;;) {
        const time_point now = clock::now();
        if (meter.started() && now >= meter.end() + tail) break;
        const std::size_t budget = pace.budget(now);
        if (!meter.started() || now < meter.end()) stalls_in_window = pace.stalls();
        std::size_t n = 0;
        for (; n < budget; ++n) {
            ++sequence;
            std::memcpy(payload.data(), &sequence, sizeof sequence);
            auto r = ep.layer().send({&w, 1}, now);
            if (!r) {
                --sequence;
                if (r.error() == would_block) {
                    ++rep.queue_full;
                } else {
                    ++rep.send_errors;
                }
                break;
            }
        }
        pace.consume(n);
        if (n > 0) meter.add(n, now, n * payload_size);
        ep.flush();
        ctx.poll();
        if (ep.last_error()) return copy_error(rep, "fatal send error");
    }
    rep.window_datagrams = meter.window_datagrams();
    rep.window_seconds = meter.window_seconds();
    rep.sent_total = meter.total();
    rep.credit_stalls = stalls_in_window;
    rep.recorded = finish_recording(writer, files.client_pcap, rep.file_bytes);
    rep.ok = 1;
}

struct measurement {
    mode m = mode::unmonitored;
    bool ok = false;
    std::string error;
    receiver_report rx;
    sender_report tx;

    [[nodiscard]] double delivered_rate() const {
        return rx.window_seconds > 0 ? static_cast<double>(rx.window_datagrams) / rx.window_seconds
                                     : 0;
    }
    [[nodiscard]] double delivered_mbps() const {
        return rx.window_seconds > 0 ? static_cast<double>(rx.window_bytes) / rx.window_seconds / 1e6
                                     : 0;
    }
    /// CPU time (user + system) per datagram over the whole run: steadier than the rates on a
    /// shared machine, and shows which side pays.
    [[nodiscard]] double rx_cpu_ns() const {
        return rx.delivered_total > 0 ? 1e9 * (rx.user_s + rx.sys_s) / static_cast<double>(rx.delivered_total) : 0;
    }
    [[nodiscard]] double tx_cpu_ns() const {
        return tx.sent_total > 0 ? 1e9 * (tx.user_s + tx.sys_s) / static_cast<double>(tx.sent_total) : 0;
    }
    [[nodiscard]] double rx_sys_ns() const {
        return rx.delivered_total > 0 ? 1e9 * rx.sys_s / static_cast<double>(rx.delivered_total) : 0;
    }
    [[nodiscard]] double tx_sys_ns() const {
        return tx.sent_total > 0 ? 1e9 * tx.sys_s / static_cast<double>(tx.sent_total) : 0;
    }
    [[nodiscard]] double offered_rate() const {
        return tx.window_seconds > 0 ? static_cast<double>(tx.window_datagrams) / tx.window_seconds
                                     : 0;
    }
};

/// Forks a child pinned to `cpu` that runs `body(report)`, writes the report into the write end
/// of `pipe_fds` and exits; returns the child's pid (or -1) in the parent.
template <class Report, class Body>
pid_t spawn(int cpu, std::array<int, 2> pipe_fds, Body body) {
    const pid_t pid = ::fork();
    if (pid != 0) return pid;
    ::close(pipe_fds[0]);
    const int fd_keep = pipe_fds[1];
    Report rep;
    rep.pinned = pin_to_cpu(cpu) ? 1 : 0;
    try {
        body(rep);
    } catch (const std::exception& e) {
        copy_error(rep, e.what());
        rep.ok = 0;
    }
    ::rusage ru{};
    if (::getrusage(RUSAGE_SELF, &ru) == 0) {
        rep.user_s = static_cast<double>(ru.ru_utime.tv_sec) + 1e-6 * static_cast<double>(ru.ru_utime.tv_usec);
        rep.sys_s = static_cast<double>(ru.ru_stime.tv_sec) + 1e-6 * static_cast<double>(ru.ru_stime.tv_usec);
    }
    (void)write_all(fd_keep, &rep, sizeof rep);
    ::close(fd_keep);
    ::_exit(rep.ok ? 0 : 1);
}

measurement measure(const options& opt, mode md, const run_files& files) {
    measurement m;
    m.m = md;
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
    const pid_t rx_pid = spawn<receiver_report>(0, rx_pipe, [&](receiver_report& rep) {
        if (md == mode::unmonitored) {
            receiver<nc::null_observer>(opt, files, rx_pipe[1], *progress, rep);
        } else {
            receiver<nm::recording_observer>(opt, files, rx_pipe[1], *progress, rep);
        }
    });
    ::close(rx_pipe[1]);
    const time_point start = clock::now();
    const time_point deadline =
        start + std::chrono::duration_cast<clock::duration>(fseconds(opt.warmup + opt.seconds + 20.0));

    std::uint16_t port = 0;
    pid_t tx_pid = -1;
    if (rx_pid < 0) {
        m.error = "fork failed";
    } else if (!read_all(rx_pipe[0], &port, sizeof port, start + std::chrono::seconds(10))) {
        m.error = "receiver did not start";
    } else if (::pipe(tx_pipe.data()) != 0) {
        m.error = "pipe failed";
    } else {
        tx_pid = spawn<sender_report>(1, tx_pipe, [&](sender_report& rep) {
            ::close(rx_pipe[0]);
            if (md == mode::unmonitored) {
                sender<nc::null_observer>(opt, files, port, *progress, rep);
            } else {
                sender<nm::recording_observer>(opt, files, port, *progress, rep);
            }
        });
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
        } else if (md == mode::recording &&
                   (m.rx.recorded < m.rx.delivered_total || m.tx.recorded < m.tx.sent_total)) {
            m.error = "the captures hold fewer packets than were sent/delivered";
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

template <class F>
double median_of(const std::vector<measurement>& runs, F f) {
    std::vector<double> v;
    for (const auto& m : runs) {
        if (m.ok) v.push_back(f(m));
    }
    return median(v);
}

void print_run(int round, const measurement& m) {
    if (!m.ok) {
        std::printf("  round %d %-11s FAILED: %s\n", round, name_of(m.m), m.error.c_str());
        std::fflush(stdout);
        return;
    }
    std::printf(
        "  round %d %-11s offered %7.3f M/s  delivered %7.3f M/s  %7.1f MB/s  "
        "cpu/dgram tx %.0f ns (sys %.0f) rx %.0f ns (sys %.0f)  "
        "[gso %d gro %d pinned %d/%d; rejected %llu events-dropped %llu queue-full %llu "
        "send-errors %llu sessions-lost %llu credit-stalls %llu",
        round, name_of(m.m), m.offered_rate() / 1e6, m.delivered_rate() / 1e6, m.delivered_mbps(),
        m.tx_cpu_ns(), m.tx_sys_ns(), m.rx_cpu_ns(), m.rx_sys_ns(), m.tx.gso, m.rx.gro, m.tx.pinned, m.rx.pinned,
        static_cast<unsigned long long>(m.rx.rejected),
        static_cast<unsigned long long>(m.rx.events_dropped),
        static_cast<unsigned long long>(m.tx.queue_full),
        static_cast<unsigned long long>(m.tx.send_errors),
        static_cast<unsigned long long>(m.tx.sessions_lost),
        static_cast<unsigned long long>(m.tx.credit_stalls));
    if (m.m == mode::recording) {
        std::printf("; recorded client %llu pkts %.0f MB, server %llu pkts %.0f MB",
                    static_cast<unsigned long long>(m.tx.recorded),
                    static_cast<double>(m.tx.file_bytes) / 1e6,
                    static_cast<unsigned long long>(m.rx.recorded),
                    static_cast<double>(m.rx.file_bytes) / 1e6);
    }
    std::printf("]\n");
    std::fflush(stdout);
}

int run_loopback(const options& opt) {
    fs::path dir;
    bool made_dir = false;
    if (opt.dir.empty()) {
        std::string tmpl = (fs::temp_directory_path() / "neutrino_bench_monitor.XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) {
            std::fprintf(stderr, "cannot create a temporary directory\n");
            return 1;
        }
        dir = tmpl;
        made_dir = true;
    } else {
        dir = opt.dir;
        fs::create_directories(dir);
    }
    std::printf(
        "\n== loopback: core client → core server through basic_endpoint, one %zu-byte word per "
        "DATA (%zu-byte datagram),\n"
        "   receiver pinned to CPU 0, sender to CPU 1, credit pacing (%llu in flight), %s; "
        "window %.1f s after %.1f s warm-up;\n"
        "   %d round(s), unmonitored and recording alternating. recording: pcapng of every "
        "datagram sent and received\n"
        "   on both sides + key log, in %s (page cache, no fsync)%s%s\n",
        payload_size, datagram_size, static_cast<unsigned long long>(opt.window),
        opt.no_offload ? "sendmmsg/recvmmsg" : "GSO/GRO when available", opt.seconds, opt.warmup,
        opt.repeat, dir.c_str(), opt.keep ? "" : "; files deleted after each run",
        opt.sink == "devnull" ? "\n   --capture-sink devnull: captures written to /dev/null "
                                "(observer + writer cost without the file system)"
                              : "");
    std::fflush(stdout);

    std::vector<measurement> plain, recording;
    bool all_ok = true;
    for (int round = 1; round <= opt.repeat; ++round) {
        const std::string tag = std::to_string(round);
        run_files files{(dir / ("client-" + tag + ".pcapng")).string(),
                        (dir / ("server-" + tag + ".pcapng")).string(),
                        (dir / ("keys-" + tag + ".log")).string()};
        if (opt.sink == "devnull") {
            files.client_pcap = files.server_pcap = "/dev/null";
            files.removable = false;
        }
        if (opt.only != "recording") {
            plain.push_back(measure(opt, mode::unmonitored, files));
            print_run(round, plain.back());
            all_ok = all_ok && plain.back().ok;
        }
        if (opt.only != "unmonitored") {
            recording.push_back(measure(opt, mode::recording, files));
            print_run(round, recording.back());
            all_ok = all_ok && recording.back().ok;
        }
        if (!opt.keep) {
            std::error_code ec;
            if (files.removable) {
                fs::remove(files.client_pcap, ec);
                fs::remove(files.server_pcap, ec);
            }
            fs::remove(files.keylog, ec);
        }
    }
    if (made_dir && !opt.keep) {
        std::error_code ec;
        fs::remove(dir, ec);
    }

    auto rate = [](const measurement& m) { return m.delivered_rate(); };
    auto mbps = [](const measurement& m) { return m.delivered_mbps(); };
    auto offered = [](const measurement& m) { return m.offered_rate(); };
    const double p = median_of(plain, rate);
    const double r = median_of(recording, rate);
    auto tx_cpu = [](const measurement& m) { return m.tx_cpu_ns(); };
    auto rx_cpu = [](const measurement& m) { return m.rx_cpu_ns(); };
    std::printf("\nmedians:\n%-12s %12s %14s %10s %16s %16s\n", "mode", "offered M/s",
                "delivered M/s", "MB/s", "tx cpu ns/dgram", "rx cpu ns/dgram");
    std::printf("%-12s %12.3f %14.3f %10.1f %16.0f %16.0f\n", "unmonitored",
                median_of(plain, offered) / 1e6, p / 1e6, median_of(plain, mbps),
                median_of(plain, tx_cpu), median_of(plain, rx_cpu));
    std::printf("%-12s %12.3f %14.3f %10.1f %16.0f %16.0f\n", "recording",
                median_of(recording, offered) / 1e6, r / 1e6, median_of(recording, mbps),
                median_of(recording, tx_cpu), median_of(recording, rx_cpu));
    if (opt.only.empty()) {
        const double pt = median_of(plain, tx_cpu), pr = median_of(plain, rx_cpu);
        std::printf("cpu per datagram, recording / unmonitored: sender %.3f, receiver %.3f\n",
                    pt > 0 ? median_of(recording, tx_cpu) / pt : 0.0,
                    pr > 0 ? median_of(recording, rx_cpu) / pr : 0.0);
    }
    if (!opt.only.empty()) return all_ok ? 0 : 1;
    const double ratio = p > 0 ? r / p : 0.0;
    std::printf("\nratio (delivered datagrams/s, medians, same run; goal ≥ 0.8):\n");
    std::printf("  recording / unmonitored = %.3f  %s\n", ratio, ratio >= 0.8 ? "(met)" : "(NOT met)");
    std::fflush(stdout);
    return all_ok ? 0 : 1;
}

}  // namespace

static int run(int argc, char** argv) {
    // Google Benchmark defaults for the micro part (the command line overrides them):
    // repetitions interleaved at random, medians reported.
    std::vector<char*> args;
    args.push_back(argv[0]);
    std::string reps = "--benchmark_repetitions=5";
    std::string interleave = "--benchmark_enable_random_interleaving=true";
    std::string aggregates = "--benchmark_report_aggregates_only=true";
    args.push_back(reps.data());
    args.push_back(interleave.data());
    args.push_back(aggregates.data());
    for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
    int bargc = static_cast<int>(args.size());
    args.push_back(nullptr);
    benchmark::Initialize(&bargc, args.data());

    options opt;
    CLI::App app{"What monitoring costs: null vs empty observer vs raw (micro), and recording to "
                 "pcapng vs unmonitored on loopback (issue #6). Google Benchmark flags "
                 "(--benchmark_*) apply to the micro part."};
    app.add_option("--part", opt.part, "all, micro or loopback")
        ->check(CLI::IsMember({"all", "micro", "loopback"}))
        ->capture_default_str();
    app.add_option("--seconds", opt.seconds, "loopback: measured window per run, s")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--warmup", opt.warmup, "loopback: excluded start of each run, s")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--window", opt.window, "loopback: credit pacing, datagrams in flight")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    app.add_option("--repeat", opt.repeat, "loopback: rounds (medians are reported)")
        ->check(CLI::Range(1, 50))
        ->capture_default_str();
    app.add_flag("--no-offload", opt.no_offload, "loopback: plain sendmmsg/recvmmsg (no GSO/GRO)");
    app.add_option("--dir", opt.dir, "loopback: directory for the captures (default: a new temp dir)");
    app.add_flag("--keep", opt.keep, "loopback: keep the captures and key logs");
    app.add_option("--capture-sink", opt.sink,
                   "loopback: file (in --dir) or devnull (isolates the file system's share)")
        ->check(CLI::IsMember({"file", "devnull"}))
        ->capture_default_str();
    app.add_option("--only", opt.only, "loopback: one mode alone (no ratio), e.g. to profile")
        ->check(CLI::IsMember({"unmonitored", "recording"}));
    try {
        app.parse(bargc, args.data());
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (sodium_init() < 0) return 1;
    ::signal(SIGPIPE, SIG_IGN);

    int rc = 0;
    if (opt.part != "loopback") rc |= run_micro();
    if (opt.part != "micro") rc |= run_loopback(opt);
    benchmark::Shutdown();
    return rc;
}

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "neutrino_bench_monitor: %s\n", e.what());
        return 1;
    }
}
