// neutrino-core-client: the reference's example client on neutrino-core.
//
// Dials the server, answers every multiply request ["374", n, f] with ["630", n*f]
// (spec neutrino.md §16.1), and exits 0 after --count answers (or, with --count 0, when
// --duration ends), sending CLIENT_GOOD_BYE first. Exit 1 if it never got there.
//
// --wire v3 (default) speaks Neutrino wire v3 (core::v3::client, Noise NK towards the server's
// static key); --wire v2 speaks the reference's wire (needed against the Python server). The
// program is the same for both: run<Client>() below is instantiated once per stack.

#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "../common.hpp"
#include "neutrino/core/client.hpp"
#include "neutrino/core/v3/client.hpp"
#include "neutrino/io/basic_endpoint.hpp"
#include "neutrino/monitor/describe.hpp"
#include "neutrino/monitor/fanout.hpp"
#include "neutrino/monitor/key_log.hpp"
#include "neutrino/monitor/pcapng_writer.hpp"
#include "neutrino/monitor/recording_observer.hpp"
#include "neutrino/monitor/terminal_observer.hpp"

namespace nc = neutrino::core;
namespace ex = neutrino::examples;
namespace net = neutrino::net;
namespace nm = neutrino::monitor;

namespace {

/// The command line.
struct options {
    std::string server = "127.0.0.1:22753";
    std::string bind = "0.0.0.0:0";
    std::string key_hex{nc::example_public_key_hex};
    std::string wire = ex::default_wire;
    std::uint64_t count = 0;
    double duration = 0;
    std::string log_level = "info";
    bool monitor = false;
    std::string monitor_filter;
    std::string pcap_path;
    std::string keylog_path;
};

// terminal (--monitor) + recording (--pcap, --keylog), below the client machine.
using observer_type = nm::fanout<nm::terminal_observer, nm::recording_observer>;

/// Runs the client on the stack `Client` (a core client machine over `observer_type`).
template <class Client>
int run(const options& o, const nc::client_config& cfg, const nm::terminal_options& monitor_options) {
    const auto server_endpoint = ex::parse_endpoint(o.server);
    net::io_context ctx;
    // The recording observer needs the bound address, known once the endpoint exists: a
    // placeholder (records nothing) until then.
    neutrino::io::basic_endpoint<Client> ep(
        ctx, ex::parse_endpoint(o.bind),
        Client(cfg, observer_type(nm::terminal_observer(monitor_options), nm::recording_observer(nullptr, {}))));
    auto key_log = o.keylog_path.empty() ? nm::key_log_writer::from_environment()
                                         : std::make_shared<nm::key_log_writer>(o.keylog_path);
    if (!o.pcap_path.empty() || key_log) {
        // With a wildcard --bind, record the source address the kernel picks towards the server.
        auto local = ep.local_endpoint();
        if (local.address().is_unspecified()) {
            net::ip::udp::socket probe(ctx, server_endpoint.protocol());
            boost::system::error_code ec;
            probe.connect(server_endpoint, ec);
            if (!ec) {
                auto routed = probe.local_endpoint(ec);
                if (!ec) local.address(routed.address());
            }
        }
        nm::recording_options recording;
        recording.local = neutrino::io::to_peer_address(local);
        recording.interface_name = "neutrino-core-client";
        recording.key_log = key_log;
        auto pcap = o.pcap_path.empty() ? nullptr : std::make_shared<nm::pcapng_writer>(o.pcap_path);
        ep.layer().observer().template get<1>() = nm::recording_observer(std::move(pcap), std::move(recording));
        if (!o.pcap_path.empty()) spdlog::info("recording every datagram to {}", o.pcap_path);
        if (key_log) spdlog::info("writing session keys to {}", o.keylog_path.empty() ? "$NEUTRINO_KEYLOGFILE" : o.keylog_path);
    }
    std::uint64_t answered = 0;
    bool done = false;
    net::steady_timer limit(ctx);
    net::signal_set signals(ctx, SIGINT, SIGTERM);

    auto finish = [&] {
        if (done) return;
        done = true;
        ep.layer().close(neutrino::clock::now());  // CLIENT_GOOD_BYE
        ep.flush();
        ep.close();
        limit.cancel();
        signals.cancel();
    };

    ep.set_event_handler([&](const nc::event& e) {
        switch (e.kind) {
            case nc::event_kind::connecting: spdlog::info("dialling {} (wire {})", o.server, o.wire); break;
            case nc::event_kind::established:
                spdlog::info("session {:016x} established", e.session_id);
                break;
            case nc::event_kind::server_shutdown: spdlog::info("server shut down; draining"); break;
            case nc::event_kind::closed:
                spdlog::info("session {:016x} closed: {}", e.session_id, e.reason.message());
                break;
            case nc::event_kind::data: {
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
                if (auto r = ep.layer().send(nc::words("630", product), neutrino::clock::now()); !r) {
                    spdlog::warn("answer not sent: {}", r.error().message());
                    break;
                }
                ++answered;
                spdlog::info("{} × {} = {} ({}/{})", *n, nc::as_string(e.words[2]), product, answered, o.count);
                if (o.count != 0 && answered >= o.count) {
                    net::post(ctx, finish);  // after this datagram's answer went out
                }
                break;
            }
            default: break;
        }
    });

    if (auto r = ep.layer().connect(neutrino::clock::now()); !r) {
        throw std::runtime_error("connect: " + r.error().message());
    }
    ep.flush();

    signals.async_wait([&](boost::system::error_code ec, int) {
        if (!ec) spdlog::info("signal: closing");
        finish();
    });
    if (o.duration > 0) {
        limit.expires_after(std::chrono::duration_cast<neutrino::duration>(std::chrono::duration<double>(o.duration)));
        limit.async_wait([&](boost::system::error_code ec) {
            if (!ec) finish();
        });
    }
    ctx.run();
    spdlog::info("done: {} requests answered", answered);
    return o.count == 0 || answered >= o.count ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Neutrino basic example client (multiply protocol of the Python reference)"};
    options o;
    app.add_option("--server", o.server, "server address:port")->capture_default_str();
    app.add_option("--bind", o.bind, "local address:port")->capture_default_str();
    app.add_option("--key", o.key_hex, "server public key, 64 hex characters (default: the reference's example key)");
    app.add_option("--wire", o.wire, ex::wire_help)->capture_default_str()->check(CLI::IsMember(ex::wire_versions));
    app.add_option("--count", o.count, "exit 0 after answering this many requests (0: run for --duration)")->capture_default_str();
    app.add_option("--duration", o.duration, "stop after this many seconds (0: until Ctrl-C)")->capture_default_str();
    app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error, off")->capture_default_str();
    app.add_flag("--monitor", o.monitor, "print one line per packet event and a summary per second (neutrino::monitor)");
    app.add_option("--monitor-filter", o.monitor_filter, "with --monitor: e.g. \"types=DATA events=send,recv session=<hex>\"");
    app.add_option("--pcap", o.pcap_path, "record every datagram this endpoint sends and receives to this pcapng file (neutrino::monitor)");
    app.add_option("--keylog", o.keylog_path, "append the sessions' keys to this NSS-style key log, for neutrino-monitor decrypt (default: $NEUTRINO_KEYLOGFILE when set)");
    CLI11_PARSE(app, argc, argv);

    try {
        ex::set_log_level(o.log_level);
        const bool v3 = o.wire == "v3";
        // With --monitor off the observer shows nothing (no event kinds, no summary).
        nm::terminal_options monitor_options;
        monitor_options.protocol = v3 ? &nm::neutrino_v3_description() : &nm::neutrino_v2_description();
        if (auto err = nm::apply_filter(o.monitor_filter, monitor_options); !err.empty()) {
            throw std::invalid_argument("--monitor-filter: " + err);
        }
        if (!o.monitor) monitor_options.events = 0;
        auto server_key = nc::parse_key_hex(o.key_hex);
        if (!server_key) throw std::invalid_argument("--key: " + server_key.error().message());
        nc::client_config cfg;
        cfg.server_key = *server_key;
        cfg.server = neutrino::io::to_peer_address(ex::parse_endpoint(o.server));
        if (nc::is_example_key(cfg.server_key)) {
            spdlog::warn("the server uses the reference's publicly known example key: for tests only");
        }
        if (v3) return run<nc::v3::basic_client<observer_type>>(o, cfg, monitor_options);
        return run<nc::basic_client<nc::wire::v2, observer_type>>(o, cfg, monitor_options);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 2;
    }
}
