// Loopback throughput of neutrino-core, process to process, against a raw reference measured in
// the same run (issue: "at least 0.6× the raw reference").
//
// Each measurement forks a receiver process (pinned to CPU 0) and a sender process (CPU 1):
//  - raw reference: the sender seals a 1200-byte payload with XChaCha20-Poly1305 (random nonce,
//    no protocol) straight into `udp_socket` send slots (sendmmsg, GSO when available); the
//    receiver `receive_batch`es (recvmmsg, GRO when available) and opens each datagram.
//  - neutrino-core: a `core::client` in a `basic_endpoint` sends DATA packets of one 1200-byte
//    word to a `core::server` in a `basic_endpoint`, which counts its `data` events.
// Goodput is measured at the receiver over a steady window (after `--warmup`), in datagrams/s and
// MB/s of payload; the sender's offered rate is measured over its own window. Every socket
// strategy (GSO+GRO when the kernel has them, plain sendmmsg/recvmmsg) gets its own pair and
// ratio. Children report through pipes, are bounded in time and are killed on a timeout.
//
// Not a Google Benchmark program: the two sides are separate processes.

#include <poll.h>
#include <sched.h>
#include <sodium.h>
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
#include <cmath>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "neutrino/core/client.hpp"
#include "neutrino/core/crypto.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/io/asio.hpp"
#include "neutrino/io/basic_endpoint.hpp"
#include "neutrino/io/udp_socket.hpp"
#include "neutrino/random.hpp"
#include "child_process.hpp"

namespace {

using namespace neutrino::bench;  // child_process.hpp: spawn, reap, read_all, median …
namespace nc = neutrino::core;
namespace nio = neutrino::io;
namespace net = neutrino::net;
using neutrino::clock;
using neutrino::time_point;
using fseconds = std::chrono::duration<double>;

constexpr std::size_t payload_size = 1200;  ///< application bytes per datagram, both stacks
constexpr std::size_t raw_nonce_size = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t raw_tag_size = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr std::size_t raw_datagram_size = raw_nonce_size + payload_size + raw_tag_size;  // 1240
/// One word of 1200 bytes: 14 clear + 24 nonce + 12 protected + 3 framing + 1200 + 16 tag.
constexpr std::size_t neutrino_datagram_size =
    nc::clear_header_size + nc::wire::v2::overhead + nc::protected_header_size + 3 + payload_size;
/// Datagrams the raw sender seals per loop turn: the client's default send queue, so both
/// senders hand the socket the same bursts (two sendmmsg calls of 32).
constexpr std::size_t raw_burst = 64;

struct options {
    double seconds = 3.0;
    double warmup = 0.3;
    std::string pacing = "credit";  ///< credit | rate | none
    double rate = 0.0;              ///< --pacing rate: offered datagrams/s per sender
    std::uint64_t window = 1024;    ///< --pacing credit: datagrams in flight at most
    bool offload_only = false;
    bool no_offload = false;
    int repeat = 1;
    std::size_t server_events = 0;  ///< server event queue capacity; 0: library default
    std::string stacks = "both";    ///< both | raw | neutrino (one side alone, e.g. to profile)
    std::string json;
};

enum class stack_kind : std::uint8_t { raw, neutrino };

const char* name_of(stack_kind s) { return s == stack_kind::raw ? "raw" : "neutrino"; }

// ---- reports, sent through pipes as plain bytes (same binary on both ends) --------------------

struct receiver_report {
    int ok = 0;
    std::array<char, 120> error{};
    std::uint64_t window_datagrams = 0;  ///< delivered (decrypted / data events) in the window
    std::uint64_t window_bytes = 0;      ///< their payload bytes
    double window_seconds = 0;
    std::uint64_t delivered_total = 0;
    std::uint64_t datagrams_in = 0;    ///< handed up by the socket
    std::uint64_t rejected = 0;        ///< raw: failed to open; neutrino: handle_datagram errors
    std::uint64_t events_dropped = 0;  ///< neutrino: data events lost to a full event queue
    std::uint64_t stale = 0;  ///< deliveries whose payload repeated the previous one's sequence
    std::uint64_t receive_calls = 0;
    std::uint64_t gro_buffers = 0;
    std::uint64_t wakeups = 0;
    int gro = 0;
    int pinned = 0;
};

struct sender_report {
    int ok = 0;
    std::array<char, 120> error{};
    std::uint64_t window_datagrams = 0;  ///< datagrams handed to the stack in the window
    double window_seconds = 0;
    std::uint64_t sent_total = 0;
    std::uint64_t datagrams_out = 0;  ///< accepted by the kernel
    std::uint64_t send_calls = 0;
    std::uint64_t gso_messages = 0;
    std::uint64_t gso_fallbacks = 0;
    std::uint64_t send_dropped = 0;
    std::uint64_t queue_full = 0;     ///< neutrino: client.send → would_block
    std::uint64_t send_errors = 0;    ///< neutrino: any other send error (e.g. not_connected)
    std::uint64_t sessions_lost = 0;  ///< neutrino: closed events during the run
    std::uint64_t credit_stalls = 0;  ///< credit pacing: windows written off (5 ms, no progress)
    double handshake_ms = 0;
    int gso = 0;
    int pinned = 0;
};

nio::udp_socket_options socket_options(bool offload) {
    nio::udp_socket_options o;
    o.gso = offload;
    o.gro = offload;
    return o;
}

const net::ip::udp::endpoint loopback_any{net::ip::address_v4::loopback(), 0};

/// The key of the raw reference (both processes derive the same one).
std::array<unsigned char, crypto_aead_xchacha20poly1305_ietf_KEYBYTES> raw_key() {
    std::array<unsigned char, crypto_aead_xchacha20poly1305_ietf_KEYBYTES> k{};
    for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<unsigned char>(i * 7 + 1);
    return k;
}

/// Counts deliveries and keeps those inside the steady window: from the first delivery plus
/// `--warmup`, for `--seconds`.
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
    /// True once a delivery at or after the window's end was seen, or the window's end passed.
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

/// The receiver's running count of delivered datagrams, in an anonymous shared mapping made
/// before the fork: the sender's credit pacing reads it. A plain relaxed atomic; no system call.
struct shared_progress {
    std::atomic<std::uint64_t> delivered{0};
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

/// How many datagrams a sender may hand over now.
///  - credit (default): at most `--window` datagrams in flight, counted against the receiver's
///    delivered count, so the sender runs exactly as fast as the receiver consumes and the
///    socket buffer never overflows. In-flight datagrams that make no progress for 5 ms (lost,
///    or dropped above the socket) are written off.
///  - rate: a token bucket of `--rate` datagrams/s holding at most one burst.
///  - none: unpaced (the caller's own burst limit only).
class pacer {
public:
    pacer(const options& opt, std::size_t burst, const shared_progress* progress)
        : mode_(opt.pacing),
          rate_(opt.rate),
          window_(opt.window),
          burst_(static_cast<double>(burst)),
          progress_(progress) {}

