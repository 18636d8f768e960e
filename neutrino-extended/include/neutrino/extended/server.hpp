#pragma once
/// \file
/// `extended::basic_server<Next>`: NeutrinoExtended's server, a layer over a reliable server;
/// one extended session (sender + reassembler) per reliable session. Memory for partial
/// messages is bounded per session (config::max_message_size) and for the whole endpoint
/// (config::max_reassembly_bytes).  spec: neutrino.md §13.3
///
/// It asks of `Next` only what reliable::server_connection names
/// (neutrino/reliable/connection_layer.hpp).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "neutrino/core/constants.hpp"
#include "neutrino/core/event.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/extended/config.hpp"
#include "neutrino/extended/detail/events.hpp"
#include "neutrino/extended/detail/payload_capacity.hpp"
#include "neutrino/extended/event.hpp"
#include "neutrino/reliable/connection_layer.hpp"
#include "neutrino/reliable/server.hpp"

namespace neutrino::extended {

template <reliable::server_connection Next = reliable::basic_server<core::basic_server<>>>
class basic_server {
public:
    using event_type = extended::event;
    using next_layer_type = Next;

    /// The bytes of one fragment: a full DATA payload of the wire below (v2 1214, v3 1238).
    static constexpr std::size_t fragment_size = detail::payload_capacity<Next>();

    explicit basic_server(core::server_config cfg) : basic_server(std::move(cfg), extended::config{}) {}
    basic_server(core::server_config cfg, extended::config ecfg)
        : basic_server(std::move(cfg), ecfg, reliable::config{}) {}
    /// Builds the layers below with `cfg` (its dialect set to extended::wire_dialect), `rcfg` and `rest`.
    template <class... Rest>
    basic_server(core::server_config cfg, extended::config ecfg, reliable::config rcfg, Rest&&... rest)
        : ecfg_(ecfg),
          next_(with_dialect(std::move(cfg)), rcfg, std::forward<Rest>(rest)...),
          state_(std::make_unique<detail::endpoint_state>()),
          events_(2 * rcfg.receive_window + 256) {
        state_->budget.limit = ecfg_.max_reassembly_bytes;
    }

    Next& next_layer() noexcept { return next_; }
    const Next& next_layer() const noexcept { return next_; }

    /// Sends a message to an established session (copied). Errors: as extended::basic_client::send,
    /// plus unknown_session.
    result<void> send(std::uint64_t id, core::word_list words, time_point now) {
        catch_up();
        auto* s = open_session(id);
        if (s == nullptr) return fail(core::errc::unknown_session);
        auto r = s->tx.queue(words);
        if (!r) {
            if (r.error() == core::errc::would_block) s->want_writable = true;
            list_if_busy(id, *s);
            return r;
        }
        flush(id, *s, now);
        return {};
    }
    /// Sends to every established session that takes it; returns how many did.
    std::size_t send_to_all(core::word_list words, time_point now) {
        std::vector<std::uint64_t> ids;
        next_.for_each_session([&](std::uint64_t id, core::session_state st) {
            if (st == core::session_state::established) ids.push_back(id);
        });
        std::size_t n = 0;
        for (auto id : ids) {
            if (send(id, words, now)) ++n;
        }
        return n;
    }
    /// Opens a streamed message to `id`; see extended::basic_client::begin_message.
    result<void> begin_message(std::uint64_t id, std::span<const std::uint64_t> word_sizes, time_point now) {
        catch_up();
        auto* s = open_session(id);
        if (s == nullptr) return fail(core::errc::unknown_session);
        auto r = s->tx.begin(word_sizes);
        if (r) flush(id, *s, now);
        return r;
    }
    /// Next bytes of the streamed message to `id`; see extended::basic_client::write.
    result<std::size_t> write(std::uint64_t id, std::span<const std::byte> bytes, time_point now) {
        catch_up();
        auto* s = open_session(id);
        if (s == nullptr) return fail(core::errc::unknown_session);
        auto n = s->tx.write(bytes, sender(id, now));
        if (n && *n < bytes.size()) s->want_writable = true;
        list_if_busy(id, *s);
        return n;
    }
    [[nodiscard]] std::size_t pending_bytes(std::uint64_t id) const noexcept {
        auto it = sessions_.find(id);
        return it == sessions_.end() ? 0 : it->second->tx.pending_bytes();
    }

