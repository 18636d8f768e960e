// neutrino-core-server: the reference's example server on neutrino-core.
//
// Every --interval it sends each established client the "multiply" request
// ["374", <int 1..99>, <float>] and checks the answer ["630", <product>]
// (spec neutrino.md §16.1). It exits 0 once --count correct answers arrived (or, with
// --count 0, when --duration ends), 1 otherwise.
//
// --wire both (default) serves wire v2 and v3 clients on one socket (core::dual_server, routed
// by each datagram's version byte); --wire v3 only Neutrino wire v3 (core::v3::server: Noise
// NK/IK, cookies under load, key update); --wire v2 only the reference's wire (what the Python
// client speaks). The same key pair serves either. run<Server>() below is instantiated once per
// stack.

#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <utility>

#include "../common.hpp"
#include "neutrino/core/dual_server.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/core/v3/server.hpp"
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
    std::string bind = "127.0.0.1:22753";
    std::string key_hex{nc::example_secret_key_hex};
    std::string wire = ex::default_server_wire;
    std::uint64_t count = 0;
    double duration = 0;
    int interval_ms = 2000;
    std::string log_level = "info";
    bool monitor = false;
    std::string monitor_filter;
    std::string pcap_path;
    std::string keylog_path;
};

// terminal (--monitor) + recording (--pcap, --keylog), below the server machine.
using observer_type = nm::fanout<nm::terminal_observer, nm::recording_observer>;

/// The machine of `--wire`, over `observer_type` (the dual server: v3 with default options).
template <class Server>
Server make_server(nc::server_config cfg, observer_type observer) {
    if constexpr (ex::dual_version_machine<Server>) {
        return Server(std::move(cfg), nc::v3::server_options{}, std::move(observer));
    } else {
        return Server(std::move(cfg), std::move(observer));
    }
}

