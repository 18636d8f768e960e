#pragma once
/// \file
/// The payload storage behind the receive buffers of one layer (one client, or all sessions of
/// one server): blocks of one packet's payload each, allocated when first needed and reused
/// after (a free list), so memory follows the flight instead of the configured window.
///
/// Views in queued events point into blocks, so a block never moves (each is its own
/// allocation) and a delivered block is not reused at once: it is *held* until the event that
/// views it was consumed. Deliveries and the layer's event queue are both first in, first out,
/// so the layer only counts its deliveries still queued (`release_consumed`): every held block
/// older than those is free again. The one the application polled last stays held until the
/// layer's next non-const call, as the datagram_layer contract promises.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "neutrino/reliable/config.hpp"

namespace neutrino::reliable::detail {

/// A first-in, first-out queue in a ring that grows (doubling) when full, up to `max_size`
/// values: memory follows use, and nothing is allocated once it has reached the most it held.
template <class T>
class growing_fifo {
public:
    growing_fifo(std::size_t initial, std::size_t max_size)
        : max_size_(max_size == 0 ? 1 : max_size),
          items_(std::min(initial == 0 ? 1 : initial, max_size_)) {}

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] std::size_t max_size() const noexcept { return max_size_; }
    /// Values the ring has room for now.
    [[nodiscard]] std::size_t capacity() const noexcept { return items_.size(); }
    [[nodiscard]] std::size_t memory() const noexcept { return items_.capacity() * sizeof(T); }

    /// Appends; returns false (and drops `v`) at `max_size`. Allocates only to grow.
    bool push(const T& v) {
        if (size_ == max_size_) return false;
        if (size_ == items_.size()) grow();
        items_[(head_ + size_) % items_.size()] = v;
        ++size_;
        return true;
    }
    /// Precondition: not empty.
    T pop() noexcept {
        T v = items_[head_];
        head_ = (head_ + 1) % items_.size();
        --size_;
        return v;
    }

private:
    void grow() {
        std::vector<T> grown(std::min(items_.size() * 2, max_size_));
        for (std::size_t i = 0; i < size_; ++i) grown[i] = items_[(head_ + i) % items_.size()];
        items_ = std::move(grown);
        head_ = 0;
    }

    std::size_t max_size_;
    std::vector<T> items_;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

class receive_pool {
public:
    /// The largest payload a block holds: v3's 1238 bytes (v2: 1214).
    static constexpr std::size_t block_size = 1238;
    static constexpr std::uint32_t no_block = UINT32_MAX;

    /// `budget`: blocks the receive buffers keep to (0: no limit), through their windows (see
    /// receive_buffer::limit); they exceed it only by gaps their windows had open before.
    explicit receive_pool(std::size_t budget = 0) : budget_(budget) {}
    receive_pool(const receive_pool&) = delete;
    receive_pool& operator=(const receive_pool&) = delete;

    /// A block for a packet to store: a free one, else a new one (the budget is the receive
    /// buffers' to keep, through their windows: see can_grow).
    [[nodiscard]] std::uint32_t acquire() {
        if (free_.empty()) {
            blocks_.push_back(std::make_unique<block>());  // its own allocation: views stay valid
            free_.reserve(blocks_.capacity());  // release never allocates
            return static_cast<std::uint32_t>(blocks_.size() - 1);
        }
        const std::uint32_t b = free_.back();
        free_.pop_back();
        return b;
    }
    /// Whether a block can be taken within the budget now.
    [[nodiscard]] bool can_grow() const noexcept { return room() > 0; }
    /// Blocks that can be taken within the budget now (free ones and ones it still allows).
    [[nodiscard]] std::size_t room() const noexcept {
        if (budget_ == 0) return SIZE_MAX;
        return free_.size() + (blocks_.size() < budget_ ? budget_ - blocks_.size() : 0);
    }
    /// A block whose bytes nothing views any more.
    void release(std::uint32_t b) noexcept { free_.push_back(b); }
    /// A block whose bytes a delivered event views: free again once the event was consumed.
    void hold(std::uint32_t b) {
        // the queue of held blocks is bounded by the blocks themselves
        if (!held_.push(b)) release(b);
    }
    /// Frees every held block but the newest `still_queued` (those whose events are still
    /// queued, in the same order).
    void release_consumed(std::size_t still_queued) noexcept {
        while (held_.size() > still_queued) release(held_.pop());
    }

    [[nodiscard]] std::span<std::byte, block_size> bytes(std::uint32_t b) noexcept {
        return std::span<std::byte, block_size>(blocks_[b]->bytes);
    }
    [[nodiscard]] std::span<const std::byte, block_size> bytes(std::uint32_t b) const noexcept {
        return std::span<const std::byte, block_size>(blocks_[b]->bytes);
    }

    /// Blocks allocated, in use or free.
    [[nodiscard]] std::size_t blocks() const noexcept { return blocks_.size(); }
    [[nodiscard]] std::size_t free_blocks() const noexcept { return free_.size(); }
    [[nodiscard]] std::size_t held() const noexcept { return held_.size(); }
    [[nodiscard]] std::size_t budget() const noexcept { return budget_; }
    /// Bytes this pool holds on the heap now (blocks, their table, free list, held queue).
    [[nodiscard]] std::size_t memory() const noexcept {
        return blocks_.size() * sizeof(block) + blocks_.capacity() * sizeof(blocks_[0]) +
               free_.capacity() * sizeof(std::uint32_t) + held_.memory();
    }

private:
    struct block {
        std::array<std::byte, block_size> bytes;
    };

    std::size_t budget_;
    std::vector<std::unique_ptr<block>> blocks_;
    std::vector<std::uint32_t> free_;
    growing_fifo<std::uint32_t> held_{16, SIZE_MAX};
};

/// config::receive_budget in blocks (0: no cap; else at least one).
inline std::size_t budget_blocks(const config& cfg) noexcept {
    if (cfg.receive_budget == 0) return 0;
    return std::max<std::size_t>(cfg.receive_budget / receive_pool::block_size, 1);
}

}  // namespace neutrino::reliable::detail
