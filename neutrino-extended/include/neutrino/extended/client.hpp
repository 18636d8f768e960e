#pragma once
/// \file
/// `extended::basic_client<Next>`: NeutrinoExtended's client, a layer over a reliable client
/// (`extended<reliable<core>>`). Application messages of any size up to
/// `config::max_message_size` are delivered whole, in order, exactly once, or streamed as
/// they arrive; a failed series is reported, never delivered in part as if whole.
/// spec: neutrino.md §13.3
///
/// Control packets keep the Reliable format; DATA carries u16/u32-framed word lists or raw
/// fragments of them. Both ends must use Extended (the core is configured with extended::wire_dialect).
///
/// It asks of `Next` only what reliable::client_connection names
/// (neutrino/reliable/connection_layer.hpp).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <utility>

#include "neutrino/core/client.hpp"
#include "neutrino/core/constants.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/extended/config.hpp"
#include "neutrino/extended/detail/events.hpp"
#include "neutrino/extended/detail/payload_capacity.hpp"
#include "neutrino/extended/event.hpp"
#include "neutrino/reliable/client.hpp"
#include "neutrino/reliable/connection_layer.hpp"

namespace neutrino::extended {

template <reliable::client_connection Next = reliable::basic_client<core::basic_client<>>>
class basic_client {
public:
    using event_type = extended::event;
    using next_layer_type = Next;

    /// The bytes of one fragment: a full DATA payload of the wire below (v2 1214, v3 1238).
    static constexpr std::size_t fragment_size = detail::payload_capacity<Next>();

    explicit basic_client(core::client_config cfg) : basic_client(std::move(cfg), extended::config{}) {}
    basic_client(core::client_config cfg, extended::config ecfg)
        : basic_client(std::move(cfg), ecfg, reliable::config{}) {}
    /// Builds the layers below with `cfg` (its dialect set to extended::wire_dialect), `rcfg` and `rest`
    /// (observer, randomness).
    template <class... Rest>
    basic_client(core::client_config cfg, extended::config ecfg, reliable::config rcfg, Rest&&... rest)
        : ecfg_(ecfg),
          next_(with_dialect(std::move(cfg)), rcfg, std::forward<Rest>(rest)...),
          state_(std::make_unique<detail::endpoint_state>()),
          session_(std::make_unique<detail::session>(ecfg_, fragment_size, &state_->budget, state_->stats)),
          events_(2 * rcfg.receive_window + 64) {
        state_->budget.limit = ecfg_.max_reassembly_bytes;
    }

    Next& next_layer() noexcept { return next_; }
    const Next& next_layer() const noexcept { return next_; }

    result<void> connect(time_point now) {
        catch_up();
        return next_.connect(now);
    }
    void close(time_point now) {
        catch_up();
        next_.close(now);
        session_->tx.reset();
    }

    /// Sends a message (copied). Errors: not_connected, draining, too_many_words,
    /// word_too_large, errc::message_too_large, errc::busy (a streamed message is open),
    /// would_block (config::max_queued_bytes queued; a `writable` event follows).
    result<void> send(core::word_list words, time_point now) {
        catch_up();
        if (auto r = check_open(); !r) return r;
        auto r = session_->tx.queue(words);
        if (!r) {
            if (r.error() == core::errc::would_block) session_->want_writable = true;
            return r;
        }
        flush(now);
        return {};
    }

    /// Opens a streamed message of words with these sizes; write their bytes in order with
    /// `write`. Errors: as `send`.
    result<void> begin_message(std::span<const std::uint64_t> word_sizes, time_point now) {
        catch_up();
        if (auto r = check_open(); !r) return r;
        auto r = session_->tx.begin(word_sizes);
        if (r) flush(now);
        return r;
    }

    /// Takes the next bytes of the streamed message, as many as the send window admits now;
    /// returns how many (a `writable` event follows when fewer than offered). Errors:
    /// errc::stream_not_open, not_connected, draining.
    result<std::size_t> write(std::span<const std::byte> bytes, time_point now) {
        catch_up();
        if (auto r = check_open(); !r) return tl::unexpected(r.error());
        auto n = session_->tx.write(bytes, sender(now));
        if (n && *n < bytes.size()) session_->want_writable = true;
        return n;
    }

