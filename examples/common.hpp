#pragma once
// Small helpers shared by the example programs (not part of the library).

#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "neutrino/core/v3/server.hpp"
#include "neutrino/io/asio.hpp"

namespace neutrino::examples {

/// The values of the examples' `--wire` option. v3 (Noise NK handshake, header-authenticated
/// packets, key update; spec neutrino-v3.md) is the default between our own programs; v2 is
/// what the Python reference speaks, so `--wire v2` is needed whenever it is one of the peers.
/// Both use the same X25519 server key pair.
inline const std::vector<std::string> wire_versions{"v2", "v3"};
inline constexpr const char* default_wire = "v3";
inline constexpr const char* wire_help =
    "wire version: v3 (Noise handshake; the default between these examples) or v2 (the Python "
    "reference's); both ends must agree";

/// A server's `--wire`: also `both`, one socket serving v2 and v3 clients at once
/// (core::basic_dual_server, routed by each datagram's version byte).
inline const std::vector<std::string> server_wire_versions{"v2", "v3", "both"};
inline constexpr const char* default_server_wire = "both";
inline constexpr const char* server_wire_help =
    "wire version: both (v2 and v3 clients on one socket; the default), v3 (Noise handshake) or "
    "v2 (the Python reference's)";

/// True for a dual-version server machine (core::basic_dual_server).
template <class Machine>
concept dual_version_machine = requires(Machine& m) {
    m.v2();
    m.v3();
    m.for_each_machine([](auto&) {});
};

/// Calls `f(m)` for each server machine in `layer`: the two of a dual-version server, or
/// `layer` itself.
template <class Layer, class F>
void for_each_machine(Layer& layer, F&& f) {
    if constexpr (dual_version_machine<Layer>) {
        layer.for_each_machine(f);
    } else {
        f(layer);
    }
}

/// The wire version (2 or 3) of a single-version core server machine.
template <class Machine>
inline constexpr std::uint8_t wire_version_of = 2;
template <class Observer, class Random>
inline constexpr std::uint8_t wire_version_of<core::v3::basic_server<Observer, Random>> = 3;

/// Datagrams dropped by `layer`'s server machine(s).
template <class Layer>
std::uint64_t dropped_total(Layer& layer) {
    std::uint64_t n = 0;
    for_each_machine(layer, [&](auto& m) { n += m.stats().dropped_total; });
    return n;
}

/// Parses "host:port" (IPv4 or [IPv6]:port). Throws std::invalid_argument with a message.
inline net::ip::udp::endpoint parse_endpoint(std::string_view text) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
        throw std::invalid_argument("expected host:port, got '" + std::string(text) + "'");
    }
    std::string host(text.substr(0, colon));
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    unsigned port = 0;
    const auto p = text.substr(colon + 1);
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    if (ec != std::errc{} || ptr != p.data() + p.size() || port > 65535) {
        throw std::invalid_argument("bad port in '" + std::string(text) + "'");
    }
    boost::system::error_code bec;
    auto addr = net::ip::make_address(host, bec);
    if (bec) throw std::invalid_argument("bad address '" + host + "': " + bec.message());
    return {addr, static_cast<std::uint16_t>(port)};
}

/// Sets spdlog's level from a name (trace, debug, info, warn, error, off).
inline void set_log_level(const std::string& name) {
    auto level = spdlog::level::from_str(name);
    if (level == spdlog::level::off && name != "off") {
        throw std::invalid_argument("unknown log level '" + name + "'");
    }
    spdlog::set_level(level);
}

/// A progress counter for log lines: "3 of 10 <what>", or "<what> 3" when there is no goal.
inline std::string progress(std::uint64_t n, std::uint64_t goal, std::string_view what) {
    if (goal == 0) return std::string(what) + " " + std::to_string(n);
    return std::to_string(n) + " of " + std::to_string(goal) + " " + std::string(what);
}

/// Seconds since `t` (steady clock).
inline double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

/// What a client says when its handshake got no answer (issue #17 item 4): what was tried, for
/// how long, and the likely causes, instead of a bare "peer timed out".
inline std::string no_answer_hint(std::string_view server, std::string_view wire, double seconds) {
    const std::string_view other = wire == "v3" ? "v2" : "v3";
    std::string s = "no answer from " + std::string(server) + " to the wire " + std::string(wire) +
                    " handshake";
    if (seconds > 0) {
        char buf[32];
        std::snprintf(buf, sizeof buf, " within %.1f s", seconds);
        s += buf;
    }
    s += ". Likely causes: nothing is listening at that address and port (is the server running? "
         "--server host:port); or the server speaks the other wire version (try --wire " +
         std::string(other) + (wire == "v3" ? "; the Python reference speaks v2" : "") +
         "); or a firewall drops UDP.";
    return s;
}

/// Says `no_answer_hint` once when no session is up `seconds` after dialling (a client keeps
/// dialling afterwards; this only explains why nothing happens).
class handshake_watch {
public:
    explicit handshake_watch(net::io_context& ctx) : timer_(ctx) {}
    void start(double seconds, std::string server, std::string wire) {
        timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(seconds)));
        timer_.async_wait([this, seconds, server = std::move(server), wire = std::move(wire)](
                              boost::system::error_code ec) {
            if (!ec && !established_) spdlog::error("{}", no_answer_hint(server, wire, seconds));
        });
    }
    void established() {
        established_ = true;
        timer_.cancel();
    }
    void cancel() { timer_.cancel(); }

private:
    net::steady_timer timer_;
    bool established_ = false;
};

/// Parses a decimal number out of a word; nullopt when it is not one.
template <class T>
std::optional<T> parse_number(std::string_view s) {
    T v{};
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || ptr != s.data() + s.size()) return std::nullopt;
    return v;
}

}  // namespace neutrino::examples