    std::size_t budget(time_point now) noexcept {
        if (mode_ == "rate") {
            if (!started_) {
                started_ = true;
                last_ = now;
                tokens_ = burst_;
            }
            tokens_ = std::min(burst_, tokens_ + rate_ * fseconds(now - last_).count());
            last_ = now;
            return static_cast<std::size_t>(tokens_);
        }
        if (mode_ == "credit") {
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
        return std::numeric_limits<std::size_t>::max();
    }
    void consume(std::size_t n) noexcept {
        tokens_ -= static_cast<double>(n);
        sent_ += n;
    }
    [[nodiscard]] std::uint64_t stalls() const noexcept { return stalls_; }

private:
    std::string mode_;
    double rate_;
    std::uint64_t window_;
    double burst_;
    const shared_progress* progress_;
    bool started_ = false;
    time_point last_{};
    double tokens_ = 0;
    std::uint64_t sent_ = 0;
    std::uint64_t seen_ = 0;
    std::uint64_t written_off_ = 0;
    std::uint64_t stalls_ = 0;
};

/// The sequence number the senders write at the front of each payload; the receivers check
/// that consecutive deliveries differ (a repeat means a stale view of the machine's buffer).
class sequence_check {
public:
    void check(std::span<const std::byte> payload, std::uint64_t& stale) noexcept {
        if (payload.size() < 8) return;
        std::uint64_t v = 0;
        std::memcpy(&v, payload.data(), sizeof v);
        if (any_ && v == last_) ++stale;
        any_ = true;
        last_ = v;
    }

private:
    bool any_ = false;
    std::uint64_t last_ = 0;
};

// ---- the raw reference --------------------------------------------------------------------

void raw_receiver(const options& opt, bool offload, int fd, shared_progress& progress,
                  receiver_report& rep) {
    net::io_context ctx;
    nio::udp_socket sock(ctx, loopback_any, socket_options(offload));
    const std::uint16_t port = sock.local_endpoint().port();
    if (!write_all(fd, &port, sizeof port)) return copy_error(rep, "cannot report the port");
    rep.gro = sock.gro_enabled() ? 1 : 0;

    const auto key = raw_key();
    std::array<unsigned char, payload_size + 64> plain{};
    window_meter meter(opt);
    sequence_check sequence;
    const time_point give_up = clock::now() + std::chrono::seconds(15);
    while (!meter.done(clock::now())) {
        boost::system::error_code ec;
        sock.receive_batch(
            [&](std::span<const std::byte> d, const neutrino::peer_address&) {
                unsigned long long n = 0;
                const auto* c = reinterpret_cast<const unsigned char*>(d.data());
                if (d.size() < raw_nonce_size + raw_tag_size || d.size() > raw_datagram_size ||
                    crypto_aead_xchacha20poly1305_ietf_decrypt(
                        plain.data(), &n, nullptr, c + raw_nonce_size, d.size() - raw_nonce_size,
                        nullptr, 0, c, key.data()) != 0) {
                    ++rep.rejected;
                    return;
                }
                sequence.check(std::as_bytes(std::span(plain.data(), n)), rep.stale);
                meter.add(1, clock::now(), n);
                progress.delivered.store(meter.total(), std::memory_order_relaxed);
            },
            ec);
        if (ec == net::error::would_block) {
            if (clock::now() > give_up && !meter.started())
                return copy_error(rep, "no data arrived");
            ::pollfd pfd{sock.next_layer().native_handle(), POLLIN, 0};
            (void)::poll(&pfd, 1, 20);
        } else if (ec) {
            return copy_error(rep, "fatal receive error");
        }
    }
    const auto& c = sock.counters();
    rep.window_datagrams = meter.window_datagrams();
    rep.window_bytes = meter.window_bytes();
    rep.window_seconds = meter.window_seconds();
    rep.delivered_total = meter.total();
    rep.datagrams_in = c.datagrams_in;
    rep.receive_calls = c.receive_calls;
    rep.gro_buffers = c.gro_buffers;
    rep.ok = 1;
}

void raw_sender(const options& opt, bool offload, std::uint16_t port,
                const shared_progress& progress, sender_report& rep) {
    net::io_context ctx;
    nio::udp_socket sock(ctx, loopback_any, socket_options(offload));
    rep.gso = sock.gso_enabled() ? 1 : 0;
    const auto to = neutrino::peer_address::v4({127, 0, 0, 1}, port);
    const auto key = raw_key();
    std::vector<unsigned char> plain(payload_size, 0x5a);
    neutrino::system_random random;  // the nonce source neutrino-core uses, for a like cost
    pacer pace(opt, raw_burst, &progress);
    std::uint64_t sequence = 0;
    std::uint64_t stalls_in_window = 0;  // the receiver leaves at its window's end
    window_meter meter(opt);
    const auto tail = std::chrono::milliseconds(500);

    for (;;) {
        const time_point now = clock::now();
        if (meter.started() && now >= meter.end() + tail) break;
        const std::size_t budget = std::min(raw_burst, pace.budget(now));
        if (!meter.started() || now < meter.end()) stalls_in_window = pace.stalls();
        std::size_t n = 0;
        for (; n < budget; ++n) {
            ++sequence;
            std::memcpy(plain.data(), &sequence, sizeof sequence);
            std::span<std::byte> slot = sock.prepare_send();
            if (slot.empty()) {
                (void)sock.flush_sends();
                slot = sock.prepare_send();
            }
            random.fill(slot.first(raw_nonce_size));
            auto* s = reinterpret_cast<unsigned char*>(slot.data());
            unsigned long long clen = 0;
            crypto_aead_xchacha20poly1305_ietf_encrypt(s + raw_nonce_size, &clen, plain.data(),
                                                       plain.size(), nullptr, 0, nullptr, s,
                                                       key.data());
            sock.commit_send(raw_nonce_size + clen, to);
        }
        if (auto ec = sock.flush_sends()) return copy_error(rep, "fatal send error");
        pace.consume(n);
        if (n > 0) meter.add(n, now, n * payload_size);
    }
    const auto& c = sock.counters();
    rep.window_datagrams = meter.window_datagrams();
    rep.window_seconds = meter.window_seconds();
    rep.sent_total = meter.total();
    rep.datagrams_out = c.datagrams_out;
    rep.send_calls = c.send_calls;
    rep.gso_messages = c.gso_messages;
    rep.gso_fallbacks = c.gso_fallbacks;
    rep.send_dropped = c.send_dropped;
    rep.gso = sock.gso_enabled() ? 1 : 0;
    rep.credit_stalls = stalls_in_window;
    rep.ok = 1;
}

// ---- neutrino-core through the Asio driver -----------------------------------------------

nio::endpoint_options endpoint_options(bool offload) {
    nio::endpoint_options o;
    o.socket = socket_options(offload);
    return o;
}

void neutrino_receiver(const options& opt, bool offload, int fd, shared_progress& progress,
                       receiver_report& rep) {
    net::io_context ctx;
    nc::server_config cfg;
    auto keys = nc::keypair_from_hex(nc::example_public_key_hex, nc::example_secret_key_hex);
    if (!keys) return copy_error(rep, "bad example key");
    cfg.keys = *keys;
    if (opt.server_events != 0) cfg.event_queue_capacity = opt.server_events;
    nio::basic_endpoint<nc::server> ep(ctx, loopback_any, nc::server(std::move(cfg)),
                                       endpoint_options(offload));
    const std::uint16_t port = ep.local_endpoint().port();
    if (!write_all(fd, &port, sizeof port)) return copy_error(rep, "cannot report the port");
    rep.gro = ep.socket().gro_enabled() ? 1 : 0;

    window_meter meter(opt);
    sequence_check sequence;
    ep.set_event_handler([&](const nc::event& e) {
        if (e.kind != nc::event_kind::data) return;
        std::uint64_t bytes = 0;
        for (const nc::word w : e.words) bytes += w.size();
        if (!e.words.empty()) sequence.check(e.words[0], rep.stale);
        meter.add(1, clock::now(), bytes);
        progress.delivered.store(meter.total(), std::memory_order_relaxed);
    });
    const time_point give_up = clock::now() + std::chrono::seconds(15);
    while (!meter.done(clock::now())) {
        ctx.run_one_for(std::chrono::milliseconds(20));
        if (!meter.started() && clock::now() > give_up) return copy_error(rep, "no data arrived");
        if (!ep.is_open() || ep.last_error()) return copy_error(rep, "endpoint failed");
    }
    const auto& st = ep.layer().stats();
    const auto& c = ep.socket().counters();
    rep.window_datagrams = meter.window_datagrams();
    rep.window_bytes = meter.window_bytes();
    rep.window_seconds = meter.window_seconds();
    rep.delivered_total = meter.total();
    rep.datagrams_in = c.datagrams_in;
    rep.rejected = ep.counters().datagrams_rejected;
    rep.events_dropped = st.events_dropped;
    rep.receive_calls = c.receive_calls;
    rep.gro_buffers = c.gro_buffers;
    rep.wakeups = ep.counters().wakeups;
    rep.ok = 1;
}

void neutrino_sender(const options& opt, bool offload, std::uint16_t port,
                     const shared_progress& progress, sender_report& rep) {
    net::io_context ctx;
    auto keys = nc::keypair_from_hex(nc::example_public_key_hex, nc::example_secret_key_hex);
    if (!keys) return copy_error(rep, "bad example key");
    nc::client_config cfg;
    cfg.server_key = keys->pk;
    cfg.server = neutrino::peer_address::v4({127, 0, 0, 1}, port);
    const std::size_t burst = cfg.send_queue_capacity;
    nio::basic_endpoint<nc::client> ep(ctx, loopback_any, nc::client(cfg),
                                       endpoint_options(offload));
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
    rep.handshake_ms = std::chrono::duration<double, std::milli>(clock::now() - dial).count();

    std::vector<std::byte> payload(payload_size, std::byte{0x5a});
    const nc::word w(payload);
    const std::error_code would_block = nc::make_error_code(nc::errc::would_block);
    pacer pace(opt, burst, &progress);
    std::uint64_t sequence = 0;
    std::uint64_t stalls_in_window = 0;  // the receiver leaves at its window's end
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
    const auto& c = ep.socket().counters();
    rep.window_datagrams = meter.window_datagrams();
    rep.window_seconds = meter.window_seconds();
    rep.sent_total = meter.total();
    rep.datagrams_out = c.datagrams_out;
    rep.send_calls = c.send_calls;
    rep.gso_messages = c.gso_messages;
    rep.gso_fallbacks = c.gso_fallbacks;
    rep.send_dropped = c.send_dropped;
    rep.gso = ep.socket().gso_enabled() ? 1 : 0;
    rep.credit_stalls = stalls_in_window;
    rep.ok = 1;
}

// ---- process control ------------------------------------------------------------------------

struct measurement {
    stack_kind stack = stack_kind::raw;
    bool offload = false;
    bool ok = false;
    double warmup = 0;
    std::string error;
    receiver_report rx;
    sender_report tx;

