// neutrino-inspector: a UDP proxy that impairs the traffic between any client and server.
//
// Listens on --listen, forwards to --target, and runs both directions through the seeded
// impairment model (inspector/impairment.hpp) on the wall clock. Every impairment option
// applies to both directions; its --c2s-… / --s2c-… form sets one direction only and wins
// over the plain form. At the end (--duration or SIGINT/SIGTERM) it prints one summary line
// per direction and exits 0; 1 after a fatal socket error; 2 for bad options.

#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "neutrino/core/constants.hpp"
#include "neutrino/inspector/classifier.hpp"
#include "neutrino/inspector/impairment.hpp"
#include "neutrino/inspector/io/udp_proxy.hpp"

namespace ni = neutrino::inspector;
namespace nio = neutrino::inspector::io;
namespace net = neutrino::net;

namespace {

// ---- parsing ------------------------------------------------------------------------------

[[noreturn]] void bad(const std::string& option, const std::string& value, const std::string& why) {
    throw std::invalid_argument(option + " " + value + ": " + why);
}

template <class T>
T number(const std::string& option, std::string_view text) {
    T v{};
    int base = 10;
    std::string_view digits = text;
    if constexpr (std::is_integral_v<T>) {
        if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
            base = 16;
            digits.remove_prefix(2);
        }
    }
    std::from_chars_result r{};
    if constexpr (std::is_integral_v<T>) {
        r = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
    } else {
        r = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    }
    if (r.ec != std::errc{} || r.ptr != digits.data() + digits.size()) {
        bad(option, std::string(text), "not a number");
    }
    return v;
}

double probability(const std::string& option, std::string_view text) {
    const double p = number<double>(option, text);
    if (!(p >= 0.0 && p <= 1.0)) bad(option, std::string(text), "not a probability in [0, 1]");
    return p;
}

neutrino::duration milliseconds(const std::string& option, std::string_view text) {
    const double ms = number<double>(option, text);
    if (!(ms >= 0.0)) bad(option, std::string(text), "must not be negative");
    return std::chrono::duration_cast<neutrino::duration>(
        std::chrono::duration<double, std::milli>(ms));
}

std::vector<std::string_view> split(std::string_view text, char sep) {
    std::vector<std::string_view> parts;
    for (;;) {
        const auto at = text.find(sep);
        parts.push_back(text.substr(0, at));
        if (at == std::string_view::npos) return parts;
        text.remove_prefix(at + 1);
    }
}

net::ip::udp::endpoint endpoint(const std::string& option, const std::string& text) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) bad(option, text, "expected address:port");
    std::string host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    const auto port = number<unsigned>(option, std::string_view(text).substr(colon + 1));
    if (port > 65535) bad(option, text, "port out of range");
    boost::system::error_code ec;
    const auto address = net::ip::make_address(host, ec);
    if (ec) bad(option, text, ec.message());
    return {address, static_cast<std::uint16_t>(port)};
}

// ---- impairment options -------------------------------------------------------------------

/// One direction being configured.
struct direction_setup {
    ni::impairment_config cfg;
    std::vector<std::uint8_t> drop_types;
    std::vector<std::uint64_t> drop_sessions;
};

/// An impairment option: its name (without dashes), what its values look like, its help, and
/// how a value changes a direction.
struct impairment_option {
    const char* name;
    const char* value;
    const char* help;
    bool repeatable;
    void (*apply)(direction_setup&, const std::string& option, const std::string& value);
};

