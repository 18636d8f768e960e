#pragma once
/// \file
/// The reliable layer's event queue (client and server alike): it grows with what the
/// application leaves queued, and it counts the DATA events it holds, because each of those
/// views a payload block of the layer's `receive_pool` that must stay held until the event is
/// consumed (see receive_pool.hpp). Only deliveries are DATA events at this layer (the core
/// reports packets as `packet_received` under a layered dialect), so counting by kind is exact.

#include <cstddef>
#include <optional>

#include "neutrino/core/event.hpp"
#include "neutrino/reliable/detail/receive_pool.hpp"

namespace neutrino::reliable::detail {

class delivery_queue {
public:
    delivery_queue(std::size_t initial, std::size_t max_size) : events_(initial, max_size) {}

    /// Queues `e`; false (and `e` dropped, for the caller to count) when the queue is at its
    /// maximum. Allocates only to grow.
    bool push(const core::event& e) {
        if (!events_.push(e)) return false;
        if (e.kind == core::event_kind::data) ++deliveries_;
        return true;
    }

    /// Frees the blocks of deliveries already consumed: all but those still queued.
    void release_consumed(receive_pool& pool) noexcept { pool.release_consumed(deliveries_); }

    /// The oldest event, after freeing what the event polled before it held.
    std::optional<core::event> pop(receive_pool& pool) noexcept {
        release_consumed(pool);
        if (events_.empty()) return std::nullopt;
        core::event e = events_.pop();
        if (e.kind == core::event_kind::data) --deliveries_;
        return e;
    }

    [[nodiscard]] std::size_t memory() const noexcept { return events_.memory(); }

private:
    growing_fifo<core::event> events_;
    std::size_t deliveries_ = 0;  ///< DATA events queued, each holding a pool block
};

}  // namespace neutrino::reliable::detail