    [[nodiscard]] double delivered_rate() const {
        return rx.window_seconds > 0 ? static_cast<double>(rx.window_datagrams) / rx.window_seconds
                                     : 0;
    }
    [[nodiscard]] double delivered_mbps() const {
        return rx.window_seconds > 0
                   ? static_cast<double>(rx.window_bytes) / rx.window_seconds / 1e6
                   : 0;
    }
    [[nodiscard]] double offered_rate() const {
        return tx.window_seconds > 0 ? static_cast<double>(tx.window_datagrams) / tx.window_seconds
                                     : 0;
    }
    /// A whole-run receiver counter per second of the receiver's run (warm-up + window).
    [[nodiscard]] double per_run_second(std::uint64_t n) const {
        const double t = rx.window_seconds + warmup;
        return t > 0 ? static_cast<double>(n) / t : 0;
    }
    /// Fraction of the offered rate that was not delivered (steady windows).
    [[nodiscard]] double loss() const {
        const double offered = offered_rate();
        return offered > 0 ? std::max(0.0, 1.0 - delivered_rate() / offered) : 0;
    }
};

measurement measure(const options& opt, stack_kind stack, bool offload) {
    measurement m;
    m.stack = stack;
    m.offload = offload;
    m.warmup = opt.warmup;
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
        if (stack == stack_kind::raw) {
            raw_receiver(opt, offload, rx_pipe[1], *progress, rep);
        } else {
            neutrino_receiver(opt, offload, rx_pipe[1], *progress, rep);
        }
    });
    ::close(rx_pipe[1]);
    const time_point start = clock::now();
    const auto budget =
        std::chrono::duration_cast<clock::duration>(fseconds(opt.warmup + opt.seconds + 20.0));
    const time_point deadline = start + budget;

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
            if (stack == stack_kind::raw) {
                raw_sender(opt, offload, port, *progress, rep);
            } else {
                neutrino_sender(opt, offload, port, *progress, rep);
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
        } else {
            m.ok = true;
        }
    }
    ::close(rx_pipe[0]);
    // The sender stops 0.5 s after its window; anything still alive after that is killed.
    const time_point reap_by = std::min(deadline, clock::now() + std::chrono::seconds(3));
    reap(tx_pid, reap_by);
    reap(rx_pid, reap_by);
    progress->~shared_progress();
    ::munmap(mapping, sizeof(shared_progress));
    return m;
}

