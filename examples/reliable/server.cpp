// neutrino-reliable-server: the reference's Reliable example server on neutrino-reliable.
//
// Every --interval it sends each established client the "multiply" request
// ["374", <int 1..99>, <float>] and checks the answer ["630", <product>]
// (spec neutrino.md §16.1).
//
// Bulk mode (issue #4), chosen by the client: a message whose first word is "bulk" carries a
// sequence number in the first 8 bytes (little-endian) of its second word.
//  - ["bulk", <seq 0>, "<N>"] announces a transfer of N bytes;
//  - ["bulk", <seq k> + content] (k = 1, 2, ...) carries the next bytes of the stream, where the
//    byte at stream offset i is i mod 251.
// The server checks order and content and, once N bytes arrived, answers
// ["bulk-ok", "<bytes>", "<MB/s>"] (MB/s measured here, first to last bulk message), or
// ["bulk-fail", "<reason>"] at the first mismatch.
//
// It exits 0 once --count successes (correct answers or verified bulk transfers) arrived (or,
// with --count 0, when --duration ends without a failure), 1 otherwise.
//
// --monitor prints one line per packet event (neutrino::monitor::terminal_observer); --events FILE
// writes every packet event of this endpoint as JSON lines (neutrino::monitor::jsonl_observer),
// for `neutrino-monitor report FILE -o page.html`.
//
// --wire both (default) runs Reliable over core::dual_server: wire v2 and v3 clients on one
// socket, routed by each datagram's version byte; --wire v3 only over Neutrino wire v3
// (core::v3::server); --wire v2 only over the reference's wire (what the Python client speaks).
// run<Server>() below is instantiated once per stack.

#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../common.hpp"
#include "../observe.hpp"
#include "neutrino/core/dual_server.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/core/v3/server.hpp"
#include "neutrino/io/endpoint.hpp"
#include "neutrino/monitor/describe.hpp"
#include "neutrino/monitor/fanout.hpp"
#include "neutrino/monitor/jsonl_observer.hpp"
#include "neutrino/monitor/terminal_observer.hpp"
#include "neutrino/reliable/server.hpp"

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

/// The bulk stream's content: byte i is i mod 251. `pattern()[o % 251 ...]` is the stream
/// from offset o for up to max_content bytes.
const std::vector<std::byte>& pattern() {
    static const std::vector<std::byte> p = [] {
        std::vector<std::byte> v(pattern_period + max_content);
        for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<std::byte>(i % pattern_period);
        return v;
    }();
    return p;
}

std::uint64_t load_u64(const std::byte* p) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | std::to_integer<std::uint64_t>(p[i]);
    return v;
}

/// One session's bulk transfer.
struct bulk_state {
    std::uint64_t total = 0;     ///< announced size
    std::uint64_t received = 0;  ///< stream bytes checked
    std::uint64_t next_seq = 1;
    neutrino::time_point started{};
    bool finished = false;
};

}  // namespace

namespace {

/// The command line.
struct options {
    std::string bind = "127.0.0.1:22753";
    std::string key_hex{nc::example_secret_key_hex};
    std::uint64_t count = 0;
    double duration = 0;
    int interval_ms = 2000;
    ex::observe_options observe;
    std::string wire = ex::default_server_wire;
};

/// The reliable server `Server` over the machine of `--wire`, with `observer` (the dual server:
/// v3 with default options).
template <class Server>
Server make_server(nc::server_config cfg, observer_type observer) {
    if constexpr (ex::dual_version_machine<typename Server::next_layer_type>) {
        return Server(std::move(cfg), nc::v3::server_options{}, std::move(observer));
    } else {
        return Server(std::move(cfg), std::move(observer));
    }
}

/// Runs the server on the stack `Server`: a reliable server over a core server machine, or
/// over the dual-version server of two.
template <class Server>
int run(const options& o, nc::server_config cfg, const nm::terminal_options& monitor_options) {
    // The options under the names the code below uses.
    const std::string& bind = o.bind;
    const std::uint64_t count = o.count;
    const double duration = o.duration;
    const int interval_ms = o.interval_ms;
    net::io_context ctx;
    neutrino::io::endpoint<Server> ep(ctx, ex::parse_endpoint(bind),
                                            make_server<Server>(std::move(cfg), ex::placeholder_observer()));
    ex::observe_machines(ep.layer(), o.observe, monitor_options, ep.local_address(), "neutrino-reliable-server");
    spdlog::info("listening on {} (wire {}, public key {})", bind, o.wire,
                 neutrino::to_hex(ep.layer().next_layer().configuration().keys.pk));

    std::mt19937_64 rng(std::random_device{}());
    std::map<std::uint64_t, double> expected;  // session id → product of its last request
    std::map<std::uint64_t, bulk_state> bulks;  // session id → its bulk transfer
    std::uint64_t correct = 0, wrong = 0, bulk_ok = 0;
    bool done = false;
    net::steady_timer tick(ctx);
    net::steady_timer limit(ctx);
    net::steady_timer linger(ctx);
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
        linger.cancel();
    };
    // Once --count is reached, wait (up to 3 s) until every session acknowledged what we
    // sent (the last answer may need a retransmission), then shut down.
    const auto linger_until = std::make_shared<neutrino::time_point>();
    std::function<void()> finish_when_acknowledged = [&] {
        bool pending = false;
        ep.layer().for_each_session([&](std::uint64_t id, nc::session_state) {
            if (ep.layer().unacknowledged(id) != 0) pending = true;
        });
        if (!pending || neutrino::clock::now() >= *linger_until) {
            finish();
            return;
        }
        linger.expires_after(std::chrono::milliseconds(10));
        linger.async_wait([&](boost::system::error_code ec) {
            if (!ec && !done) finish_when_acknowledged();
        });
    };
    bool lingering = false;
    auto check_done = [&] {
        if (count == 0 || correct + bulk_ok < count || lingering) return;
        lingering = true;
        *linger_until = neutrino::clock::now() + std::chrono::seconds(3);
        net::post(ctx, finish_when_acknowledged);
    };
    auto reply = [&](std::uint64_t id, nc::word_list words) {
        if (auto r = ep.layer().send(id, words, ep.now()); !r) {
            spdlog::warn("session {:016x}: reply not sent: {}", id, r.error().message());
        }
    };
    auto bulk_failed = [&](std::uint64_t id, bulk_state& b, const std::string& why) {
        spdlog::error("session {:016x}: bulk transfer failed: {}", id, why);
        ++wrong;
        b.finished = true;
        reply(id, nc::words("bulk-fail", why));
    };

