#pragma once
/// \file
/// The event queue of an extended endpoint, and the per-session state.
///
/// Events are made lazily: `poll_event` turns the reliable layer's next delivery into extended
/// events only when the queue is empty, so a reassembled message is viewed in place (no copy)
/// until the next call. When the application calls into the layer without draining first, the
/// events still queued get their bytes copied out (`own_all`), so no view is ever left
/// pointing at memory the layer reuses.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "neutrino/core/event.hpp"
#include "neutrino/extended/config.hpp"
#include "neutrino/extended/detail/reassembler.hpp"
#include "neutrino/extended/detail/sender.hpp"
#include "neutrino/extended/event.hpp"
#include "neutrino/ring.hpp"

namespace neutrino::extended::detail {

class event_queue {
public:
    explicit event_queue(std::size_t capacity) : ring_(capacity) {}

    void push(const event& e) noexcept {
        if (!ring_.push(e)) ++dropped_;
    }
    /// The next event; its views stay valid until the next call on the queue.
    [[nodiscard]] std::optional<event> pop() noexcept {
        if (ring_.empty()) {
            owned_.clear();  // nothing queued views it any more
            return std::nullopt;
        }
        auto e = ring_.pop();
        if (owned_front_ > 0) --owned_front_;
        return e;
    }
    [[nodiscard]] bool empty() const noexcept { return ring_.empty(); }
    /// Events that did not fit (the application did not drain for a long time).
    [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_; }

    /// Copies the bytes of every queued event that still views layer memory.
    void own_all() {
        for (std::size_t i = owned_front_; i < ring_.size(); ++i) {
            event& e = ring_[i];
            if (e.kind == event_kind::message) {
                const auto& b = owned_.emplace_back(e.words.encoded().begin(), e.words.encoded().end());
                e.words = *words_view::parse(b);
            } else if (e.kind == event_kind::message_part) {
                const auto& b = owned_.emplace_back(e.bytes.begin(), e.bytes.end());
                e.bytes = b;
            }
        }
        owned_front_ = ring_.size();
    }

private:
    neutrino::ring<event> ring_;
    std::vector<std::vector<std::byte>> owned_;
    std::size_t owned_front_ = 0;
    std::uint64_t dropped_ = 0;
};

/// What all sessions of an endpoint share, at a fixed address (the endpoint stays movable).
struct endpoint_state {
    memory_budget budget;
    extended::stats stats;
};

/// One extended session: its sender and its reassembler.
struct session {
    session(const config& cfg, std::size_t fragment_size, memory_budget* budget, stats& st)
        : tx(cfg, fragment_size, st), rx(cfg.max_message_size, fragment_size, cfg.stream_above, budget) {}
    sender tx;
    reassembler rx;
    bool want_writable = false;  ///< a send or write was refused or partial: report room
    bool busy = false;           ///< server: listed among the sessions with send work

    /// True (once) when a refused or partial send can go on: the reliable window has room,
    /// and the queue does, or a streamed message is open.
    bool take_writable(bool window_open, std::size_t max_queued) noexcept {
        if (!want_writable || !window_open) return false;
        if (!tx.stream_open() && tx.pending_bytes() >= max_queued) return false;
        want_writable = false;
        return true;
    }
    /// Anything left to hand down or to report.
    [[nodiscard]] bool has_send_work() const noexcept { return !tx.idle() || want_writable; }
};

/// Turns one delivered DATA payload (`d`, from the reliable layer) into extended events.
template <class Emit>
void receive(session& s, const core::event& d, stats& st, Emit&& emit) {
    auto one = [&](const reassembler::outcome& o) {
        event x;
        x.session_id = d.session_id;
        x.peer = d.peer;
        switch (o.what) {
            case reassembler::outcome::kind::pending:
                if (s.rx.in_series()) ++st.fragments_received;  // not the skipped rest of a bad one
                return;
            case reassembler::outcome::kind::message:
                x.kind = event_kind::message;
                x.words = *words_view::parse(o.message);  // validated by the reassembler
                if (d.keyword != 0) ++st.fragments_received;
                ++st.messages_received;
                break;
            case reassembler::outcome::kind::part:
                x.kind = event_kind::message_part;
                x.bytes = o.message;
                x.offset = o.offset;
                x.size_bound = o.size_bound;
                x.first = o.first;
                x.last = o.last;
                ++st.fragments_received;
                if (o.last) ++st.messages_received;
                break;
            case reassembler::outcome::kind::error:
                x.kind = event_kind::message_failed;
                x.reason = o.error;
                ++st.messages_failed;
                break;
        }
        emit(x);
    };
    const auto o = s.rx.push(d.keyword, d.payload);
    one(o);
    if (o.what == reassembler::outcome::kind::error) {
        if (auto second = s.rx.take_second(); second.what != reassembler::outcome::kind::pending) one(second);
    }
}

}  // namespace neutrino::extended::detail