struct row {
    stack_kind stack;
    bool offload;
    std::vector<measurement> runs;

    template <class F>
    [[nodiscard]] double med(F f) const {
        std::vector<double> v;
        for (const auto& m : runs) {
            if (m.ok) v.push_back(f(m));
        }
        return median(v);
    }
    [[nodiscard]] std::size_t ok_runs() const {
        return static_cast<std::size_t>(
            std::count_if(runs.begin(), runs.end(), [](const auto& m) { return m.ok; }));
    }
};

const char* strategy_name(bool offload) { return offload ? "gso+gro" : "mmsg"; }

void print_run(const measurement& m) {
    if (!m.ok) {
        std::printf("  %-8s %-9s FAILED: %s\n", strategy_name(m.offload), name_of(m.stack),
                    m.error.c_str());
        return;
    }
    std::printf(
        "  %-8s %-9s offered %7.3f M/s  delivered %7.3f M/s  %7.1f MB/s  loss %5.1f%%  "
        "[gso %d gro %d pinned %d/%d; tx calls %llu gso-msgs %llu; rx calls %llu gro-bufs %llu "
        "rejected %llu events-dropped %llu stale %llu; queue-full %llu send-errors %llu "
        "sessions-lost %llu credit-stalls %llu]\n",
        strategy_name(m.offload), name_of(m.stack), m.offered_rate() / 1e6,
        m.delivered_rate() / 1e6, m.delivered_mbps(), 100 * m.loss(), m.tx.gso, m.rx.gro,
        m.tx.pinned, m.rx.pinned, static_cast<unsigned long long>(m.tx.send_calls),
        static_cast<unsigned long long>(m.tx.gso_messages),
        static_cast<unsigned long long>(m.rx.receive_calls),
        static_cast<unsigned long long>(m.rx.gro_buffers),
        static_cast<unsigned long long>(m.rx.rejected),
        static_cast<unsigned long long>(m.rx.events_dropped),
        static_cast<unsigned long long>(m.rx.stale),
        static_cast<unsigned long long>(m.tx.queue_full),
        static_cast<unsigned long long>(m.tx.send_errors),
        static_cast<unsigned long long>(m.tx.sessions_lost),
        static_cast<unsigned long long>(m.tx.credit_stalls));
    std::fflush(stdout);
}

