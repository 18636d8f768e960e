// qotp_server: a QOTP echo server (issue #14). It listens on --listen, accepts 1-RTT and 0-RTT
// handshakes (wire W2 of shared/spec/qotp.md, the Go reference qo-proto/qotp's), and sends every
// byte a client writes on stream 0 back to it. Runs until Ctrl-C or --duration.
//
// The identity key (--key, 64 hex characters as the reference takes it) is what a 0-RTT client
// must know: the server prints its public key at start ("public key: <hex>"; pass it to
// qotp_client --key). Without --key the server makes a random one. --keylog FILE appends the
// §19 secret lines of every connection (neutrino-monitor decrypt, tools/wireshark/qotp.lua).
//
// The endpoint is the sans-IO qotp::endpoint on io::endpoint<qotp::endpoint, io::udp_socket>
// (see echo.hpp for why the program uses the driver's lower-level paths).

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "../common.hpp"
#include "echo.hpp"
#include "neutrino/hex.hpp"
#include "neutrino/io/asio.hpp"
#include "neutrino/qotp/endpoint.hpp"
#include "neutrino/qotp/key_source.hpp"
#include "neutrino/qotp/keys.hpp"

namespace ex = neutrino::examples;
namespace echo = neutrino::examples::qotp_echo;
namespace net = neutrino::net;
namespace qotp = neutrino::qotp;

int main(int argc, char** argv) {
    CLI::App app{"qotp_server: a QOTP echo server (wire W2 of the Go reference qo-proto/qotp)"};
    std::string listen = "127.0.0.1:22754";
    std::string key_hex;
    std::string keylog_path;
    double duration = 0;
    std::string log_level = "info";
    app.add_option("--listen", listen, "host:port to listen on (port 0: a free port, printed)")
        ->capture_default_str();
    app.add_option("--key", key_hex,
                   "the server's X25519 identity private key: 64 hex characters, optional 0x (as "
                   "the reference takes it); a random key when omitted");
    app.add_option("--keylog", keylog_path, echo::keylog_help)->option_text("FILE");
    app.add_option("--duration", duration, "stop after this many seconds (0: run until Ctrl-C)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    try {
        ex::set_log_level(log_level);
        qotp::private_key identity = qotp::generate_private_key();
        if (!key_hex.empty()) {
            auto k = qotp::private_key_from_hex(key_hex);
            if (!k) {
                fmt::print(stderr, "--key: {}\n", k.error().message());
                return 2;
            }
            identity = *k;
        }
        echo::keylog keys_out(keylog_path);
        qotp::endpoint_config config;
        config.connection.key_log = keys_out.sink();
        qotp::random_key_source keys;

        net::io_context ctx;
        echo::driver server(ctx, ex::parse_endpoint(listen),
                            qotp::endpoint(config, keys, identity));
        const auto local = server.local_endpoint();
        const auto public_key = server.layer().identity();
        // Two lines a script can read (the smoke test does): where, and the 0-RTT key.
        fmt::print("listening on {}:{}\npublic key: {}\n", local.address().to_string(),
                   local.port(), neutrino::to_hex(public_key));
        std::fflush(stdout);

        std::map<std::uint64_t, std::vector<std::byte>> pending;  // read, not yet sent back
        std::uint64_t echoed = 0;
        server.set_event_handler([&](const qotp::endpoint_event& e) {
            if (e.what == qotp::endpoint_event::kind::accepted) {
                const auto* c = server.layer().find(e.id);
                spdlog::info("connection {} accepted ({})", echo::id_text(e.id),
                             c != nullptr && c->zero_rtt() ? "0-RTT" : "1-RTT");
                pending[e.id.value];
            } else {
                spdlog::info("connection {} closed: {}", echo::id_text(e.id),
                             e.error ? e.error.message() : "ended");
                pending.erase(e.id.value);
            }
        });

        net::steady_timer tick(ctx);
        std::function<void()> arm = [&] {
            tick.expires_after(std::chrono::milliseconds(1));
            tick.async_wait([&](const boost::system::error_code& ec) {
                if (ec) return;
                for (auto& [id, bytes] : pending) {
                    auto* c = server.layer().find(qotp::connection_id{id});
                    if (c == nullptr) continue;
                    echo::read_all(*c, bytes);
                    std::size_t sent = 0;
                    echo::send_some(*c, bytes, sent);
                    bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(sent));
                    echoed += sent;
                }
                arm();
            });
        };
        arm();

        net::signal_set signals(ctx, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code& ec, int) {
            if (!ec) ctx.stop();
        });
        if (duration > 0) {
            ctx.run_for(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                std::chrono::duration<double>(duration)));
        } else {
            ctx.run();
        }
        const auto& stats = server.layer().stats();
        spdlog::info("accepted {} connections, echoed {} bytes, dropped {} datagrams",
                     stats.connections_accepted, echoed, stats.total_drops());
        if (keys_out.lost() > 0) spdlog::warn("{} key log lines not written", keys_out.lost());
        return 0;
    } catch (const std::exception& e) {
        fmt::print(stderr, "qotp_server: {}\n", e.what());
        return 1;
    }
}
