#pragma once
/// \file
/// `neutrino::ring<T>`: a small bounded FIFO of values in preallocated storage (no allocation after
/// construction). The machines queue their events in one, and so do the layers above.

#include <cstddef>
#include <memory>
#include <optional>

namespace neutrino {

/// A bounded FIFO of `T` (default-constructible and copy-assignable), preallocated: `capacity`
/// values (at least 1) fixed at construction. Not thread-safe.
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

}  // namespace neutrino