void write_json(const options& opt, const std::vector<row>& rows, const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) {
        std::fprintf(stderr, "cannot write %s\n", path.c_str());
        return;
    }
    std::fprintf(f,
                 "{\n  \"payload_size\": %zu,\n  \"raw_datagram_size\": %zu,\n"
                 "  \"neutrino_datagram_size\": %zu,\n  \"seconds\": %g,\n  \"warmup\": %g,\n"
                 "  \"pacing\": \"%s\",\n  \"rate\": %g,\n  \"window\": %llu,\n  \"repeat\": %d,\n "
                 " \"results\": [",
                 payload_size, raw_datagram_size, neutrino_datagram_size, opt.seconds, opt.warmup,
                 opt.pacing.c_str(), opt.rate, static_cast<unsigned long long>(opt.window),
                 opt.repeat);
    bool first = true;
    for (const row& r : rows) {
        const auto* any = r.runs.empty() ? nullptr : &r.runs.front();
        std::fprintf(
            f,
            "%s\n    {\"strategy\": \"%s\", \"stack\": \"%s\", \"runs_ok\": %zu, "
            "\"gso\": %d, \"gro\": %d, "
            "\"offered_datagrams_per_s\": %.0f, \"delivered_datagrams_per_s\": %.0f, "
            "\"delivered_MB_per_s\": %.2f, \"loss\": %.4f, "
            "\"events_dropped_per_s\": %.0f, \"stale_per_s\": %.0f}",
            first ? "" : ",", strategy_name(r.offload), name_of(r.stack), r.ok_runs(),
            any != nullptr ? any->tx.gso : 0, any != nullptr ? any->rx.gro : 0,
            r.med([](const measurement& m) { return m.offered_rate(); }),
            r.med([](const measurement& m) { return m.delivered_rate(); }),
            r.med([](const measurement& m) { return m.delivered_mbps(); }),
            r.med([](const measurement& m) { return m.loss(); }),
            r.med([](const measurement& m) { return m.per_run_second(m.rx.events_dropped); }),
            r.med([](const measurement& m) { return m.per_run_second(m.rx.stale); }));
        first = false;
    }
    std::fprintf(f, "\n  ],\n  \"ratios\": {");
    first = true;
    for (const row& n : rows) {
        if (n.stack != stack_kind::neutrino) continue;
        for (const row& r : rows) {
            if (r.stack != stack_kind::raw || r.offload != n.offload) continue;
            const double ref = r.med([](const measurement& m) { return m.delivered_rate(); });
            const double got = n.med([](const measurement& m) { return m.delivered_rate(); });
            std::fprintf(f, "%s\n    \"%s\": %.3f", first ? "" : ",", strategy_name(n.offload),
                         ref > 0 ? got / ref : 0.0);
            first = false;
        }
    }
    std::fprintf(f, "\n  }\n}\n");
    std::fclose(f);
}

}  // namespace