/// Runs the server on the stack `Server` (a core server machine over `observer_type`, or the
/// dual-version server of two).
template <class Server>
int run(const options& o, nc::server_config cfg, const nm::terminal_options& monitor_options) {
    net::io_context ctx;
    // The observers are set per machine below: the terminal view needs the machine's wire
    // version, the recording observer the bound address, known once the endpoint exists.
    neutrino::io::basic_endpoint<Server> ep(
        ctx, ex::parse_endpoint(o.bind),
        make_server<Server>(std::move(cfg), observer_type(nm::terminal_observer(monitor_options),
                                                          nm::recording_observer(nullptr, {}))));
    ex::for_each_machine(ep.layer(), [&](auto& machine) {
        nm::terminal_options view = monitor_options;
        view.protocol =
            nm::neutrino_description(ex::wire_version_of<std::remove_cvref_t<decltype(machine)>>);
        machine.observer().template get<0>() = nm::terminal_observer(std::move(view));
    });
    if constexpr (ex::dual_version_machine<Server>) {
        // Each view counts time from its first event; start both now, so their times compare.
        const auto now = neutrino::clock::now();
        ex::for_each_machine(
            ep.layer(), [&](auto& machine) { machine.observer().template get<0>().tick(now); });
    }
    auto key_log = o.keylog_path.empty() ? nm::key_log_writer::from_environment()
                                         : std::make_shared<nm::key_log_writer>(o.keylog_path);
    if (!o.pcap_path.empty() || key_log) {
        nm::recording_options recording;
        recording.local = ep.local_address();  // a wildcard --bind records as 0.0.0.0 / ::
        recording.interface_name = "neutrino-core-server";
        recording.key_log = key_log;
        auto pcap = o.pcap_path.empty() ? nullptr : std::make_shared<nm::pcapng_writer>(o.pcap_path);
        // One recording observer, copied into each machine: one capture interface for the one
        // socket, one key log (a v3 handshake hash and the keys it labels are written in the
        // same call, so the machines cannot interleave between them).
        const nm::recording_observer recorder(std::move(pcap), std::move(recording));
        ex::for_each_machine(
            ep.layer(), [&](auto& machine) { machine.observer().template get<1>() = recorder; });
        if (!o.pcap_path.empty()) spdlog::info("recording every datagram to {}", o.pcap_path);
        if (key_log) spdlog::info("writing session keys to {}", o.keylog_path.empty() ? "$NEUTRINO_KEYLOGFILE" : o.keylog_path);
    }
    spdlog::info("listening on {} (wire {}, public key {})", o.bind, o.wire, nc::to_hex(ep.layer().configuration().keys.pk));

    std::mt19937_64 rng(std::random_device{}());
    std::map<std::uint64_t, double> expected;  // session id → product of its last request
    std::uint64_t correct = 0, wrong = 0;
    bool done = false;
    net::steady_timer tick(ctx);
    net::steady_timer limit(ctx);
    net::signal_set signals(ctx, SIGINT, SIGTERM);

    // Ends the run: SERVER_SHUTDOWN to every session, then nothing is left for ctx.run().
    auto finish = [&] {
        if (done) return;
        done = true;
        ep.layer().shutdown(neutrino::clock::now());
        ep.flush();
        ep.close();
        tick.cancel();
        limit.cancel();
        signals.cancel();
    };

    ep.set_event_handler([&](const nc::event& e) {
        switch (e.kind) {
            case nc::event_kind::established:
                spdlog::info("session {:016x} established from port {}", e.session_id, e.peer.port);
                break;
            case nc::event_kind::closed:
                spdlog::info("session {:016x} closed: {}", e.session_id, e.reason.message());
                expected.erase(e.session_id);
                break;
            case nc::event_kind::address_changed:
                spdlog::info("session {:016x} moved to port {}", e.session_id, e.peer.port);
                break;
            case nc::event_kind::data: {
                auto it = expected.find(e.session_id);
                if (e.words.size() == 2 && nc::as_string(e.words[0]) == "630" && it != expected.end()) {
                    auto got = ex::parse_number<double>(nc::as_string(e.words[1]));
                    if (got && std::abs(*got - it->second) <= 1e-9 * std::max(1.0, std::abs(it->second))) {
                        ++correct;
                        spdlog::info("session {:016x}: answer {} correct ({}/{})", e.session_id,
                                     nc::as_string(e.words[1]), correct, o.count);
                    } else {
                        ++wrong;
                        spdlog::warn("session {:016x}: wrong answer {}", e.session_id, nc::as_string(e.words[1]));
                    }
                    expected.erase(it);
                } else {
                    spdlog::info("session {:016x}: {} words", e.session_id, e.words.size());
                }
                if (o.count != 0 && correct >= o.count) net::post(ctx, finish);
                break;
            }
            default: break;
        }
    });

    // Every interval: a multiply request to every established session.
    std::function<void()> schedule = [&] {
        tick.expires_after(std::chrono::milliseconds(o.interval_ms));
        tick.async_wait([&](boost::system::error_code ec) {
            if (ec || done) return;
            std::uniform_int_distribution<int> n_dist(1, 99);
            std::uniform_real_distribution<double> f_dist(0.0, 100.0);
            const int n = n_dist(rng);
            const double f = f_dist(rng);
            const std::string n_text = std::to_string(n), f_text = fmt::format("{}", f);
            const auto words = nc::words("374", n_text, f_text);
            // The reference's client computes int(n) * float(f) in double precision.
            const double product = static_cast<double>(n) * *ex::parse_number<double>(f_text);
            const auto now = neutrino::clock::now();
            ep.layer().for_each_session([&](std::uint64_t id, nc::session_state s) {
                if (s != nc::session_state::established) return;
                if (ep.layer().send(id, words, now)) expected[id] = product;
            });
            ep.flush();
            schedule();
        });
    };
    schedule();

    signals.async_wait([&](boost::system::error_code ec, int) {
        if (!ec) spdlog::info("signal: shutting down");
        finish();
    });
    if (o.duration > 0) {
        limit.expires_after(std::chrono::duration_cast<neutrino::duration>(std::chrono::duration<double>(o.duration)));
        limit.async_wait([&](boost::system::error_code ec) {
            if (!ec) finish();
        });
    }
    ctx.run();
    spdlog::info("done: {} correct, {} wrong answers; {} datagrams dropped", correct, wrong,
                 ex::dropped_total(ep.layer()));
    if (wrong != 0) return 1;
    return o.count == 0 || correct >= o.count ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Neutrino basic example server (multiply protocol of the Python reference)"};
    options o;
    app.add_option("--bind", o.bind, "address:port to listen on")->capture_default_str();
    app.add_option("--key", o.key_hex, "server secret key, 64 hex characters (default: the reference's example key)");
    app.add_option("--wire", o.wire, ex::server_wire_help)->capture_default_str()->check(CLI::IsMember(ex::server_wire_versions));
    app.add_option("--count", o.count, "exit 0 after this many correct answers (0: run for --duration)")->capture_default_str();
    app.add_option("--duration", o.duration, "stop after this many seconds (0: until Ctrl-C)")->capture_default_str();
    app.add_option("--interval", o.interval_ms, "milliseconds between multiply requests")->capture_default_str()->check(CLI::Range(1, 3600000));
    app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error, off")->capture_default_str();
    app.add_flag("--monitor", o.monitor, "print one line per packet event and a summary per second (neutrino::monitor)");
    app.add_option("--monitor-filter", o.monitor_filter, "with --monitor: e.g. \"types=DATA events=send,recv session=<hex>\"");
    app.add_option("--pcap", o.pcap_path, "record every datagram this endpoint sends and receives to this pcapng file (neutrino::monitor)");
    app.add_option("--keylog", o.keylog_path, "append the sessions' keys to this NSS-style key log, for neutrino-monitor decrypt (default: $NEUTRINO_KEYLOGFILE when set)");
    CLI11_PARSE(app, argc, argv);

    try {
        ex::set_log_level(o.log_level);
        // With --monitor off the observer shows nothing (no event kinds, no summary). run() gives
        // each machine the description of its own wire version; the filter's type names are
        // read with v3's (a superset of v2's names).
        nm::terminal_options monitor_options;
        monitor_options.protocol =
            o.wire == "v2" ? &nm::neutrino_v2_description() : &nm::neutrino_v3_description();
        if (auto err = nm::apply_filter(o.monitor_filter, monitor_options); !err.empty()) {
            throw std::invalid_argument("--monitor-filter: " + err);
        }
        if (!o.monitor) monitor_options.events = 0;
        auto secret = nc::parse_key_hex(o.key_hex);
        if (!secret) throw std::invalid_argument("--key: " + secret.error().message());
        nc::server_config cfg;
        cfg.keys.sk = nc::secret_key(*secret);
        cfg.keys.pk = nc::public_key_of(cfg.keys.sk);
        if (nc::is_example_key(cfg.keys.pk)) {
            spdlog::warn("using the reference's publicly known example key pair: for tests only");
        }
        if (o.wire == "both") {
            return run<nc::basic_dual_server<nc::basic_server<nc::wire::v2, observer_type>,
                                             nc::v3::basic_server<observer_type>>>(o, std::move(cfg), monitor_options);
        }
        if (o.wire == "v3") return run<nc::v3::basic_server<observer_type>>(o, std::move(cfg), monitor_options);
        return run<nc::basic_server<nc::wire::v2, observer_type>>(o, std::move(cfg), monitor_options);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 2;
    }
}
