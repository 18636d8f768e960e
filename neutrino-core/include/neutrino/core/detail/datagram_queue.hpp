#pragma once
/// \file
/// A bounded FIFO of sealed datagrams in preallocated 1280-byte slots (no allocation after
/// construction).

#include <array>
#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <span>

#include "neutrino/address.hpp"
#include "neutrino/core/constants.hpp"
#include "neutrino/datagram_layer.hpp"
#include "neutrino/ring.hpp"

namespace neutrino::core::detail {

class datagram_queue {
public:
    explicit datagram_queue(std::size_t capacity)
        : capacity_(capacity == 0 ? 1 : capacity), slots_(std::make_unique<slot[]>(capacity_)) {}

    [[nodiscard]] bool full() const noexcept { return size_ == capacity_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

    /// The buffer of the next slot to fill; precondition `!full()`. Call `push` to commit it.
    [[nodiscard]] std::span<std::byte, max_datagram_size> back_buffer() noexcept {
        return slots_[(head_ + size_) % capacity_].bytes;
    }
    void push(std::size_t size, const peer_address& to) noexcept {
        slot& s = slots_[(head_ + size_) % capacity_];
        s.size = size;
        s.to = to;
        ++size_;
    }
    /// Copies the oldest datagram into `out` and removes it; `nullopt` when empty or when `out`
    /// is too small (then the datagram stays queued).
    [[nodiscard]] std::optional<transmit> pop(std::span<std::byte> out) noexcept {
        if (size_ == 0) return std::nullopt;
        slot& s = slots_[head_];
        if (out.size() < s.size) return std::nullopt;
        std::memcpy(out.data(), s.bytes.data(), s.size);
        transmit t{s.size, s.to};
        head_ = (head_ + 1) % capacity_;
        --size_;
        return t;
    }
    void clear() noexcept { head_ = size_ = 0; }

private:
    struct slot {
        std::array<std::byte, max_datagram_size> bytes;
        std::size_t size;
        peer_address to;
    };
    std::size_t capacity_;
    std::unique_ptr<slot[]> slots_;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

/// Core's own spelling of the public `neutrino::ring` (the layers above use that one).
template <class T>
using ring = neutrino::ring<T>;

}  // namespace neutrino::core::detail
