// qotp_client: sends --bytes bytes to a qotp_server over QOTP (issue #14) and checks that the
// echo comes back byte for byte. With --key (the server's public key, 64 hex characters, as
// qotp_server prints it) the handshake is 0-RTT and the first bytes ride in it; without, 1-RTT.
// --keylog FILE appends the §19 secret lines (neutrino-monitor decrypt, tools/wireshark/qotp.lua).
// Exit 0 when the whole echo matched, 1 when it did not arrive within --timeout or the
// connection failed, 2 for a bad option.
//
// The endpoint is the sans-IO qotp::endpoint on io::endpoint<qotp::endpoint, io::udp_socket>
// (see echo.hpp for why the program uses the driver's lower-level paths).

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "../common.hpp"
#include "echo.hpp"
#include "neutrino/io/asio.hpp"
#include "neutrino/qotp/endpoint.hpp"
#include "neutrino/qotp/key_source.hpp"
#include "neutrino/qotp/keys.hpp"

namespace ex = neutrino::examples;
namespace echo = neutrino::examples::qotp_echo;
namespace net = neutrino::net;
namespace qotp = neutrino::qotp;

int main(int argc, char** argv) {
    CLI::App app{"qotp_client: echoes bytes through a qotp_server over QOTP"};
    std::string connect;
    std::string key_hex;
    std::string keylog_path;
    std::size_t bytes = 100000;
    double timeout = 10;
    std::string log_level = "info";
    app.add_option("--connect", connect, "the server's host:port")->required();
    app.add_option("--key", key_hex,
                   "the server's X25519 public key, 64 hex characters, optional 0x (qotp_server "
                   "prints it): a 0-RTT handshake; 1-RTT when omitted");
    app.add_option("--keylog", keylog_path, echo::keylog_help)->option_text("FILE");
    app.add_option("--bytes", bytes, "bytes to send and expect back")->capture_default_str();
    app.add_option("--timeout", timeout, "seconds to wait for the whole echo")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    try {
        ex::set_log_level(log_level);
        std::optional<qotp::public_key> server_key;
        if (!key_hex.empty()) {
            auto k = qotp::public_key_from_hex(key_hex);
            if (!k) {
                fmt::print(stderr, "--key: {}\n", k.error().message());
                return 2;
            }
            server_key = *k;
        }
        const auto server_endpoint = ex::parse_endpoint(connect);
        echo::keylog keys_out(keylog_path);
        qotp::endpoint_config config;
        config.accept = false;  // a dialer only
        config.connection.key_log = keys_out.sink();
        qotp::random_key_source keys;

        net::io_context ctx;
        const net::ip::udp::endpoint local(
            server_endpoint.address().is_v6() ? net::ip::address(net::ip::address_v6::any())
                                              : net::ip::address(net::ip::address_v4::any()),
            0);
        echo::driver client(ctx, local, qotp::endpoint(config, keys, keys.generate()));

        std::vector<std::byte> data(bytes);
        for (std::size_t i = 0; i < data.size(); ++i) {
            data[i] = static_cast<std::byte>((i * 7 + i / 251) & 0xff);
        }
        std::vector<std::byte> received;
        received.reserve(data.size());
        std::size_t sent = 0;
        std::string failure;
        const auto start = std::chrono::steady_clock::now();
        const auto id = client.layer().connect(neutrino::io::to_peer_address(server_endpoint),
                                               echo::driver::now(), server_key);
        if (!id) throw std::system_error(id.error());
        // Before the first poll: with --key these bytes ride in the 0-RTT InitCryptoSnd.
        echo::send_some(*client.layer().find(*id), data, sent);
        spdlog::info("connecting to {} ({}), connection {}", connect,
                     server_key ? "0-RTT" : "1-RTT", echo::id_text(*id));

        client.set_event_handler([&](const qotp::endpoint_event& e) {
            if (e.what == qotp::endpoint_event::kind::closed) {
                failure = "connection closed: " + (e.error ? e.error.message() : "ended");
                ctx.stop();
            }
        });
        bool ready = false;
        net::steady_timer tick(ctx);
        std::function<void()> arm = [&] {
            tick.expires_after(std::chrono::milliseconds(1));
            tick.async_wait([&](const boost::system::error_code& ec) {
                if (ec) return;
                auto* c = client.layer().find(*id);
                if (c == nullptr) return;
                if (!ready && c->phase() == qotp::phase::ready) {
                    ready = true;
                    spdlog::info("handshake complete after {:.3f} s", ex::seconds_since(start));
                }
                echo::send_some(*c, data, sent);
                echo::read_all(*c, received);
                if (received.size() >= data.size()) {
                    ctx.stop();
                    return;
                }
                arm();
            });
        };
        arm();
        ctx.run_for(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(timeout)));

        if (!failure.empty()) {
            spdlog::error("{}", failure);
            return 1;
        }
        if (received.size() < data.size()) {
            spdlog::error("{} of {} bytes echoed within {} s (is qotp_server running at {}?)",
                          received.size(), data.size(), timeout, connect);
            return 1;
        }
        if (received != data) {
            spdlog::error("the echo differs from what was sent");
            return 1;
        }
        spdlog::info("echoed {} bytes in {:.3f} s ({}), dropped {} datagrams", data.size(),
                     ex::seconds_since(start), server_key ? "0-RTT" : "1-RTT",
                     client.layer().stats().total_drops());
        if (keys_out.lost() > 0) spdlog::warn("{} key log lines not written", keys_out.lost());
        return 0;
    } catch (const std::exception& e) {
        fmt::print(stderr, "qotp_client: {}\n", e.what());
        return 1;
    }
}
