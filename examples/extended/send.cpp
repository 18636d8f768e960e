// neutrino-send: sends one file to neutrino-recv over neutrino-extended.
//
// The file goes as ONE message [file name, content] (format in transfer.hpp), written as a
// streamed message: `begin_message` announces the two word sizes (known from fstat), then the
// file is read in --chunk pieces and handed to `write`, which takes as much as the reliable
// send window admits; when it takes less, the rest waits for the layer's `writable` event. The
// file is never held whole, and the BLAKE2b-256 hash of the content is computed while reading.
//
// Then it waits for the receiver's answer ["ok", <hash>] (or ["error", <reason>]), compares the
// hashes and exits 0 only when they match (1: the transfer failed, 2: bad arguments). It prints
// the elapsed time and the throughput (MB = 10^6 bytes) from the session's establishment to
// the receiver's answer.
//
// --wire v3 (default) runs Extended over Neutrino wire v3 (core::v3::client, Noise NK towards
// the receiver's static key; fragments of 1238 bytes); --wire v2 over the reference's wire
// (1214). Both ends must agree. On v3 the Extended message size limits are exchanged in the
// handshake: this side announces its own, and a file the receiver's announced limit cannot
// hold is refused before its first byte. The program is the same for both: run<Client>()
// below is instantiated once per stack.
//
// --monitor prints one line per packet (neutrino::monitor::terminal_observer); --pcap FILE
// records every datagram, --keylog FILE the session keys, for neutrino-monitor decrypt.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "../common.hpp"
#include "neutrino/core/client.hpp"
#include "neutrino/core/v3/client.hpp"
#include "neutrino/extended/client.hpp"
#include "neutrino/io/endpoint.hpp"
#include "neutrino/reliable/client.hpp"
#include "../observe.hpp"
#include "transfer.hpp"

namespace nc = neutrino::core;
namespace nr = neutrino::reliable;
namespace ne = neutrino::extended;
namespace ex = neutrino::examples;
namespace net = neutrino::net;
namespace nm = neutrino::monitor;

namespace {

using ex::observer_type;
/// The stacks of --wire v3 and --wire v2.
using v3_client_type = ne::basic_client<nr::basic_client<nc::v3::basic_client<observer_type>>>;
using v2_client_type =
    ne::basic_client<nr::basic_client<nc::basic_client<nc::wire::v2, observer_type>>>;
static_assert(v3_client_type::fragment_size == 1238 && v2_client_type::fragment_size == 1214);

/// The command line.
struct options {
    std::string path;
    std::string server = "127.0.0.1:22753";
    std::string bind = "0.0.0.0:0";
    std::string key_text{nc::example_public_key_hex};
    std::string wire = ex::default_wire;
    std::size_t chunk_kib = 256;
    double connect_timeout = 10;
    double duration = 0;
    ex::observe_options observe;
};

/// The largest Extended message the receiver announced in the handshake (v3), or nullopt when
/// the wire carries none (v2) or the announcement saturated the u32 field.
template <class Client>
std::optional<std::uint64_t> announced_peer_limit(const Client& layer) {
    const auto& core = layer.next_layer().next_layer();
    if constexpr (requires { core.peer_message_limit(); }) {
        const std::uint64_t limit = core.peer_message_limit();
        if (limit < ex::max_announced_message_size) return limit;
    }
    return std::nullopt;
}

/// The file side of the transfer: the name word, then the content read chunk by chunk.
class file_source {
public:
    file_source(std::string name, ex::file_reader file, std::size_t chunk_size)
        : name_(std::move(name)), file_(std::move(file)), buffer_(chunk_size) {}

    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] std::uint64_t size() const noexcept { return file_.size(); }
    /// Content bytes handed to the layer.
    [[nodiscard]] std::uint64_t written() const noexcept { return written_; }
    [[nodiscard]] bool done() const noexcept {
        return name_off_ == name_.size() && written_ == file_.size();
    }

