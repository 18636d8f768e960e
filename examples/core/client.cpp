// neutrino-core-client: the reference's example client on neutrino-core.
//
// Dials the server, answers every multiply request ["374", n, f] with ["630", n*f]
// (spec neutrino.md §16.1), and exits 0 after --count answers (or, with --count 0, when
// --duration ends), sending CLIENT_GOOD_BYE first. Exit 1 if it never got there.

#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "../common.hpp"
#include "neutrino/core/client.hpp"
#include "neutrino/io/basic_endpoint.hpp"
#include "neutrino/monitor/terminal_observer.hpp"

namespace nc = neutrino::core;
namespace ex = neutrino::examples;
namespace net = neutrino::net;
namespace nm = neutrino::monitor;

int main(int argc, char** argv) {
    CLI::App app{"Neutrino basic example client (multiply protocol of the Python reference)"};
    std::string server = "127.0.0.1:22753";
    std::string bind = "0.0.0.0:0";
    std::string key_hex(nc::example_public_key_hex);
    std::uint64_t count = 0;
    double duration = 0;
    std::string log_level = "info";
    bool monitor = false;
    std::string monitor_filter;
    app.add_option("--server", server, "server address:port")->capture_default_str();
    app.add_option("--bind", bind, "local address:port")->capture_default_str();
    app.add_option("--key", key_hex, "server public key, 64 hex characters (default: the reference's example key)");
    app.add_option("--count", count, "exit 0 after answering this many requests (0: run for --duration)")->capture_default_str();
    app.add_option("--duration", duration, "stop after this many seconds (0: until Ctrl-C)")->capture_default_str();
    app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off")->capture_default_str();
    app.add_flag("--monitor", monitor, "print one line per packet event and a summary per second (neutrino::monitor)");
    app.add_option("--monitor-filter", monitor_filter, "with --monitor: e.g. \"types=DATA events=send,recv session=<hex>\"");
    CLI11_PARSE(app, argc, argv);

    try {
        ex::set_log_level(log_level);
        // With --monitor off the observer shows nothing (no event kinds, no summary).
        nm::terminal_options monitor_options;
        if (auto err = nm::apply_filter(monitor_filter, monitor_options); !err.empty()) {
            throw std::invalid_argument("--monitor-filter: " + err);
        }
        if (!monitor) monitor_options.events = 0;
        auto server_key = nc::parse_key_hex(key_hex);
        if (!server_key) throw std::invalid_argument("--key: " + server_key.error().message());
        const auto server_endpoint = ex::parse_endpoint(server);
        nc::client_config cfg;
        cfg.server_key = *server_key;
        cfg.server = neutrino::io::to_peer_address(server_endpoint);
        if (nc::is_example_key(cfg.server_key)) {
            spdlog::warn("the server uses the reference's publicly known example key: for tests only");
        }

        net::io_context ctx;
        using client_type = nc::basic_client<nc::wire::v2, nm::terminal_observer>;
        neutrino::io::basic_endpoint<client_type> ep(ctx, ex::parse_endpoint(bind),
                                                     client_type(cfg, nm::terminal_observer(monitor_options)));
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
                case nc::event_kind::connecting: spdlog::info("dialling {}", server); break;
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
                    spdlog::info("{} × {} = {} ({}/{})", *n, nc::as_string(e.words[2]), product, answered, count);
                    if (count != 0 && answered >= count) {
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
        if (duration > 0) {
            limit.expires_after(std::chrono::duration_cast<neutrino::duration>(std::chrono::duration<double>(duration)));
            limit.async_wait([&](boost::system::error_code ec) {
                if (!ec) finish();
            });
        }
        ctx.run();
        spdlog::info("done: {} requests answered", answered);
        return count == 0 || answered >= count ? 0 : 1;
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 2;
    }
}
