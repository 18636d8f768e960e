// neutrino-reliable-client: the reference's Reliable example client on neutrino-reliable.
//
// Dials the server, answers every multiply request ["374", n, f] with ["630", n*f]
// (spec neutrino.md §16.1), and exits 0 after --count answers (or, with --count 0, when
// --duration ends), sending CLIENT_GOOD_BYE first. Exit 1 if it never got there.
//
// With --bulk N it sends N bytes instead (issue #4; the format is in examples/reliable/server.cpp):
// the announcement ["bulk", <seq 0>, "<N>"], then 1200-byte words (8-byte sequence number +
// 1192 bytes of the stream, byte i = i mod 251) as fast as the send window allows: a coroutine
// awaits `async_send` for each, which waits while the window is full.
// It exits 0 once the server confirmed ["bulk-ok", N, MB/s], printing the goodput.
//
// --monitor prints one line per packet event (neutrino::monitor::terminal_observer); --events FILE
// writes every packet event of this endpoint as JSON lines (neutrino::monitor::jsonl_observer),
// for `neutrino-monitor report FILE -o page.html`.
//
// --wire v3 (default) runs Reliable over Neutrino wire v3 (core::v3::client); --wire v2 over
// the reference's wire (needed against the Python server). run<Client>() below is instantiated
// once per stack.

#include <CLI/CLI.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "../common.hpp"
#include "../observe.hpp"
#include "neutrino/core/client.hpp"
#include "neutrino/core/v3/client.hpp"
#include "neutrino/io/endpoint.hpp"
#include "neutrino/monitor/describe.hpp"
#include "neutrino/monitor/fanout.hpp"
#include "neutrino/monitor/jsonl_observer.hpp"
#include "neutrino/monitor/terminal_observer.hpp"
#include "neutrino/reliable/client.hpp"

namespace nc = neutrino::core;
namespace nr = neutrino::reliable;
namespace ex = neutrino::examples;
namespace net = neutrino::net;
namespace nm = neutrino::monitor;

namespace {

using ex::events_observer;
using ex::observer_type;

constexpr std::size_t pattern_period = 251;
constexpr std::size_t max_content = 1200 - 8;  // a 1200-byte word: 8-byte sequence + content

void store_u64(std::byte* p, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<std::byte>((v >> (8 * i)) & 0xff);
}

/// The sending side of a bulk transfer.
class bulk_sender {
public:
    explicit bulk_sender(std::uint64_t total) : total_(total), chunk_(8 + max_content) {
        pattern_.resize(pattern_period + max_content);
        for (std::size_t i = 0; i < pattern_.size(); ++i) {
            pattern_[i] = static_cast<std::byte>(i % pattern_period);
        }
    }

    /// Sends the announcement and every chunk, each as soon as the layer has room
    /// (`async_send` waits while the send window is full); false on a hard error (logged).
    template <class Endpoint>
    net::awaitable<bool> send_all(Endpoint& ep) {
        boost::system::error_code ec;
        store_u64(chunk_.data(), 0);
        const std::string total_text = std::to_string(total_);
        const std::array<nc::word, 3> head{nc::as_word("bulk"), nc::word(chunk_.data(), 8), nc::as_word(total_text)};
        started_ = neutrino::clock::now();
        co_await ep.async_send(head, net::redirect_error(net::use_awaitable, ec));
        announced_ = true;
        ++messages_;
        while (!ec && offset_ < total_) {
            const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(total_ - offset_, max_content));
            store_u64(chunk_.data(), seq_);
            std::memcpy(chunk_.data() + 8, pattern_.data() + offset_ % pattern_period, n);
            const std::array<nc::word, 2> w{nc::as_word("bulk"), nc::word(chunk_.data(), 8 + n)};
            co_await ep.async_send(w, net::redirect_error(net::use_awaitable, ec));
            if (ec) break;
            offset_ += n;
            ++seq_;
            ++messages_;
        }
        if (ec) spdlog::error("bulk send: {}", ec.message());
        co_return !ec;
    }

    [[nodiscard]] bool all_sent() const noexcept { return announced_ && offset_ >= total_; }
    [[nodiscard]] std::uint64_t total() const noexcept { return total_; }
    [[nodiscard]] std::uint64_t sent() const noexcept { return offset_; }
    [[nodiscard]] std::uint64_t messages() const noexcept { return messages_; }
    [[nodiscard]] neutrino::time_point started() const noexcept { return started_; }

private:
    std::uint64_t total_;
    std::uint64_t offset_ = 0;
    std::uint64_t seq_ = 1;
    std::uint64_t messages_ = 0;
    bool announced_ = false;
    neutrino::time_point started_{};
    std::vector<std::byte> chunk_;
    std::vector<std::byte> pattern_;
};

}  // namespace

