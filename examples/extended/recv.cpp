// neutrino-recv: receives files from neutrino-send over neutrino-extended.
//
// Each file is one message [file name, content] (format in transfer.hpp). Messages announced
// larger than --stream-above arrive as `message_part` events, in order, one fragment at a
// time; `extended::stream_decoder` splits them into the two words, and the content goes to
// --out/<name>.part as it arrives (through a 256 KiB buffer), hashed on the way, so a file is
// never held in memory. Smaller messages arrive whole (`message`) and take the same path. Once
// the last byte is on disk the .part file is renamed to <name> (replacing an older one) and the
// sender gets ["ok", <BLAKE2b-256 of the content>]; a refused or broken transfer removes the
// .part file and, when the session is still up, answers ["error", <reason>].
//
// Several senders may transfer at once (one session each). --once: exit after the first
// transfer ended (0 when it succeeded); otherwise run until Ctrl-C or --duration, exit 1 when
// any transfer failed.
//
// --wire v3 (default) runs Extended over Neutrino wire v3 (core::v3::server; fragments of 1238
// bytes); --wire v2 over the reference's wire (1214). Both ends must agree. On v3 the
// receiver announces in the handshake the largest message it takes (a [name, content] message
// with the longest name and --max-size bytes of content, clamped to the u32 field). The program
// is the same for both: run<Server>() below is instantiated once per stack.
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
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include "../common.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/core/v3/server.hpp"
#include "neutrino/extended/server.hpp"
#include "neutrino/extended/stream_decoder.hpp"
#include "neutrino/io/endpoint.hpp"
#include "neutrino/reliable/server.hpp"
#include "../observe.hpp"
#include "transfer.hpp"

namespace nc = neutrino::core;
namespace nr = neutrino::reliable;
namespace ne = neutrino::extended;
namespace ex = neutrino::examples;
namespace net = neutrino::net;
namespace nm = neutrino::monitor;
namespace fs = std::filesystem;

namespace {

using ex::observer_type;
/// The stacks of --wire v3 and --wire v2.
using v3_server_type = ne::basic_server<nr::basic_server<nc::v3::basic_server<observer_type>>>;
using v2_server_type =
    ne::basic_server<nr::basic_server<nc::basic_server<nc::wire::v2, observer_type>>>;
static_assert(v3_server_type::fragment_size == 1238 && v2_server_type::fragment_size == 1214);

/// The command line.
struct options {
    std::string bind = "127.0.0.1:22753";
    std::optional<std::uint16_t> port;
    std::string key_text{nc::example_secret_key_hex};
    std::string wire = ex::default_wire;
    std::string out_dir = ".";
    bool once = false;
    std::uint64_t max_size = ex::max_word_size;
    std::size_t stream_above = std::size_t{1} << 20;
    double duration = 0;
    ex::observe_options observe;
};

/// The Extended configuration for these options on a stack of fragments of `fragment_size`.
ne::config extended_config(const options& o, std::size_t fragment_size) {
    ne::config ecfg;
    // a [name, content] message with the longest name and the largest content
    ecfg.max_message_size =
        static_cast<std::size_t>(ex::message_overhead(ex::max_name_size) + o.max_size);
    ecfg.stream_above = o.stream_above;
    // a message delivered whole is reserved in full: at least one must fit
    ecfg.max_reassembly_bytes = std::max(ecfg.max_reassembly_bytes, o.stream_above + fragment_size);
    return ecfg;
}

/// What finishing a transfer gave: the content hash, or why it failed.
struct outcome {
    std::optional<ex::digest> hash;
    std::string error;
};

/// One file being received: the name word, then the content written to <name>.part.
class incoming_file {
public:
    /// `show_progress`: this transfer may draw the progress bar (one at a time does).
    incoming_file(fs::path dir, std::uint64_t max_size, bool show_progress,
                  neutrino::time_point now)
        : dir_(std::move(dir)), max_size_(max_size), started_(now), show_progress_(show_progress) {}
    incoming_file(const incoming_file&) = delete;
    incoming_file& operator=(const incoming_file&) = delete;
    ~incoming_file() { discard(); }