const std::vector<impairment_option>& impairment_options() {
    using s = direction_setup;
    using str = const std::string&;
    static const std::vector<impairment_option> options = {
        {"drop", "P", "independent loss probability", false,
         [](s& d, str o, str v) { d.cfg.drop = probability(o, v); }},
        {"burst", "p,r[,loss_bad[,loss_good]]",
         "Gilbert-Elliott burst loss: p good→bad, r bad→good, loss in each state (1, 0)", false,
         [](s& d, str o, str v) {
             const auto parts = split(v, ',');
             if (parts.size() < 2 || parts.size() > 4) bad(o, v, "expected p,r[,loss_bad[,loss_good]]");
             d.cfg.burst.p_good_to_bad = probability(o, parts[0]);
             d.cfg.burst.p_bad_to_good = probability(o, parts[1]);
             if (parts.size() > 2) d.cfg.burst.loss_in_bad = probability(o, parts[2]);
             if (parts.size() > 3) d.cfg.burst.loss_in_good = probability(o, parts[3]);
         }},
        {"duplicate", "P", "probability of a second copy", false,
         [](s& d, str o, str v) { d.cfg.duplicate = probability(o, v); }},
        {"duplicate-every", "K", "duplicate datagrams K, 2K, 3K, ...", false,
         [](s& d, str o, str v) { d.cfg.script.duplicate_every = number<std::uint64_t>(o, v); }},
        {"reorder", "P[,positions]",
         "reorder a fraction P: hold a copy behind `positions` later ones (0: by --reorder-delay)",
         false,
         [](s& d, str o, str v) {
             const auto parts = split(v, ',');
             if (parts.size() > 2) bad(o, v, "expected P[,positions]");
             d.cfg.reorder.probability = probability(o, parts[0]);
             if (parts.size() > 1) d.cfg.reorder.positions = number<std::size_t>(o, parts[1]);
         }},
        {"reorder-delay", "MS", "how long a reordered copy is held at most (default 10)", false,
         [](s& d, str o, str v) { d.cfg.reorder.delay = milliseconds(o, v); }},
        {"delay", "MS", "fixed one-way delay", false,
         [](s& d, str o, str v) { d.cfg.delay = milliseconds(o, v); }},
        {"jitter", "MS", "uniform jitter in ±MS (keeps the order)", false,
         [](s& d, str o, str v) { d.cfg.jitter = milliseconds(o, v); }},
        {"jitter-reorders", "0|1", "let jitter reorder, like netem", false,
         [](s& d, str o, str v) { d.cfg.jitter_reorders = number<int>(o, v) != 0; }},
        {"corrupt", "P", "probability of flipping --corrupt-bits random bits", false,
         [](s& d, str o, str v) { d.cfg.corrupt.probability = probability(o, v); }},
        {"corrupt-bits", "N", "bits flipped per corrupted copy (default 1, at most 64)", false,
         [](s& d, str o, str v) { d.cfg.corrupt.flip_bits = number<std::size_t>(o, v); }},
        {"truncate", "P", "probability of cutting a copy short", false,
         [](s& d, str o, str v) { d.cfg.corrupt.truncate = probability(o, v); }},
        {"extend", "P", "probability of appending random bytes", false,
         [](s& d, str o, str v) { d.cfg.corrupt.extend = probability(o, v); }},
        {"rate", "BYTES_PER_S", "token-bucket rate limit (0: none)", false,
         [](s& d, str o, str v) { d.cfg.rate.bytes_per_second = number<std::uint64_t>(o, v); }},
        {"rate-burst", "BYTES", "token-bucket depth (default: one datagram)", false,
         [](s& d, str o, str v) { d.cfg.rate.burst_size = number<std::size_t>(o, v); }},
        {"queue", "BYTES", "rate-limit queue; tail drop past it (default 65536)", false,
         [](s& d, str o, str v) { d.cfg.rate.max_queue_size = number<std::size_t>(o, v); }},
        {"mtu", "N", "drop datagrams larger than N bytes", false,
         [](s& d, str o, str v) { d.cfg.mtu = number<std::size_t>(o, v); }},
        {"blackhole", "FROM_MS:TO_MS", "link down in [FROM, TO) ms after start (repeatable)", true,
         [](s& d, str o, str v) {
             const auto parts = split(v, ':');
             if (parts.size() != 2) bad(o, v, "expected FROM_MS:TO_MS");
             const ni::interval i{milliseconds(o, parts[0]), milliseconds(o, parts[1])};
             if (i.to < i.from) bad(o, v, "ends before it starts");
             d.cfg.blackholes.push_back(i);
         }},
        {"drop-nth", "N", "drop the N-th datagram, the first is 1 (repeatable)", true,
         [](s& d, str o, str v) { d.cfg.script.drop_nth.push_back(number<std::uint64_t>(o, v)); }},
        {"drop-type", "TYPE", "with --classifier neutrino: drop this packet type, e.g. 0x04 "
                              "(repeatable)", true,
         [](s& d, str o, str v) {
             const auto t = number<unsigned>(o, v);
             if (t > 0xff) bad(o, v, "not a type byte");
             d.drop_types.push_back(static_cast<std::uint8_t>(t));
         }},
        {"drop-session", "ID", "with --classifier neutrino: drop this session id, decimal or 0x "
                               "hex (repeatable)", true,
         [](s& d, str o, str v) { d.drop_sessions.push_back(number<std::uint64_t>(o, v)); }},
        {"max-held", "BYTES", "memory cap on held datagrams; drops counted past it "
                              "(default 16 MiB)", false,
         [](s& d, str o, str v) { d.cfg.max_held_size = number<std::size_t>(o, v); }},
    };
    return options;
}