    /// Hands the layer as much as it takes now. Returns an error message on failure (file or
    /// layer), empty otherwise; stops early when `write` took less than offered (a `writable`
    /// event follows).
    template <class Layer>
    std::string pump(Layer& layer) {
        const auto now = neutrino::clock::now();
        if (name_off_ < name_.size()) {
            const auto rest = nc::as_word(name_).subspan(name_off_);
            auto n = layer.write(rest, now);
            if (!n) return "write: " + n.error().message();
            name_off_ += *n;
            if (*n < rest.size()) return {};
        }
        while (written_ < file_.size()) {
            if (off_ == len_) {
                const auto want = static_cast<std::size_t>(
                    std::min<std::uint64_t>(buffer_.size(), file_.size() - read_));
                auto got = file_.read(std::span<std::byte>(buffer_).first(want));
                if (!got) return fmt::format("reading {}: {}", name_, got.error().message());
                if (*got != want)
                    return fmt::format("{} shrank while being sent ({} of {} bytes read)", name_,
                                       read_ + *got, file_.size());
                hash_.update(std::span<const std::byte>(buffer_).first(want));
                read_ += want;
                off_ = 0;
                len_ = want;
            }
            const auto rest = std::span<const std::byte>(buffer_).subspan(off_, len_ - off_);
            auto n = layer.write(rest, neutrino::clock::now());
            if (!n) return "write: " + n.error().message();
            off_ += *n;
            written_ += *n;
            if (*n < rest.size()) return {};
        }
        return {};
    }

    /// The content's hash, once every byte was read.
    [[nodiscard]] ex::digest digest() {
        if (!digest_) digest_ = hash_.final();
        return *digest_;
    }

private:
    std::string name_;
    ex::file_reader file_;
    std::vector<std::byte> buffer_;
    std::size_t name_off_ = 0;
    std::size_t off_ = 0;  ///< next byte of buffer_ to write
    std::size_t len_ = 0;  ///< bytes of buffer_ holding content
    std::uint64_t read_ = 0;
    std::uint64_t written_ = 0;
    ex::blake2b_256 hash_;
    std::optional<ex::digest> digest_;
};

