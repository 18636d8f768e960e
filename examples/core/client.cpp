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
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "../common.hpp"
#include "../observe.hpp"
#include "neutrino/core/client.hpp"
#include "neutrino/core/v3/client.hpp"
#include "neutrino/io/endpoint.hpp"
#include "neutrino/monitor/describe.hpp"

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
    double connect_timeout = 4;
    ex::observe_options observe;
};

using ex::observer_type;

/// Runs the client on the stack `Client` (a core client machine over `observer_type`).
template <class Client>
int run(const options& o, const nc::client_config& cfg, const nm::terminal_options& monitor_options) {
    const auto server_endpoint = ex::parse_endpoint(o.server);
    net::io_context ctx;
    neutrino::io::endpoint<Client> ep(ctx, ex::parse_endpoint(o.bind), Client(cfg, ex::placeholder_observer()));
    ex::observe_machines(ep.layer(), o.observe, monitor_options, ex::recording_address(ep, server_endpoint, ctx),
                         "neutrino-core-client");
    std::uint64_t answered = 0;
    bool done = false;
    ex::handshake_watch watch(ctx);  // says why, when no session is up after --connect-timeout
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

    // Lifecycle lines; the protocol itself is the coroutine below.
    ep.set_event_handler([&](const auto& e) {
        switch (e.kind) {
            case nc::event_kind::connecting: spdlog::info("dialling {} (wire {})", o.server, o.wire); break;
            case nc::event_kind::server_shutdown: spdlog::info("server shut down; draining"); break;
            case nc::event_kind::closed:
                spdlog::info("session {:016x} closed: {}", e.session_id, e.reason.message());
                break;
            default: break;
        }
    });

    // The multiply protocol: every request ["374", n, f] is answered with ["630", n*f].
    net::co_spawn(
        ctx,
        [&]() -> net::awaitable<void> {
            boost::system::error_code ec;
            watch.start(o.connect_timeout, o.server, o.wire);
            for (;;) {  // a client keeps dialling until --duration or a signal ends the run
                co_await ep.async_connect(net::redirect_error(net::use_awaitable, ec));
                if (!ec || done) break;
                spdlog::info("connect: {}; dialling again", ec.message());
            }
            if (done) co_return;
            spdlog::info("session {:016x} established", ep.layer().session_id());
            watch.established();
            while (!done) {
                const neutrino::io::message m = co_await ep.async_receive(net::redirect_error(net::use_awaitable, ec));
                if (ec) break;  // the session ended (the handler said why)
                if (m.size() != 3 || m.text(0) != "374") {
                    spdlog::info("data: {} words", m.size());
                    continue;
                }
                auto n = ex::parse_number<long long>(m.text(1));
                auto f = ex::parse_number<double>(m.text(2));
                if (!n || !f) {
                    spdlog::warn("malformed multiply request");
                    continue;
                }
                const std::string product = fmt::format("{}", static_cast<double>(*n) * *f);
                co_await ep.async_send(nc::words("630", product), net::redirect_error(net::use_awaitable, ec));
                if (ec) {
                    spdlog::warn("answer not sent: {}", ec.message());
                    continue;
                }
                ++answered;
                spdlog::info("{} × {} = {} ({})", *n, m.text(2), product, ex::progress(answered, o.count, "answered"));
                if (o.count != 0 && answered >= o.count) break;
            }
            finish();
        },
        net::detached);

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
    spdlog::info("done: {} multiply requests arrived and were answered (the server counts the answers "
                 "that reach it)", answered);
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
    app.add_option("--connect-timeout", o.connect_timeout,
                   "say what was tried and why it may fail when no session is up after this many seconds "
                   "(the client keeps dialling)")
        ->capture_default_str();
    ex::add_observe_options(app, o.observe);
    CLI11_PARSE(app, argc, argv);

    try {
        const bool v3 = o.wire == "v3";
        const auto monitor_options = ex::apply_observe_options(
            o.observe, v3 ? nm::neutrino_v3_description() : nm::neutrino_v2_description());
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