    // A message whose first word is "bulk" (see the file comment).
    auto on_bulk = [&](const nc::event& e) {
        const std::uint64_t id = e.session_id;
        const auto now = ep.now();
        if (e.words.size() < 2 || e.words[1].size() < 8) {
            bulk_state b;
            bulk_failed(id, b, "malformed bulk message");
            return;
        }
        const nc::word second = e.words[1];
        const std::uint64_t seq = load_u64(second.data());
        if (seq == 0) {  // announcement
            auto total = e.words.size() == 3 ? ex::parse_number<std::uint64_t>(nc::as_string(e.words[2]))
                                             : std::nullopt;
            bulk_state& b = bulks[id];
            b = bulk_state{};
            if (!total || *total == 0) {
                bulk_failed(id, b, "bad announcement");
                return;
            }
            b.total = *total;
            b.started = now;
            spdlog::info("session {:016x}: bulk transfer of {} bytes announced", id, b.total);
            return;
        }
        auto it = bulks.find(id);
        if (it == bulks.end()) {
            bulk_state b;
            bulk_failed(id, b, "bulk data before its announcement");
            return;
        }
        bulk_state& b = it->second;
        if (b.finished) return;
        if (seq != b.next_seq) {
            bulk_failed(id, b, fmt::format("sequence {} where {} was expected", seq, b.next_seq));
            return;
        }
        ++b.next_seq;
        const auto content = second.subspan(8);
        const std::uint64_t left = b.total - b.received;
        const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, max_content));
        if (content.size() != want) {
            bulk_failed(id, b, fmt::format("message {} holds {} bytes, {} expected", seq, content.size(), want));
            return;
        }
        const std::byte* ref = pattern().data() + b.received % pattern_period;
        if (std::memcmp(content.data(), ref, content.size()) != 0) {
            bulk_failed(id, b, fmt::format("content mismatch in message {}", seq));
            return;
        }
        b.received += content.size();
        if (b.received == b.total) {
            b.finished = true;
            const double secs = std::chrono::duration<double>(now - b.started).count();
            const double mbps = secs > 0 ? static_cast<double>(b.total) / secs / 1e6 : 0.0;
            const std::string bytes_text = std::to_string(b.received);
            const std::string rate_text = fmt::format("{:.1f}", mbps);
            ++bulk_ok;
            spdlog::info("session {:016x}: bulk transfer of {} bytes in order and intact, {:.3f} s, {} MB/s",
                         id, b.received, secs, rate_text);
            reply(id, nc::words("bulk-ok", bytes_text, rate_text));
            check_done();
        }
    };

    ep.set_event_handler([&](const nc::event& e) {
        switch (e.kind) {
            case nc::event_kind::established:
                spdlog::info("session {:016x} established from port {}", e.session_id, e.peer.port);
                break;
            case nc::event_kind::closed:
                spdlog::info("session {:016x} closed: {}", e.session_id, e.reason.message());
                expected.erase(e.session_id);
                if (auto it = bulks.find(e.session_id); it != bulks.end()) {
                    if (!it->second.finished) {
                        spdlog::error("session {:016x}: closed during a bulk transfer ({} of {} bytes)",
                                      e.session_id, it->second.received, it->second.total);
                        ++wrong;
                    }
                    bulks.erase(it);
                }
                break;
            case nc::event_kind::address_changed:
                spdlog::info("session {:016x} moved to port {}", e.session_id, e.peer.port);
                break;
            case nc::event_kind::data: {
                if (!e.words.empty() && nc::as_string(e.words[0]) == "bulk") {
                    on_bulk(e);
                    break;
                }
                auto it = expected.find(e.session_id);
                if (e.words.size() == 2 && nc::as_string(e.words[0]) == "630" && it != expected.end()) {
                    auto got = ex::parse_number<double>(nc::as_string(e.words[1]));
                    if (got && std::abs(*got - it->second) <= 1e-9 * std::max(1.0, std::abs(it->second))) {
                        ++correct;
                        spdlog::info("session {:016x}: answer {} correct ({})", e.session_id,
                                     nc::as_string(e.words[1]), ex::progress(correct, count, "correct"));
                    } else {
                        ++wrong;
                        spdlog::warn("session {:016x}: wrong answer {}", e.session_id, nc::as_string(e.words[1]));
                    }
                    expected.erase(it);
                } else {
                    spdlog::info("session {:016x}: {} words", e.session_id, e.words.size());
                }
                check_done();
                break;
            }
            default: break;
        }
    });

    // Every interval: a multiply request to every established session with room in its
    // send window (a session in the middle of a bulk transfer gets them too).
    std::function<void()> schedule = [&] {
        tick.expires_after(std::chrono::milliseconds(interval_ms));
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
            std::vector<std::uint64_t> ids;
            ep.layer().for_each_session([&](std::uint64_t id, nc::session_state s) {
                if (s == nc::session_state::established) ids.push_back(id);
            });
            for (auto id : ids) {
                if (auto r = ep.layer().send(id, words, now); r) {
                    expected[id] = product;
                } else {
                    spdlog::debug("session {:016x}: request not sent: {}", id, r.error().message());
                }
            }
            schedule();
        });
    };
    schedule();

    signals.async_wait([&](boost::system::error_code ec, int) {
        if (!ec) spdlog::info("signal: shutting down");
        finish();
    });
    if (duration > 0) {
        limit.expires_after(std::chrono::duration_cast<neutrino::duration>(std::chrono::duration<double>(duration)));
        limit.async_wait([&](boost::system::error_code ec) {
            if (!ec) finish();
        });
    }
    ctx.run();
    const auto& st = ep.layer().stats();
    spdlog::info("done: {} correct answers, {} wrong answers or failed transfers, {} bulk transfers "
                 "verified; {} datagrams dropped (duplicates, replays or invalid); reliable layer: {} DATA delivered, {} "
                 "arrived out of order, {} retransmission requests sent, {} packets retransmitted, at "
                 "most {} packets unacknowledged / {} held out of order",
                 correct, wrong, bulk_ok, ex::dropped_total(ep.layer().next_layer()), st.delivered,
                 st.buffered, st.requests_sent, st.retransmitted, st.max_send_buffered,
                 st.max_receive_buffered);
    if (wrong != 0) return 1;
    return count == 0 || correct + bulk_ok >= count ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Neutrino Reliable example server (multiply protocol of the Python reference, bulk check)"};
    options o;
    app.add_option("--bind", o.bind, "address:port to listen on")->capture_default_str();
    app.add_option("--key", o.key_hex, "server secret key, 64 hex characters (default: the reference's example key)");
    app.add_option("--wire", o.wire, ex::server_wire_help)->capture_default_str()->check(CLI::IsMember(ex::server_wire_versions));
    app.add_option("--count", o.count,
                   "exit 0 after this many correct answers or verified bulk transfers (0: run for --duration)")
        ->capture_default_str();
    app.add_option("--duration", o.duration, "stop after this many seconds (0: until Ctrl-C)")->capture_default_str();
    app.add_option("--interval", o.interval_ms, "milliseconds between multiply requests")->capture_default_str()->check(CLI::Range(1, 3600000));
    ex::add_observe_options(app, o.observe);
    CLI11_PARSE(app, argc, argv);

    try {
        // Each machine gets the description of its own wire version; the filter's type names
        // (and the --events log's, for both) are v3's, a superset of v2's names.
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
            using dual = nc::basic_dual_server<nc::basic_server<nc::wire::v2, observer_type>,
                                               nc::v3::basic_server<observer_type>>;
            return run<nr::basic_server<dual>>(o, std::move(cfg), monitor_options);
        }
        if (o.wire == "v3") return run<nr::basic_server<nc::v3::basic_server<observer_type>>>(o, std::move(cfg), monitor_options);
        return run<nr::basic_server<nc::basic_server<nc::wire::v2, observer_type>>>(o, std::move(cfg), monitor_options);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 2;
    }
}
