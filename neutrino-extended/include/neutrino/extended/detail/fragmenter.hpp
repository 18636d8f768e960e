#pragma once
/// \file
/// Cutting an encoded Extended message into DATA payloads.  spec: neutrino.md §13.2, §13.3

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

namespace neutrino::extended::detail {

/// The fragments of one encoded message `b` (u16 count, u32 sizes). A message that fits one
/// payload is one DATA with keyword 0; otherwise `k = ⌈|b| / fragment_size⌉` DATA packets
/// with keywords k, k−1, …, 1, each `fragment_size` bytes but the last.
class fragmenter {
public:
    fragmenter(std::span<const std::byte> encoded, std::size_t fragment_size) noexcept
        : b_(encoded), size_(fragment_size) {}

    /// Number of DATA packets the message takes.
    [[nodiscard]] std::uint64_t count() const noexcept {
        if (b_.size() <= size_) return 1;
        return (b_.size() + size_ - 1) / size_;
    }
    /// True when the message goes unfragmented (keyword 0).
    [[nodiscard]] bool single() const noexcept { return b_.size() <= size_; }
    /// The keyword of fragment `i` (0-based).
    [[nodiscard]] std::uint32_t keyword(std::uint64_t i) const noexcept {
        return single() ? 0 : static_cast<std::uint32_t>(count() - i);
    }
    /// The payload of fragment `i` (0-based).
    [[nodiscard]] std::span<const std::byte> payload(std::uint64_t i) const noexcept {
        if (single()) return b_;
        const std::size_t off = static_cast<std::size_t>(i) * size_;
        return b_.subspan(off, std::min(size_, b_.size() - off));
    }

private:
    std::span<const std::byte> b_;
    std::size_t size_;
};

}  // namespace neutrino::extended::detail
