#pragma once
/// \file
/// `buffer_pool`: byte slots in power-of-two size classes, reused through per-class free lists,
/// so holding a datagram costs no allocation once the pool is warm, and the memory it holds is
/// bounded.

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace neutrino::inspector::detail {

/// Slots of 128, 256, … 65536 bytes. A request of `n` bytes gets a slot of the smallest class
/// that fits it. The bytes held by the pool, in use plus free for reuse, never exceed `limit`:
/// `acquire` refuses a slot that would pass it (after giving back free slots of other classes).
/// Not thread-safe.
class buffer_pool {
public:
    static constexpr std::size_t min_slot_size = 128;
    static constexpr std::size_t class_count = 10;
    static constexpr std::size_t max_slot_size = min_slot_size << (class_count - 1);  // 65536

    /// A slot: owned bytes (exactly its class's capacity) and their size class. Moving it
    /// moves the bytes; it is empty (`bytes` without capacity) once moved from.
    struct slot {
        std::vector<std::byte> bytes;
        std::uint8_t size_class = 0;

        [[nodiscard]] std::byte* data() noexcept { return bytes.data(); }
        [[nodiscard]] const std::byte* data() const noexcept { return bytes.data(); }
        [[nodiscard]] std::size_t capacity() const noexcept { return capacity_of(size_class); }
    };

    explicit buffer_pool(std::size_t limit) noexcept : limit_(limit) {}

    /// The size class of a request of `size` bytes (`size` ≤ `max_slot_size`).
    [[nodiscard]] static constexpr std::uint8_t class_of(std::size_t size) noexcept {
        if (size <= min_slot_size) return 0;
        return static_cast<std::uint8_t>(std::bit_width(size - 1) -
                                         std::bit_width(min_slot_size - 1));
    }
    [[nodiscard]] static constexpr std::size_t capacity_of(std::uint8_t size_class) noexcept {
        return min_slot_size << size_class;
    }

    /// A slot of at least `size` bytes (≤ `max_slot_size`), `nullopt` when the slots in use
    /// plus this one would exceed the limit. Allocates only when no free slot of the class is
    /// left.
    [[nodiscard]] std::optional<slot> acquire(std::size_t size) {
        const std::uint8_t c = class_of(size);
        const std::size_t cap = capacity_of(c);
        if (in_use_ + cap > limit_) return std::nullopt;
        in_use_ += cap;
        auto& list = free_[c];
        if (!list.empty()) {
            slot s{std::move(list.back()), c};
            list.pop_back();
            return s;
        }
        // Make room among free slots of other classes, largest first.
        for (std::size_t k = class_count; k-- > 0 && total_ + cap > limit_;) {
            while (!free_[k].empty() && total_ + cap > limit_) {
                free_[k].pop_back();
                total_ -= capacity_of(static_cast<std::uint8_t>(k));
            }
        }
        total_ += cap;
        return slot{std::vector<std::byte>(cap), c};
    }

    /// Takes a slot back for reuse.
    void release(slot s) {
        if (s.bytes.empty()) return;
        in_use_ -= s.capacity();
        free_[s.size_class].push_back(std::move(s.bytes));
    }

    /// Bytes in slots handed out and not released.
    [[nodiscard]] std::size_t in_use_size() const noexcept { return in_use_; }
    /// Bytes the pool holds, in use and free.
    [[nodiscard]] std::size_t total_size() const noexcept { return total_; }
    [[nodiscard]] std::size_t limit() const noexcept { return limit_; }

private:
    std::array<std::vector<std::vector<std::byte>>, class_count> free_;
    std::size_t limit_;
    std::size_t in_use_ = 0;
    std::size_t total_ = 0;
};

}  // namespace neutrino::inspector::detail