    void shutdown(time_point now) {
        catch_up();
        next_.shutdown(now);
    }
    void drop_session(std::uint64_t id, time_point now) {
        catch_up();
        next_.drop_session(id, now);
    }
    template <class F>
    void for_each_session(F&& f) const {
        next_.for_each_session(std::forward<F>(f));
    }
    [[nodiscard]] std::size_t session_count() const noexcept { return next_.session_count(); }
    [[nodiscard]] core::session_state state_of(std::uint64_t id) const noexcept { return next_.state_of(id); }
    [[nodiscard]] const extended::stats& stats() const noexcept {
        state_->stats.max_reassembly_bytes = state_->budget.high;
        return state_->stats;
    }
    [[nodiscard]] const extended::config& configuration() const noexcept { return ecfg_; }
    /// Bytes reserved now for partial messages, all sessions.
    [[nodiscard]] std::size_t reassembly_bytes() const noexcept { return state_->budget.used; }

    // --- datagram_layer ----------------------------------------------------------------------

    result<void> handle_datagram(std::span<const std::byte> in, const peer_address& from,
                                 time_point now) {
        catch_up();
        auto r = next_.handle_datagram(in, from, now);
        flush_all(now);
        return r;
    }
    std::optional<transmit> poll_datagram(std::span<std::byte> out, time_point now) {
        return next_.poll_datagram(out, now);
    }
    std::optional<event_type> poll_event() {
        for (;;) {
            if (auto e = events_.pop()) return e;
            settle();
            auto d = next_.poll_event();
            if (!d) return std::nullopt;
            translate(*d);
        }
    }
    [[nodiscard]] std::optional<time_point> deadline() const noexcept { return next_.deadline(); }
    void handle_deadline(time_point now) {
        catch_up();
        next_.handle_deadline(now);
        flush_all(now);
    }

private:
    static core::server_config with_dialect(core::server_config c) {
        c.dialect = wire_dialect;
        return c;
    }

    detail::session& session_for(std::uint64_t id) {
        auto& p = sessions_[id];
        if (!p) p = std::make_unique<detail::session>(ecfg_, fragment_size, &state_->budget, state_->stats);
        return *p;
    }

    detail::session* open_session(std::uint64_t id) {
        if (next_.state_of(id) != core::session_state::established) return nullptr;
        return &session_for(id);
    }

    auto sender(std::uint64_t id, time_point now) {
        return [this, id, now](std::uint32_t keyword, std::span<const std::byte> payload) {
            return next_.send_encoded(id, keyword, payload, now);
        };
    }

    void flush(std::uint64_t id, detail::session& s, time_point now) {
        if (next_.state_of(id) != core::session_state::established) return;
        s.tx.flush(sender(id, now));
        if (s.take_writable(next_.can_send(id), ecfg_.max_queued_bytes)) {
            event e;
            e.kind = event_kind::writable;
            e.session_id = id;
            events_.push(e);
        }
        list_if_busy(id, s);
    }

    void list_if_busy(std::uint64_t id, detail::session& s) {
        if (s.has_send_work() && !s.busy) {
            s.busy = true;
            busy_.push_back(id);
        }
    }

    // Only the sessions with send work, so a datagram costs nothing per idle session.
    void flush_all(time_point now) {
        for (std::size_t i = 0; i < busy_.size();) {
            auto it = sessions_.find(busy_[i]);
            if (it != sessions_.end() && it->second->has_send_work()) {
                flush(busy_[i], *it->second, now);
                if (it->second->has_send_work()) {
                    ++i;
                    continue;
                }
                it->second->busy = false;
            }
            busy_[i] = busy_.back();  // done or gone
            busy_.pop_back();
        }
    }


    // Frees the large buffer of the session that delivered last (no view of it remains).
    void settle() {
        if (last_rx_ == 0) return;
        if (auto it = sessions_.find(last_rx_); it != sessions_.end()) it->second->rx.settle();
        last_rx_ = 0;
    }

    void catch_up() {
        events_.own_all();
        settle();
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
            detail::receive(session_for(d.session_id), d, state_->stats, [this](const event& x) { events_.push(x); });
            last_rx_ = d.session_id;
            return;
        }
        if (d.kind == core::event_kind::closed) {
            sessions_.erase(d.session_id);
        }
        if (d.kind == core::event_kind::established) {
            // v3: the client's Extended limit from its offer  spec: neutrino-v3.md §9.3
            if constexpr (requires { next_.next_layer().peer_message_limit(d.session_id); }) {
                session_for(d.session_id).tx.set_peer_limit(next_.next_layer().peer_message_limit(d.session_id));
            }
        }
        events_.push(event::from(d));
    }

    extended::config ecfg_;
    Next next_;
    std::unique_ptr<detail::endpoint_state> state_;
    std::unordered_map<std::uint64_t, std::unique_ptr<detail::session>> sessions_;
    detail::event_queue events_;
    std::uint64_t last_rx_ = 0;  ///< session whose reassembler a delivered view may point into
    std::vector<std::uint64_t> busy_;  ///< sessions with send work (each once: session::busy)
};

using server = basic_server<>;
static_assert(datagram_layer<server>);

}  // namespace neutrino::extended