    /// Bytes of the name (possibly in pieces); `end` when it is complete. Empty or an error.
    std::string on_name(std::span<const std::byte> bytes, bool end) {
        if (name_.size() + bytes.size() > ex::max_name_size) {
            return fmt::format("file name longer than {} bytes", ex::max_name_size);
        }
        name_.append(nc::as_string(bytes));
        if (!end) return {};
        if (auto why = ex::check_file_name(name_); !why.empty()) return why;
        return {};
    }

    /// The content's size, before its first byte: opens the .part file.
    std::string on_content_begin(std::uint64_t size) {
        if (size > max_size_) {
            return fmt::format("{}: {} bytes, more than this receiver takes ({}, --max-size)",
                               name_, size, max_size_);
        }
        size_ = size;
        std::error_code ec;
        const auto space = fs::space(dir_, ec);
        if (!ec && space.available < size) {
            return fmt::format("{}: {} bytes, but only {} free in {}", name_, size, space.available,
                               dir_.string());
        }
        part_ = dir_ / (name_ + ".part");
        if (auto e = out_.open(part_.string())) {
            part_.clear();
            return fmt::format("cannot create {}: {}", (dir_ / (name_ + ".part")).string(),
                               e.message());
        }
        if (show_progress_) bar_ = ex::progress_bar(name_, size, started_);
        return {};
    }

    std::string on_content(std::span<const std::byte> bytes, neutrino::time_point now) {
        if (auto ec = out_.write(bytes))
            return fmt::format("writing {}: {}", part_.string(), ec.message());
        hash_.update(bytes);
        received_ += bytes.size();
        bar_.update(received_, now);
        return {};
    }

    /// Every byte arrived: closes and renames the file; the content hash, or an error.
    outcome finish() {
        bar_.clear();
        if (!out_.is_open()) return {std::nullopt, "the message ended before its content"};
        if (received_ != size_) {
            return {std::nullopt, fmt::format("{}: {} of {} bytes", name_, received_, size_)};
        }
        if (auto ec = out_.close())
            return {std::nullopt, fmt::format("writing {}: {}", part_.string(), ec.message())};
        std::error_code ec;
        fs::rename(part_, dir_ / name_, ec);
        if (ec) return {std::nullopt, fmt::format("renaming {}: {}", part_.string(), ec.message())};
        part_.clear();
        return {hash_.final(), {}};
    }

    /// Forgets the transfer: closes and removes the .part file.
    void discard() noexcept {
        bar_.clear();
        out_.abandon();
        if (!part_.empty()) {
            std::error_code ec;
            fs::remove(part_, ec);
            part_.clear();
        }
    }

    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
    [[nodiscard]] std::uint64_t received() const noexcept { return received_; }
    [[nodiscard]] neutrino::time_point started() const noexcept { return started_; }