static int run(int argc, char** argv) {
    options opt;
    CLI::App app{"neutrino-core loopback throughput against a raw XChaCha20-Poly1305 reference"};
    app.add_option("--seconds", opt.seconds, "measured window per measurement, s")
        ->check(CLI::PositiveNumber);
    app.add_option("--warmup", opt.warmup, "excluded start of each measurement, s")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--pacing", opt.pacing,
                   "credit: at most --window datagrams in flight against the receiver's count; "
                   "rate: token bucket at --rate; none: unpaced")
        ->check(CLI::IsMember({"credit", "rate", "none"}));
    app.add_option("--rate", opt.rate, "--pacing rate: datagrams/s per sender")
        ->check(CLI::PositiveNumber);
    app.add_option("--window", opt.window, "--pacing credit: datagrams in flight")
        ->check(CLI::Range(1, 100000));
    app.add_flag("--no-offload", opt.no_offload,
                 "only the plain sendmmsg/recvmmsg pair (GSO/GRO off)");
    app.add_flag("--offload-only", opt.offload_only, "only the GSO/GRO pair");
    app.add_option("--repeat", opt.repeat,
                   "rounds (raw and neutrino alternate); medians are reported")
        ->check(CLI::Range(1, 50));
    app.add_option("--server-events", opt.server_events,
                   "server event queue capacity (0: the library default)");
    app.add_option("--stack", opt.stacks, "both, or only one stack (no ratio), e.g. to profile")
        ->check(CLI::IsMember({"both", "raw", "neutrino"}));
    app.add_option("--json", opt.json, "also write the figures to this JSON file");
    CLI11_PARSE(app, argc, argv);
    if (opt.no_offload && opt.offload_only) {
        std::fprintf(stderr, "--no-offload and --offload-only exclude each other\n");
        return 2;
    }
    if (sodium_init() < 0) return 1;
    ::signal(SIGPIPE, SIG_IGN);

    std::vector<bool> strategies;
    if (!opt.no_offload) strategies.push_back(true);
    if (!opt.offload_only) strategies.push_back(false);

    if (opt.pacing == "rate" && opt.rate <= 0) {
        std::fprintf(stderr, "--pacing rate needs --rate\n");
        return 2;
    }
    const std::string pacing_text =
        opt.pacing == "credit"
            ? "credit pacing, " + std::to_string(opt.window) + " datagrams in flight"
        : opt.pacing == "rate"
            ? "paced at " + std::to_string(static_cast<long>(opt.rate)) + " datagrams/s"
            : std::string("unpaced");
    std::printf(
        "payload %zu B per datagram (raw datagram %zu B, neutrino datagram %zu B); "
        "window %.1f s after %.1f s warm-up; %s; %d round(s)\n",
        payload_size, raw_datagram_size, neutrino_datagram_size, opt.seconds, opt.warmup,
        pacing_text.c_str(), opt.repeat);
    std::vector<row> rows;
    for (const bool offload : strategies) {
        if (opt.stacks != "neutrino") rows.push_back({stack_kind::raw, offload, {}});
        if (opt.stacks != "raw") rows.push_back({stack_kind::neutrino, offload, {}});
    }
    bool all_ok = true;
    for (int round = 0; round < opt.repeat; ++round) {
        for (row& r : rows) {
            r.runs.push_back(measure(opt, r.stack, r.offload));
            all_ok = all_ok && r.runs.back().ok;
            print_run(r.runs.back());
        }
    }

    std::printf("\n%-8s %-9s %12s %14s %10s %7s\n", "sockets", "stack", "offered M/s",
                "delivered M/s", "MB/s", "loss");
    for (const row& r : rows) {
        std::printf("%-8s %-9s %12.3f %14.3f %10.1f %6.1f%%\n", strategy_name(r.offload),
                    name_of(r.stack),
                    r.med([](const measurement& m) { return m.offered_rate(); }) / 1e6,
                    r.med([](const measurement& m) { return m.delivered_rate(); }) / 1e6,
                    r.med([](const measurement& m) { return m.delivered_mbps(); }),
                    100 * r.med([](const measurement& m) { return m.loss(); }));
    }
    if (opt.stacks == "both")
        std::printf("\nratios (delivered datagrams/s, same run; goal ≥ 0.6):\n");
    for (const bool offload : strategies) {
        if (opt.stacks != "both") break;
        double raw = 0;
        double neu = 0;
        for (const row& r : rows) {
            if (r.offload != offload) continue;
            const double v = r.med([](const measurement& m) { return m.delivered_rate(); });
            (r.stack == stack_kind::raw ? raw : neu) = v;
        }
        std::printf("  %-8s neutrino / raw = %.3f\n", strategy_name(offload),
                    raw > 0 ? neu / raw : 0.0);
    }
    if (!opt.json.empty()) write_json(opt, rows, opt.json);
    return all_ok ? 0 : 1;
}

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "neutrino_bench_throughput: %s\n", e.what());
        return 1;
    }
}
