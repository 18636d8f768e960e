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
#include "../observe.hpp"
#include "neutrino/core/dual_server.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/core/v3/server.hpp"
#include "neutrino/io/endpoint.hpp"
#include "neutrino/monitor/describe.hpp"

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
    ex::observe_options observe;
};

using ex::observer_type;

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
    neutrino::io::endpoint<Server> ep(ctx, ex::parse_endpoint(o.bind),
                                            make_server<Server>(std::move(cfg), ex::placeholder_observer()));
    // a wildcard --bind records as 0.0.0.0 / ::
    ex::observe_machines(ep.layer(), o.observe, monitor_options, ep.local_address(), "neutrino-core-server");
    spdlog::info("listening on {} (wire {}, public key {})", o.bind, o.wire, neutrino::to_hex(ep.layer().configuration().keys.pk));

    std::mt19937_64 rng(std::random_device{}());
    std::map<std::uint64_t, double> expected;  // session id → product of its last request
    std::uint64_t correct = 0, wrong = 0, requests = 0;
    bool done = false;
    net::steady_timer tick(ctx);
    net::steady_timer limit(ctx);
    net::signal_set signals(ctx, SIGINT, SIGTERM);

    // Ends the run: SERVER_SHUTDOWN to every session, then nothing is left for ctx.run().
    auto finish = [&] {
        if (done) return;
        done = true;
        ep.shutdown();                         // SERVER_SHUTDOWN to every session …
        net::post(ctx, [&] { ep.close(); });  // … sent by the driver this turn, then close
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
                        spdlog::info("session {:016x}: answer {} correct ({})", e.session_id,
                                     nc::as_string(e.words[1]), ex::progress(correct, o.count, "correct"));
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
            const auto now = ep.now();
            ep.layer().for_each_session([&](std::uint64_t id, nc::session_state s) {
                if (s != nc::session_state::established) return;
                if (ep.layer().send(id, words, now)) {
                    expected[id] = product;
                    ++requests;
                }
            });  // the driver sends them this turn
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
    // A request is answered only if it arrives, and an answer counts only if it arrives and
    // answers the session's latest request: basic has no retransmission, so under loss the
    // client answers more requests than the server counts.
    spdlog::info("done: sent {} multiply requests; {} answers arrived ({} correct, {} wrong); {} requests "
                 "or answers lost or superseded (basic Neutrino does not retransmit); {} datagrams "
                 "dropped (duplicates, replays or invalid)",
                 requests, correct + wrong, correct, wrong, requests - std::min(requests, correct + wrong),
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
    ex::add_observe_options(app, o.observe);
    CLI11_PARSE(app, argc, argv);

    try {
        // Each machine gets the description of its own wire version; the filter's type names
        // are read with v3's (a superset of v2's names).
        const auto monitor_options = ex::apply_observe_options(
            o.observe, o.wire == "v2" ? nm::neutrino_v2_description() : nm::neutrino_v3_description());
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