/// The values given for each impairment option in one scope (both, c2s or s2c).
using scope_values = std::map<std::string, std::vector<std::string>>;

void add_scope(CLI::App& app, const std::string& group, const std::string& prefix,
               const std::string& what, scope_values& values) {
    CLI::Option_group* g = app.add_option_group(group);
    for (const auto& o : impairment_options()) {
        auto* opt = g->add_option("--" + prefix + o.name, values[o.name],
                                  std::string(o.help) + what);
        opt->type_name(o.value);
        opt->expected(1);
        if (o.repeatable) {
            opt->take_all();
        } else {
            opt->take_last();
        }
    }
}

direction_setup make_direction(const scope_values& both, const scope_values& own,
                               const std::string& prefix) {
    direction_setup d;
    for (const auto& o : impairment_options()) {
        const auto& mine = own.at(o.name);
        const bool specific = !mine.empty();
        const auto& values = specific ? mine : both.at(o.name);
        const std::string option = "--" + (specific ? prefix : std::string()) + o.name;
        for (const auto& v : values) o.apply(d, option, v);
    }
    return d;
}

/// Builds the classifier rule of a direction; false when it has none.
bool install_classifier(direction_setup& d) {
    if (d.drop_types.empty() && d.drop_sessions.empty()) return false;
    d.cfg.script.drop_if = [types = d.drop_types,
                            sessions = d.drop_sessions](std::span<const std::byte> datagram) {
        const ni::packet_class c = ni::classify_neutrino(datagram);
        if (c.type && std::find(types.begin(), types.end(), *c.type) != types.end()) return true;
        return c.session_id &&
               std::find(sessions.begin(), sessions.end(), *c.session_id) != sessions.end();
    };
    return true;
}

// ---- reporting ----------------------------------------------------------------------------