namespace {

/// The command line.
struct options {
    std::string server = "127.0.0.1:22753";
    std::string bind = "0.0.0.0:0";
    std::string key_hex{nc::example_public_key_hex};
    std::uint64_t count = 0;
    std::uint64_t bulk = 0;
    double duration = 0;
    double connect_timeout = 4;
    ex::observe_options observe;
    std::string wire = ex::default_wire;
};

/// Runs the client on the stack `Client`: a reliable client over a core client machine.
template <class Client>
int run(const options& o, const nc::client_config& cfg, const nm::terminal_options& monitor_options) {
    // The options under the names the code below uses.
    const std::string& server = o.server;
    const std::string& bind = o.bind;
    const std::uint64_t count = o.count;
    const std::uint64_t bulk = o.bulk;
    const double duration = o.duration;
    net::io_context ctx;
    neutrino::io::endpoint<Client> ep(ctx, ex::parse_endpoint(bind), Client(cfg, ex::placeholder_observer()));
    ex::observe_machines(ep.layer(), o.observe, monitor_options,
                         ex::recording_address(ep, ex::parse_endpoint(server), ctx), "neutrino-reliable-client");
    std::uint64_t answered = 0;
    bool done = false;
    bool bulk_confirmed = false;
    bool failed = false;
    ex::handshake_watch watch(ctx);  // says why, when no session is up after --connect-timeout
    bulk_sender sender(bulk);
    net::steady_timer limit(ctx);
    net::signal_set signals(ctx, SIGINT, SIGTERM);

    auto finish = [&] {
        if (done) return;
        done = true;
        ep.disconnect();  // CLIENT_GOOD_BYE, sent before the endpoint closes
        limit.cancel();
        signals.cancel();
        watch.cancel();
    };

    // Bulk: one coroutine hands every chunk to the layer; the driver resumes it whenever the
    // send window has room again.
    auto start_bulk = [&] {
        net::co_spawn(
            ctx,
            [&]() -> net::awaitable<void> {
                if (!co_await sender.send_all(ep)) {
                    failed = true;
                    finish();
                    co_return;
                }
                spdlog::info("bulk: {} bytes in {} messages handed to the layer ({} waited for room); "
                             "waiting for the server's check",
                             sender.sent(), sender.messages(), ep.counters().sends_waited);
            },
            net::detached);
    };

    ep.set_event_handler([&](const nc::event& e) {
        switch (e.kind) {
            case nc::event_kind::connecting: spdlog::info("dialling {} (wire {})", server, o.wire); break;
            case nc::event_kind::established:
                spdlog::info("session {:016x} established", e.session_id);
                watch.established();
                if (bulk != 0) start_bulk();
                break;
            case nc::event_kind::server_shutdown: spdlog::info("server shut down; draining"); break;
            case nc::event_kind::closed:
                spdlog::info("session {:016x} closed: {}", e.session_id, e.reason.message());
                if (bulk != 0 && !bulk_confirmed) {
                    spdlog::error("bulk: the session ended before the server confirmed the transfer");
                    failed = true;
                    net::post(ctx, finish);
                }
                break;
            case nc::event_kind::data: {
                if (bulk != 0) {
                    const auto first = e.words.empty() ? std::string_view{} : nc::as_string(e.words[0]);
                    if (first == "bulk-ok" && e.words.size() == 3) {
                        const auto bytes = ex::parse_number<std::uint64_t>(nc::as_string(e.words[1]));
                        const double secs =
                            std::chrono::duration<double>(neutrino::clock::now() - sender.started()).count();
                        const auto& st = ep.layer().stats();
                        bulk_confirmed = bytes && *bytes == bulk;
                        failed = !bulk_confirmed;
                        spdlog::info("bulk: server confirmed {} bytes (its rate {} MB/s); goodput {:.1f} MB/s "
                                     "over {:.3f} s; {} messages, {} keep-alives, {} requests received, {} "
                                     "retransmitted, {} probes, max buffered send {} / receive {}",
                                     nc::as_string(e.words[1]), nc::as_string(e.words[2]),
                                     secs > 0 ? static_cast<double>(bulk) / secs / 1e6 : 0.0, secs,
                                     sender.messages(), st.keep_alives_sent, st.requests_received,
                                     st.retransmitted, st.probes, st.max_send_buffered,
                                     st.max_receive_buffered);
                        net::post(ctx, finish);
                    } else if (first == "bulk-fail") {
                        spdlog::error("bulk: the server refused the transfer: {}",
                                      e.words.size() > 1 ? nc::as_string(e.words[1]) : "");
                        failed = true;
                        net::post(ctx, finish);
                    } else {
                        spdlog::debug("bulk mode: ignoring a message of {} words", e.words.size());
                    }
                    break;
                }
                if (e.words.size() != 3 || nc::as_string(e.words[0]) != "374") {
                    spdlog::info("data: {} words", e.words.size());
                    break;
                }
                auto n = ex::parse_number<long long>(nc::as_string(e.words[1]));
                auto f = ex::parse_number<double>(nc::as_string(e.words[2]));
                if (!n || !f) {
                    spdlog::warn("malformed multiply request");
                    break;
                }
                const std::string product = fmt::format("{}", static_cast<double>(*n) * *f);
                if (auto r = ep.layer().send(nc::words("630", product), ep.now()); !r) {
                    spdlog::warn("answer not sent: {}", r.error().message());
                    break;
                }
                ++answered;
                spdlog::info("{} × {} = {} ({})", *n, nc::as_string(e.words[2]), product,
                             ex::progress(answered, count, "answered"));
                if (count != 0 && answered >= count) {
                    net::post(ctx, finish);  // after this datagram's answer went out
                }
                break;
            }
            default: break;
        }
    });

    if (auto r = ep.layer().connect(ep.now()); !r) throw std::runtime_error("connect: " + r.error().message());
    watch.start(o.connect_timeout, o.server, o.wire);

    signals.async_wait([&](boost::system::error_code ec, int) {
        if (!ec) spdlog::info("signal: closing");
        finish();
    });
    if (duration > 0) {
        limit.expires_after(std::chrono::duration_cast<neutrino::duration>(std::chrono::duration<double>(duration)));
        limit.async_wait([&](boost::system::error_code ec) {
            if (!ec) finish();
        });
    }
    ctx.run();
    if (bulk != 0) {
        if (!bulk_confirmed) {
            const auto& st = ep.layer().stats();
            spdlog::error("bulk: not confirmed ({} of {} bytes handed to the layer); reliable: {} keep-alives, "
                          "{} requests received, {} ignored, {} retransmitted, {} probes, {} gave up",
                          sender.sent(), bulk, st.keep_alives_sent, st.requests_received, st.requests_ignored,
                          st.retransmitted, st.probes, st.gave_up);
        }
        return bulk_confirmed && !failed ? 0 : 1;
    }
    spdlog::info("done: {} multiply requests arrived and were answered", answered);
    return count == 0 || answered >= count ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Neutrino Reliable example client (multiply protocol of the Python reference, bulk transfer)"};
    options o;
    app.add_option("--server", o.server, "server address:port")->capture_default_str();
    app.add_option("--bind", o.bind, "local address:port")->capture_default_str();
    app.add_option("--key", o.key_hex, "server public key, 64 hex characters (default: the reference's example key)");
    app.add_option("--wire", o.wire, ex::wire_help)->capture_default_str()->check(CLI::IsMember(ex::wire_versions));
    app.add_option("--count", o.count, "exit 0 after answering this many requests (0: run for --duration)")->capture_default_str();
    app.add_option("--bulk", o.bulk, "send this many bytes (1200-byte words), wait for the server's check, exit (0: multiply mode)")
        ->capture_default_str();
    app.add_option("--duration", o.duration, "stop after this many seconds (0: until Ctrl-C)")->capture_default_str();
    app.add_option("--connect-timeout", o.connect_timeout,
                   "say what was tried and why it may fail when no session is up after this many seconds "
                   "(the client keeps dialling)")
        ->capture_default_str();
    ex::add_observe_options(app, o.observe);
    CLI11_PARSE(app, argc, argv);

    try {
        const auto monitor_options = ex::apply_observe_options(
            o.observe, o.wire == "v3" ? nm::neutrino_v3_description() : nm::neutrino_v2_description());
        auto server_key = nc::parse_key_hex(o.key_hex);
        if (!server_key) throw std::invalid_argument("--key: " + server_key.error().message());
        nc::client_config cfg;
        cfg.server_key = *server_key;
        cfg.server = neutrino::io::to_peer_address(ex::parse_endpoint(o.server));
        if (o.bulk != 0) cfg.reconnect = false;  // a transfer does not survive a new session
        if (nc::is_example_key(cfg.server_key)) {
            spdlog::warn("the server uses the reference's publicly known example key: for tests only");
        }
        if (o.wire == "v3") return run<nr::basic_client<nc::v3::basic_client<observer_type>>>(o, cfg, monitor_options);
        return run<nr::basic_client<nc::basic_client<nc::wire::v2, observer_type>>>(o, cfg, monitor_options);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 2;
    }
}