/// Sends `source` on the stack `Client`, built as `Client(cfg, ecfg, reliable config, below...,
/// observer)`: `below` is what the core machine takes beyond its config (v3: its options).
/// Returns the exit status (0: confirmed, 1: failed).
template <class Client, class... Below>
int run(const options& o, const nc::client_config& cfg, const ne::config& ecfg, file_source& source,
        const nm::terminal_options& terminal, const Below&... below) {
    const auto server_endpoint = ex::parse_endpoint(o.server);
    const std::string& name = source.name();
    const std::uint64_t size = source.size();
    const std::uint64_t message_size = ex::message_overhead(name.size()) + size;

    net::io_context ctx;
    // The recording observer needs the bound address, known once the endpoint exists: a
    // placeholder (records nothing) until then.
    neutrino::io::endpoint<Client> ep(
        ctx, ex::parse_endpoint(o.bind),
        Client(
            cfg, ecfg, nr::config{}, below...,
            ex::placeholder_observer()));
    ex::observe_machines(ep.layer(), o.observe, terminal, ex::recording_address(ep, server_endpoint, ctx),
                         "neutrino-send");

    bool done = false;
    bool confirmed = false;
    bool began = false;
    bool all_written = false;
    bool pump_posted = false;
    neutrino::time_point started{};
    ex::progress_bar bar;
    net::steady_timer connect_limit(ctx);
    net::steady_timer limit(ctx);
    net::signal_set signals(ctx, SIGINT, SIGTERM);

    auto finish = [&] {
        if (done) return;
        done = true;
        bar.clear();
        ep.disconnect();  // CLIENT_GOOD_BYE, sent before the endpoint closes
        connect_limit.cancel();
        limit.cancel();
        signals.cancel();
    };
    bool failed = false;
    auto fail = [&](const std::string& why) {  // reports the first failure only
        if (failed || done) return;
        failed = true;
        bar.clear();
        spdlog::error("{}", why);
        net::post(ctx, finish);
    };

    // Writes what the layer takes; called after `established` and every `writable`.
    auto pump = [&] {
        pump_posted = false;
        if (done || all_written || !ep.layer().established()) return;
        if (auto why = source.pump(ep.layer()); !why.empty()) {
            fail(why);
            return;
        }
        bar.update(source.written(), neutrino::clock::now());
        if (source.done()) {
            all_written = true;
            bar.clear();
            spdlog::info(
                "all {} bytes handed to the layer after {:.3f} s; waiting for the receiver's hash",
                size, ex::seconds(neutrino::clock::now() - started));
        }
    };
    auto post_pump = [&] {
        if (pump_posted) return;
        pump_posted = true;
        net::post(ctx, pump);
    };

    auto on_answer = [&](const ne::event& e) {
        const auto first = e.words.empty() ? std::string_view{} : nc::as_string(e.words[0]);
        if (first == ex::reply_error) {
            fail(fmt::format("the receiver refused the transfer: {}",
                             e.words.size() > 1 ? nc::as_string(e.words[1]) : "no reason given"));
            return;
        }
        if (first != ex::reply_ok || e.words.size() != 2 || e.words[1].size() != ex::hash_size) {
            fail(fmt::format("unexpected answer from the receiver ({} words)", e.words.size()));
            return;
        }
        if (!all_written) {
            fail("the receiver confirmed a transfer that was not complete");
            return;
        }
        const auto elapsed = neutrino::clock::now() - started;
        const auto mine = source.digest();
        if (!ex::same_digest(mine, e.words[1])) {
            fail(fmt::format("hash mismatch: sent {}, the receiver has {}", neutrino::to_hex(mine),
                             neutrino::to_hex(e.words[1])));
            return;
        }
        confirmed = true;
        const auto& st = ep.layer().next_layer().stats();
        spdlog::info(
            "sent {} ({}) in {:.3f} s: {:.1f} MB/s; BLAKE2b-256 {} confirmed by the receiver", name,
            ex::format_bytes(size), ex::seconds(elapsed), ex::mb_per_s(size, elapsed),
            neutrino::to_hex(mine));
        spdlog::info(
            "{} fragments of {} bytes sent (wire {}); reliable: {} retransmitted, {} requests "
            "received, {} keep-alives",
            ep.layer().stats().fragments_sent, Client::fragment_size, o.wire, st.retransmitted,
            st.requests_received, st.keep_alives_sent);
        net::post(ctx, finish);
    };

    ep.set_event_handler([&](const ne::event& e) {
        switch (e.kind) {
            case ne::event_kind::connecting:
                spdlog::info("dialling {} (wire {})", o.server, o.wire);
                break;
            case ne::event_kind::established: {
                connect_limit.cancel();
                if (began) break;
                began = true;
                started = neutrino::clock::now();
                spdlog::info("session {:016x} established; sending {} ({} bytes)", e.session_id,
                             name, size);
                // v3: the receiver announced its limit; sending more would only be refused
                if (auto peer = announced_peer_limit(ep.layer()); peer && message_size > *peer) {
                    fail(fmt::format(
                        "the receiver takes messages of at most {} bytes (announced in the "
                        "handshake); {} needs {}",
                        *peer, name, message_size));
                    break;
                }
                bar = ex::progress_bar(name, size, started);
                const std::array<std::uint64_t, 2> sizes{name.size(), size};
                if (auto r = ep.layer().begin_message(sizes, started); !r) {
                    fail("begin_message: " + r.error().message());
                    break;
                }
                post_pump();
                break;
            }
            case ne::event_kind::writable: post_pump(); break;
            case ne::event_kind::server_shutdown: spdlog::warn("the receiver shut down"); break;
            case ne::event_kind::closed:
                if (!confirmed && !done) {
                    fail(fmt::format(
                        "session {:016x} closed before the receiver confirmed the file: {}",
                        e.session_id, e.reason.message()));
                }
                break;
            case ne::event_kind::message: on_answer(e); break;
            case ne::event_kind::message_failed:
                fail(fmt::format("a message from the receiver failed: {}", e.reason.message()));
                break;
            default: break;
        }
    });

    if (auto r = ep.layer().connect(ep.now()); !r) {
        throw std::runtime_error("connect: " + r.error().message());
    }

    connect_limit.expires_after(std::chrono::duration_cast<neutrino::duration>(
        std::chrono::duration<double>(o.connect_timeout)));
    connect_limit.async_wait([&](boost::system::error_code ec) {
        if (!ec && !began)
            fail(ex::no_answer_hint(o.server, o.wire, o.connect_timeout));
    });
    signals.async_wait([&](boost::system::error_code ec, int) {
        if (!ec) fail("interrupted");
    });
    if (o.duration > 0) {
        limit.expires_after(std::chrono::duration_cast<neutrino::duration>(
            std::chrono::duration<double>(o.duration)));
        limit.async_wait([&](boost::system::error_code ec) {
            if (!ec)
                fail(fmt::format("not confirmed within --duration {} s ({} of {} bytes written)",
                                 o.duration, source.written(), size));
        });
    }
    ctx.run();
    return confirmed ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "Sends one file over neutrino-extended to neutrino-recv, which confirms it by its "
        "BLAKE2b-256 hash"};
    options o;
    app.add_option("file", o.path, "the file to send (a regular file of at most 4 GiB - 1 bytes)")
        ->required();
    app.add_option("--server", o.server, "receiver address:port")->capture_default_str();
    app.add_option("--bind", o.bind, "local address:port")->capture_default_str();
    app.add_option("--key", o.key_text,
                   "receiver's public key: 64 hex characters, or a file holding them (default: the "
                   "reference's example key)");
    app.add_option("--wire", o.wire, ex::wire_help)
        ->capture_default_str()
        ->check(CLI::IsMember(ex::wire_versions));
    app.add_option("--chunk", o.chunk_kib, "KiB read from the file at a time")
        ->capture_default_str()
        ->check(CLI::Range(1, 65536));
    app.add_option("--connect-timeout", o.connect_timeout,
                   "give up when no session is established after this many seconds")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--duration", o.duration, "give up after this many seconds in all (0: no limit)")
        ->capture_default_str();
    ex::add_observe_options(app, o.observe);
    CLI11_PARSE(app, argc, argv);

    try {
        const bool v3 = o.wire == "v3";
        const auto terminal = ex::apply_observe_options(
            o.observe, o.wire == "v3" ? nm::neutrino_v3_description() : nm::neutrino_v2_description());
        nc::client_config cfg;
        cfg.server_key = ex::load_key(o.key_text, "--key");
        cfg.server = neutrino::io::to_peer_address(ex::parse_endpoint(o.server));
        cfg.reconnect = false;  // a transfer does not survive a new session
        if (nc::is_example_key(cfg.server_key)) {
            spdlog::warn(
                "the receiver uses the reference's publicly known example key: for tests only");
        }

        ex::file_reader reader;
        if (auto ec = reader.open(o.path))
            throw std::invalid_argument(fmt::format("{}: {}", o.path, ec.message()));
        std::string name = std::filesystem::path(o.path).filename().string();
        if (auto why = ex::check_file_name(name); !why.empty())
            throw std::invalid_argument(fmt::format("{}: {}", o.path, why));
        if (reader.size() > ex::max_word_size) {
            throw std::invalid_argument(
                fmt::format("{}: {} bytes; a word of the Extended framing holds at most {}", o.path,
                            reader.size(), ex::max_word_size));
        }
        const std::uint64_t size = reader.size();
        file_source source(name, std::move(reader), o.chunk_kib * 1024);

        ne::config ecfg;
        // the message is checked against our own maximum too
        ecfg.max_message_size = static_cast<std::size_t>(std::max<std::uint64_t>(
            ex::message_overhead(name.size()) + size, ecfg.max_message_size));

        if (v3) {
            // The Extended limit this side announces in the handshake (the v3 machine's
            // default is 65536): the same as the layer's own.
            nc::v3::client_options v3_options;
            v3_options.max_message_size =
                ex::announced_message_size(ecfg.max_message_size);
            return run<v3_client_type>(o, cfg, ecfg, source, terminal, v3_options);
        }
        return run<v2_client_type>(o, cfg, ecfg, source, terminal);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 2;
    }
}