    ne::stream_decoder decoder;  ///< the streamed message's framing
    bool rejected = false;       ///< answered with an error; the rest of the message is ignored

private:
    fs::path dir_;
    std::uint64_t max_size_;
    neutrino::time_point started_;
    bool show_progress_;
    std::string name_;
    std::uint64_t size_ = 0;
    std::uint64_t received_ = 0;
    fs::path part_;
    ex::file_writer out_;
    ex::blake2b_256 hash_;
    ex::progress_bar bar_;
};

/// Receives on the stack `Server`, built as `Server(cfg, ecfg, reliable config, below...,
/// observer)`: `below` is what the core machine takes beyond its config (v3: its options).
/// Returns the exit status.
template <class Server, class... Below>
int run(const options& o, nc::server_config cfg, const ne::config& ecfg,
        const net::ip::udp::endpoint& local, const fs::path& dir,
        const nm::terminal_options& terminal, const Below&... below) {
    net::io_context ctx;
    neutrino::io::endpoint<Server> ep(
        ctx, local,
        Server(
            std::move(cfg), ecfg, nr::config{}, below...,
            ex::placeholder_observer()));
    ex::observe_machines(ep.layer(), o.observe, terminal, ep.local_address(), "neutrino-recv");
    const auto bound = ep.local_endpoint();
    spdlog::info("listening on {}:{} (wire {}, public key {}), writing to {}",
                 bound.address().to_string(), bound.port(), o.wire,
                 neutrino::to_hex(ep.layer().next_layer().next_layer().configuration().keys.pk),
                 dir.string());

    std::map<std::uint64_t, std::unique_ptr<incoming_file>> files;  // session id → its transfer
    std::uint64_t succeeded = 0, failed = 0;
    bool done = false;
    std::uint64_t once_session = 0;
    bool lingering = false;
    bool first_ok = false;  // --once: how the first transfer ended
    net::steady_timer limit(ctx);
    net::steady_timer linger(ctx);
    net::signal_set signals(ctx, SIGINT, SIGTERM);

    // Ends the run: SERVER_SHUTDOWN to every session, then nothing is left for ctx.run().
    // Transfers still running are abandoned: their senders get ["error", ...] before the
    // SERVER_SHUTDOWN (best effort: the session ends right after).
    std::function<void(std::uint64_t, const std::string&)> answer_error;
    auto finish = [&] {
        if (done) return;
        done = true;
        for (auto& [id, f] : files) {
            if (f->rejected) continue;
            spdlog::error(
                "session {:016x}: transfer of {} abandoned ({} of {} bytes): receiver shutting "
                "down",
                id, f->name().empty() ? "(unnamed)" : f->name(), f->received(), f->size());
            ++failed;
            answer_error(id, "the receiver is shutting down");
        }
        files.clear();  // removes unfinished .part files
        ep.shutdown();                         // SERVER_SHUTDOWN to every session …
        net::post(ctx, [&] { ep.close(); });  // … sent by the driver this turn, then close
        limit.cancel();
        linger.cancel();
        signals.cancel();
    };
    // --once: wait (up to 3 s) until the sender acknowledged the answer, or left, then stop.
    const auto linger_until = std::make_shared<neutrino::time_point>();
    std::function<void()> finish_when_acknowledged = [&] {
        const bool open = ep.layer().state_of(once_session) == nc::session_state::established;
        const bool pending = open && (ep.layer().pending_bytes(once_session) != 0 ||
                                      ep.layer().next_layer().unacknowledged(once_session) != 0);
        if (!pending || neutrino::clock::now() >= *linger_until) {
            finish();
            return;
        }
        linger.expires_after(std::chrono::milliseconds(10));
        linger.async_wait([&](boost::system::error_code ec) {
            if (!ec && !done) finish_when_acknowledged();
        });
    };
    auto concluded = [&](std::uint64_t id, bool ok) {
        ++(ok ? succeeded : failed);
        if (!o.once || lingering) return;
        lingering = true;
        first_ok = ok;
        once_session = id;
        *linger_until = neutrino::clock::now() + std::chrono::seconds(3);
        net::post(ctx, finish_when_acknowledged);
    };
    // Call these only once the event's views are no longer needed: sending invalidates them.
    auto reply = [&](std::uint64_t id, nc::word_list words) {
        if (ep.layer().state_of(id) != nc::session_state::established) return;
        if (auto r = ep.layer().send(id, words, ep.now()); !r) {
            spdlog::warn("session {:016x}: answer not sent: {}", id, r.error().message());
        }
    };
    answer_error = [&](std::uint64_t id, const std::string& why) {
        reply(id, nc::words(ex::reply_error, why));
    };
    auto refuse = [&](std::uint64_t id, incoming_file* f, const std::string& why) {
        const std::string name =
            f != nullptr && !f->name().empty() ? f->name() : std::string("(unnamed)");
        if (f != nullptr) {
            f->discard();
            f->rejected = true;
        }
        spdlog::error("session {:016x}: transfer of {} failed: {}", id, name, why);
        answer_error(id, why);
        concluded(id, false);
    };
    auto complete = [&](std::uint64_t id, incoming_file& f) {
        auto result = f.finish();
        if (!result.hash) {
            refuse(id, &f, result.error);
            return;
        }
        const auto elapsed = neutrino::clock::now() - f.started();
        spdlog::info("session {:016x}: received {} ({}) in {:.3f} s: {:.1f} MB/s; BLAKE2b-256 {}",
                     id, f.name(), ex::format_bytes(f.size()), ex::seconds(elapsed),
                     ex::mb_per_s(f.size(), elapsed), neutrino::to_hex(*result.hash));
        const std::array<nc::word, 2> answer{nc::as_word(ex::reply_ok), nc::word(*result.hash)};
        reply(id, answer);
        concluded(id, true);
    };
    auto make_file = [&](neutrino::time_point now) {
        return std::make_unique<incoming_file>(dir, o.max_size, files.empty(), now);
    };

    // The next part of a streamed message.
    auto on_part = [&](const ne::event& e) {
        const std::uint64_t id = e.session_id;
        const auto now = ep.now();
        if (e.first) files[id] = make_file(now);  // an unfinished one before it is discarded
        auto it = files.find(id);
        if (it == files.end()) return;  // its start was refused: nothing to do
        incoming_file& f = *it->second;
        if (f.rejected) {
            if (e.last) files.erase(it);
            return;
        }
        std::string error;
        const auto ec = f.decoder.feed(e.bytes, [&](const ne::stream_decoder::chunk& c) {
            if (!error.empty()) return;
            if (f.decoder.word_count() != 2) {
                error = fmt::format("a message of {} words (a file is [name, content])",
                                    f.decoder.word_count());
            } else if (c.word == 0) {
                error = f.on_name(c.bytes, c.word_end);
            } else {
                if (c.word_begin) {
                    error = f.on_content_begin(c.word_size);
                    if (error.empty()) {
                        spdlog::info("session {:016x}: receiving {} ({} bytes)", id, f.name(),
                                     c.word_size);
                    }
                }
                if (error.empty() && !c.bytes.empty()) error = f.on_content(c.bytes, now);
            }
        });
        if (error.empty() && ec) error = "malformed message: " + ec.message();
        if (error.empty() && e.last && !(f.decoder.complete() && f.decoder.word_count() == 2)) {
            error = "the message ended early";
        }
        // e.bytes is not used below: answering may invalidate it
        if (!error.empty()) {
            refuse(id, &f, error);
        } else if (e.last) {
            complete(id, f);
        }
        if (e.last) files.erase(id);
    };

    // A whole message (announced at most --stream-above bytes).
    auto on_message = [&](const ne::event& e) {
        const std::uint64_t id = e.session_id;
        auto f = make_file(neutrino::clock::now());
        std::string error;
        if (e.words.size() != 2) {
            error =
                fmt::format("a message of {} words (a file is [name, content])", e.words.size());
        } else {
            error = f->on_name(e.words[0], true);
            if (error.empty()) error = f->on_content_begin(e.words[1].size());
            if (error.empty()) error = f->on_content(e.words[1], neutrino::clock::now());
        }
        if (!error.empty()) {
            refuse(id, f.get(), error);
        } else {
            complete(id, *f);
        }
    };

    ep.set_event_handler([&](const ne::event& e) {
        switch (e.kind) {
            case ne::event_kind::established:
                spdlog::info("session {:016x} established from port {}", e.session_id, e.peer.port);
                break;
            case ne::event_kind::address_changed:
                spdlog::info("session {:016x} moved to port {}", e.session_id, e.peer.port);
                break;
            case ne::event_kind::closed:
                spdlog::info("session {:016x} closed: {}", e.session_id, e.reason.message());
                if (auto it = files.find(e.session_id); it != files.end()) {
                    incoming_file& f = *it->second;
                    if (!f.rejected) {
                        spdlog::error(
                            "session {:016x}: closed during the transfer of {} ({} of {} "
                            "bytes): {}",
                            e.session_id, f.name().empty() ? "(unnamed)" : f.name(), f.received(),
                            f.size(), e.reason.message());
                        concluded(e.session_id, false);
                    }
                    files.erase(it);  // removes the .part file
                }
                break;
            case ne::event_kind::message_part: on_part(e); break;
            case ne::event_kind::message: on_message(e); break;
            case ne::event_kind::message_failed: {
                auto it = files.find(e.session_id);
                incoming_file* f = it == files.end() ? nullptr : it->second.get();
                if (f != nullptr && f->rejected) break;
                std::string why = "message failed: " + e.reason.message();
                if (e.reason == ne::errc::message_too_large) {
                    why += fmt::format(
                        " (this receiver takes files of at most {} bytes, --max-size)", o.max_size);
                }
                refuse(e.session_id, f, why);
                files.erase(e.session_id);
                break;
            }
            default: break;
        }
    });

    signals.async_wait([&](boost::system::error_code ec, int) {
        if (!ec) spdlog::info("signal: shutting down");
        finish();
    });
    if (o.duration > 0) {
        limit.expires_after(std::chrono::duration_cast<neutrino::duration>(
            std::chrono::duration<double>(o.duration)));
        limit.async_wait([&](boost::system::error_code ec) {
            if (!ec) {
                spdlog::info("--duration reached");
                finish();
            }
        });
    }
    ctx.run();
    const auto& st = ep.layer().stats();
    const auto& rst = ep.layer().next_layer().stats();
    spdlog::info(
        "done: {} files received, {} failed; {} fragments received; reliable: {} requests "
        "sent, "
        "{} out of order; {} datagrams dropped",
        succeeded, failed, st.fragments_received, rst.requests_sent, rst.buffered,
        ep.layer().next_layer().next_layer().stats().dropped_total);
    if (o.once) return lingering && first_ok ? 0 : 1;
    return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "Receives files over neutrino-extended from neutrino-send and confirms each by its "
        "BLAKE2b-256 hash"};
    options o;
    app.add_option("--bind", o.bind, "address:port to listen on")->capture_default_str();
    app.add_option("--port", o.port,
                   "port to listen on (replaces the port of --bind; 0: any free port)");
    app.add_option("--key,--keys", o.key_text,
                   "secret key: 64 hex characters, or a file holding them (default: the "
                   "reference's example key)");
    app.add_option("--wire", o.wire, ex::wire_help)
        ->capture_default_str()
        ->check(CLI::IsMember(ex::wire_versions));
    app.add_option("--out", o.out_dir, "directory the files are written to (created if missing)")
        ->capture_default_str();
    app.add_flag("--once", o.once, "exit after the first transfer (0 when it succeeded)");
    app.add_option("--max-size", o.max_size,
                   "largest file accepted, in bytes (at most 4 GiB - 1: one Extended word)")
        ->capture_default_str()
        ->check(CLI::Range(std::uint64_t{0}, ex::max_word_size));
    app.add_option(
           "--stream-above", o.stream_above,
           "messages announced larger than this many bytes are written to disk as they arrive")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 30));
    app.add_option("--duration", o.duration, "stop after this many seconds (0: until Ctrl-C)")
        ->capture_default_str();
    ex::add_observe_options(app, o.observe);
    CLI11_PARSE(app, argc, argv);

    try {
        const auto terminal = ex::apply_observe_options(
            o.observe, o.wire == "v3" ? nm::neutrino_v3_description() : nm::neutrino_v2_description());
        nc::server_config cfg;
        cfg.keys.sk = nc::secret_key(ex::load_key(o.key_text, "--key"));
        cfg.keys.pk = nc::public_key_of(cfg.keys.sk);
        if (nc::is_example_key(cfg.keys.pk)) {
            spdlog::warn("using the reference's publicly known example key pair: for tests only");
        }
        auto local = ex::parse_endpoint(o.bind);
        if (o.port) local.port(*o.port);
        const fs::path dir(o.out_dir);
        fs::create_directories(dir);  // throws with the path and the reason
        if (!fs::is_directory(dir))
            throw std::invalid_argument("--out: " + o.out_dir + " is not a directory");

        if (o.wire == "v3") {
            const auto ecfg = extended_config(o, v3_server_type::fragment_size);
            // The Extended limit answered in the handshake (the v3 machine's default is
            // 262144): the same as the layer's own.
            nc::v3::server_options v3_options;
            v3_options.max_message_size =
                ex::announced_message_size(ecfg.max_message_size);
            return run<v3_server_type>(o, std::move(cfg), ecfg, local, dir, terminal, v3_options);
        }
        return run<v2_server_type>(o, std::move(cfg),
                                   extended_config(o, v2_server_type::fragment_size), local, dir,
                                   terminal);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 2;
    }
}