std::string describe(const ni::impairment_config& c) {
    std::vector<std::string> parts;
    if (c.drop > 0) parts.push_back(fmt::format("drop {}", c.drop));
    if (c.burst.p_good_to_bad > 0 || c.burst.loss_in_good > 0) {
        parts.push_back(fmt::format("burst {},{},{},{}", c.burst.p_good_to_bad,
                                    c.burst.p_bad_to_good, c.burst.loss_in_bad,
                                    c.burst.loss_in_good));
    }
    if (c.duplicate > 0) parts.push_back(fmt::format("duplicate {}", c.duplicate));
    if (c.script.duplicate_every > 0) {
        parts.push_back(fmt::format("duplicate every {}", c.script.duplicate_every));
    }
    if (c.reorder.probability > 0) {
        parts.push_back(fmt::format("reorder {},{}", c.reorder.probability, c.reorder.positions));
    }
    using ms = std::chrono::duration<double, std::milli>;
    if (c.delay > neutrino::duration::zero()) {
        parts.push_back(fmt::format("delay {} ms", ms(c.delay).count()));
    }
    if (c.jitter > neutrino::duration::zero()) {
        parts.push_back(fmt::format("jitter {} ms", ms(c.jitter).count()));
    }
    if (c.corrupt.probability > 0) parts.push_back(fmt::format("corrupt {}", c.corrupt.probability));
    if (c.corrupt.truncate > 0) parts.push_back(fmt::format("truncate {}", c.corrupt.truncate));
    if (c.corrupt.extend > 0) parts.push_back(fmt::format("extend {}", c.corrupt.extend));
    if (c.rate.bytes_per_second > 0) {
        parts.push_back(fmt::format("rate {} B/s (queue {} B)", c.rate.bytes_per_second,
                                    c.rate.max_queue_size));
    }
    if (c.mtu > 0) parts.push_back(fmt::format("mtu {}", c.mtu));
    if (!c.blackholes.empty()) parts.push_back(fmt::format("{} blackhole(s)", c.blackholes.size()));
    if (!c.script.drop_nth.empty()) {
        parts.push_back(fmt::format("{} scripted drop(s)", c.script.drop_nth.size()));
    }
    if (c.script.drop_if) parts.push_back("classifier rule");
    if (parts.empty()) return "none";
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
    return out;
}

std::string summary_line(const char* name, const nio::direction_summary& s) {
    const auto& i = s.impairment;
    const auto& p = s.proxy;
    return fmt::format(
        "{}: forwarded {}, dropped {} (random {}, burst {}, blackhole {}, mtu {}, rule {}, "
        "queue {}, memory {}, send {}, unroutable {}, no-slot {}), duplicated {}, reordered {}, "
        "corrupted {}; received {}, in flight {}",
        name, s.forwarded(), s.dropped(), i.dropped_random, i.dropped_burst, i.dropped_blackhole,
        i.dropped_mtu, i.dropped_rule, i.dropped_rate_queue, i.dropped_memory, p.send_failed,
        p.unroutable, p.no_client_slot, i.duplicated, i.reordered, i.corrupted, s.received(),
        s.in_flight);
}