    /// True when a streamed message is open (not all of it handed to the reliable layer yet).
    [[nodiscard]] bool writing() const noexcept { return session_->tx.stream_open(); }
    /// Bytes accepted by send / write and not yet handed to the reliable layer.
    [[nodiscard]] std::size_t pending_bytes() const noexcept { return session_->tx.pending_bytes(); }
    /// True when everything sent was handed down and acknowledged by the peer.
    [[nodiscard]] bool idle() const noexcept { return session_->tx.idle() && next_.unacknowledged() == 0; }

    [[nodiscard]] core::session_state state() const noexcept { return next_.state(); }
    [[nodiscard]] bool established() const noexcept { return next_.established(); }
    [[nodiscard]] std::uint64_t session_id() const noexcept { return next_.session_id(); }
    [[nodiscard]] const extended::stats& stats() const noexcept {
        state_->stats.max_reassembly_bytes = state_->budget.high;
        return state_->stats;
    }
    [[nodiscard]] const extended::config& configuration() const noexcept { return ecfg_; }
    /// Bytes reserved now for a partial message.
    [[nodiscard]] std::size_t reassembly_bytes() const noexcept { return state_->budget.used; }

    // --- datagram_layer ----------------------------------------------------------------------

    result<void> handle_datagram(std::span<const std::byte> in, const peer_address& from,
                                 time_point now) {
        catch_up();
        auto r = next_.handle_datagram(in, from, now);
        flush(now);
        return r;
    }
    std::optional<transmit> poll_datagram(std::span<std::byte> out, time_point now) {
        return next_.poll_datagram(out, now);
    }
    std::optional<event_type> poll_event() {
        for (;;) {
            if (auto e = events_.pop()) return e;
            session_->rx.settle();
            auto d = next_.poll_event();
            if (!d) return std::nullopt;
            translate(*d);
        }
    }
    [[nodiscard]] std::optional<time_point> deadline() const noexcept { return next_.deadline(); }
    void handle_deadline(time_point now) {
        catch_up();
        next_.handle_deadline(now);
        flush(now);
    }

private:
    static core::client_config with_dialect(core::client_config c) {
        c.dialect = wire_dialect;
        return c;
    }

    result<void> check_open() const {
        if (next_.established()) return {};
        return fail(next_.state() == core::session_state::draining ? core::errc::draining
                                                                   : core::errc::not_connected);
    }

    auto sender(time_point now) {
        return [this, now](std::uint32_t keyword, std::span<const std::byte> payload) {
            return next_.send_encoded(keyword, payload, now);
        };
    }

    void flush(time_point now) {
        if (!next_.established()) return;
        session_->tx.flush(sender(now));
        if (session_->take_writable(next_.can_send(), ecfg_.max_queued_bytes)) {
            event e;
            e.kind = event_kind::writable;
            e.session_id = next_.session_id();
            events_.push(e);
        }
    }


    // The application called in without draining the events: settle what is pending, with
    // owned copies of the bytes (see detail/events.hpp).
    void catch_up() {
        events_.own_all();
        session_->rx.settle();
        while (auto d = next_.poll_event()) {
            translate(*d);
            events_.own_all();
        }
    }

    void translate(const core::event& d) {
        // The reliable layer's room to send: this layer reports its own `writable` (its queue
        // drains into that room when it flushes).
        if (d.kind == core::event_kind::writable) return;
        if (d.kind == core::event_kind::data) {
            detail::receive(*session_, d, state_->stats, [this](const event& x) { events_.push(x); });
            return;
        }
        if (d.kind == core::event_kind::closed || d.kind == core::event_kind::connecting) {
            session_->tx.reset();
            session_->rx.reset();
            session_->want_writable = false;
        }
        if (d.kind == core::event_kind::established) {
            // v3: the server's Extended limit from the handshake  spec: neutrino-v3.md §9.3
            if constexpr (requires { next_.next_layer().peer_message_limit(); }) {
                session_->tx.set_peer_limit(next_.next_layer().peer_message_limit());
            }
        }
        events_.push(event::from(d));
    }

    extended::config ecfg_;
    Next next_;
    std::unique_ptr<detail::endpoint_state> state_;
    std::unique_ptr<detail::session> session_;
    detail::event_queue events_;
};

using client = basic_client<>;
static_assert(datagram_layer<client>);

}  // namespace neutrino::extended
