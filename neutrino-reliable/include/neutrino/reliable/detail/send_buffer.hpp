#pragma once
/// \file
/// The sender's store of sealed datagrams, by packet number, for byte-identical
/// retransmission.  spec: neutrino.md §12.4, §12.5

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "neutrino/core/constants.hpp"
#include "neutrino/core/time.hpp"

namespace neutrino::reliable::detail {

/// Consecutive packet numbers [base, next) in a fixed ring; allocated once.
class send_buffer {
public:
    explicit send_buffer(std::size_t capacity) : slots_(capacity == 0 ? 1 : capacity) {}

    [[nodiscard]] std::size_t size() const noexcept { return static_cast<std::size_t>(next_ - base_); }
    [[nodiscard]] std::size_t capacity() const noexcept { return slots_.size(); }
    [[nodiscard]] bool full() const noexcept { return size() == capacity(); }
    [[nodiscard]] bool empty() const noexcept { return size() == 0; }
    [[nodiscard]] std::uint64_t base() const noexcept { return base_; }
    [[nodiscard]] std::uint64_t next() const noexcept { return next_; }

    /// Stores the datagram of packet `pn`, which must follow the previous one (the core numbers
    /// consecutively). Returns false when full or out of sequence (then nothing is stored).
    bool store(std::uint64_t pn, std::span<const std::byte> wire, time_point now) noexcept {
        if (!started_) {
            base_ = next_ = pn;
            started_ = true;
        }
        if (pn != next_ || full() || wire.size() > core::max_datagram_size) return false;
        slot& s = slots_[index(pn)];
        std::memcpy(s.bytes.data(), wire.data(), wire.size());
        s.size = wire.size();
        s.sent_at = now;
        s.resent_at = time_point{};
        ++next_;
        return true;
    }

    /// Drops everything up to and including `ack`. Returns how many were dropped.
    std::size_t acknowledge(std::uint64_t ack) noexcept {
        if (!started_ || ack < base_) return 0;
        const std::uint64_t to = ack >= next_ ? next_ : ack + 1;
        const auto n = static_cast<std::size_t>(to - base_);
        base_ = to;
        return n;
    }

    [[nodiscard]] bool contains(std::uint64_t pn) const noexcept {
        return started_ && pn >= base_ && pn < next_;
    }
    [[nodiscard]] std::span<const std::byte> bytes(std::uint64_t pn) const noexcept {
        const slot& s = slots_[index(pn)];
        return {s.bytes.data(), s.size};
    }
    [[nodiscard]] time_point sent_at(std::uint64_t pn) const noexcept { return slots_[index(pn)].sent_at; }
    [[nodiscard]] time_point resent_at(std::uint64_t pn) const noexcept {
        return slots_[index(pn)].resent_at;
    }
    void mark_resent(std::uint64_t pn, time_point now) noexcept { slots_[index(pn)].resent_at = now; }

    void reset() noexcept {
        base_ = next_ = 0;
        started_ = false;
    }

private:
    struct slot {
        std::array<std::byte, core::max_datagram_size> bytes;
        std::size_t size = 0;
        time_point sent_at{};
        time_point resent_at{};
    };
    [[nodiscard]] std::size_t index(std::uint64_t pn) const noexcept {
        return static_cast<std::size_t>(pn % slots_.size());
    }
    std::vector<slot> slots_;
    std::uint64_t base_ = 0;
    std::uint64_t next_ = 0;
    bool started_ = false;
};

}  // namespace neutrino::reliable::detail