int run(int argc, char** argv) {
    CLI::App app{
        "neutrino-inspector: a UDP proxy that impairs traffic in both directions (any UDP "
        "protocol; nothing is decrypted)"};
    std::string listen = "127.0.0.1:22754";
    std::string target = "127.0.0.1:22753";
    std::uint64_t seed = 1;
    double duration = 0;
    std::size_t max_clients = 64;
    double idle_timeout = 60;
    std::string classifier;
    bool no_offload = false;
    std::string log_level = "info";
    app.add_option("--listen", listen, "address:port the clients send to")->capture_default_str();
    app.add_option("--target", target, "address:port of the server")->capture_default_str();
    app.add_option("--seed", seed, "seed of every random decision (both directions)")
        ->capture_default_str();
    app.add_option("--duration", duration, "stop after this many seconds (0: until Ctrl-C)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    app.add_option("--max-clients", max_clients, "client mappings at most (one upstream socket each)")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1}, std::size_t{4096}));
    app.add_option("--idle-timeout", idle_timeout, "seconds before a silent client is unmapped (0: never)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    app.add_option("--classifier", classifier,
                   "read clear headers for --drop-type / --drop-session rules")
        ->check(CLI::IsMember({"neutrino"}));
    app.add_flag("--no-offload", no_offload, "no UDP GSO/GRO (plain sendmmsg/recvmmsg)");
    app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off")
        ->capture_default_str();

    scope_values both;
    scope_values c2s;
    scope_values s2c;
    add_scope(app, "Impairments (both directions)", "", "", both);
    add_scope(app, "Client to server only (wins over the plain option)", "c2s-",
              " (client → server)", c2s);
    add_scope(app, "Server to client only (wins over the plain option)", "s2c-",
              " (server → client)", s2c);
    CLI11_PARSE(app, argc, argv);

    try {
        auto level = spdlog::level::from_str(log_level);
        if (level == spdlog::level::off && log_level != "off") {
            throw std::invalid_argument("--log-level: unknown level '" + log_level + "'");
        }
        spdlog::set_level(level);

        nio::proxy_config cfg;
        cfg.listen = endpoint("--listen", listen);
        cfg.target = endpoint("--target", target);
        cfg.seed = seed;
        cfg.max_clients = max_clients;
        cfg.idle_timeout = std::chrono::duration_cast<neutrino::duration>(
            std::chrono::duration<double>(idle_timeout));
        cfg.offload = !no_offload;
        direction_setup up = make_direction(both, c2s, "c2s-");
        direction_setup down = make_direction(both, s2c, "s2c-");
        const bool rules_up = install_classifier(up);
        const bool rules_down = install_classifier(down);
        if ((rules_up || rules_down) && classifier != "neutrino") {
            throw std::invalid_argument("--drop-type and --drop-session need --classifier neutrino");
        }
        cfg.client_to_server = std::move(up.cfg);
        cfg.server_to_client = std::move(down.cfg);

        net::io_context ctx;
        nio::udp_proxy proxy(ctx, cfg);
        spdlog::info("forwarding {} → {} (seed {})", fmt::format("{}:{}", proxy.local_endpoint().address().to_string(), proxy.local_endpoint().port()),
                     target, seed);
        spdlog::info("c2s impairments: {}", describe(proxy.client_to_server().configuration()));
        spdlog::info("s2c impairments: {}", describe(proxy.server_to_client().configuration()));

        net::steady_timer limit(ctx);
        net::steady_timer watch(ctx);
        net::signal_set signals(ctx, SIGINT, SIGTERM);
        bool done = false;
        auto finish = [&] {
            if (done) return;
            done = true;
            proxy.flush();
            proxy.close();
            limit.cancel();
            watch.cancel();
            signals.cancel();
        };
        signals.async_wait([&](boost::system::error_code ec, int) {
            if (!ec) spdlog::info("signal: stopping");
            finish();
        });
        if (duration > 0) {
            limit.expires_after(std::chrono::duration_cast<neutrino::duration>(
                std::chrono::duration<double>(duration)));
            limit.async_wait([&](boost::system::error_code ec) {
                if (!ec) finish();
            });
        }
        // A fatal socket error stops the proxy's reads; notice it and end the run.
        std::function<void()> check = [&] {
            watch.expires_after(std::chrono::milliseconds(100));
            watch.async_wait([&](boost::system::error_code ec) {
                if (ec || done) return;
                if (proxy.last_error()) {
                    spdlog::error("socket error: {}", proxy.last_error().message());
                    finish();
                    return;
                }
                check();
            });
        };
        check();
        ctx.run();

        const auto& k = proxy.counters();
        spdlog::info("clients: {} mapped, {} unmapped when idle, {} refused (no socket)",
                     k.clients_mapped, k.clients_evicted, k.clients_failed);
        spdlog::debug("receive errors: listen {}, upstream {} (refused {}); timer arms {}",
                      k.listen_receive.errors.total(), k.upstream_receive.errors.total(),
                      k.upstream_receive.errors.connection_refused, k.timer_arms);
        std::printf("%s\n%s\n", summary_line("c2s", proxy.client_to_server_summary()).c_str(),
                    summary_line("s2c", proxy.server_to_client_summary()).c_str());
        std::fflush(stdout);
        return proxy.last_error() ? 1 : 0;
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 2;
    }
}

}  // namespace

int main(int argc, char** argv) { return run(argc, argv); }
