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

#include "neutrino/core/address.hpp"
#include "neutrino/core/constants.hpp"
#include "neutrino/core/datagram_layer.hpp"

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

/// A small bounded FIFO of values (events), preallocated.
template <class T>
class ring {
public:
    explicit ring(std::size_t capacity)
        : capacity_(capacity == 0 ? 1 : capacity), items_(std::make_unique<T[]>(capacity_)) {}
    [[nodiscard]] bool full() const noexcept { return size_ == capacity_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    /// Appends; returns false (and drops `v`) when full.
    bool push(const T& v) noexcept {
        if (full()) return false;
        items_[(head_ + size_) % capacity_] = v;
        ++size_;
        return true;
    }
    [[nodiscard]] std::optional<T> pop() noexcept {
        if (size_ == 0) return std::nullopt;
        T v = items_[head_];
        head_ = (head_ + 1) % capacity_;
        --size_;
        return v;
    }
    void clear() noexcept { head_ = size_ = 0; }
    /// The `i`-th item from the front; precondition `i < size()`.
    [[nodiscard]] T& operator[](std::size_t i) noexcept { return items_[(head_ + i) % capacity_]; }

private:
    std::size_t capacity_;
    std::unique_ptr<T[]> items_;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

}  // namespace neutrino::core::detail
