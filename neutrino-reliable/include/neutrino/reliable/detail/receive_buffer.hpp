#pragma once
/// \file
/// The receiver's window: packets at or after the next number to deliver, stored until they
/// can be delivered in order, and the request schedule of the missing ones.
/// spec: neutrino.md §12.2, §12.3, §18.2 item 12, §18.3 items 17-18

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "neutrino/core/constants.hpp"
#include "neutrino/time.hpp"

namespace neutrino::reliable::detail {

class receive_buffer {
public:
    enum class slot_state : std::uint8_t { empty, missing, stored };

    /// The largest payload a slot holds: v3's 1238 bytes (v2: 1214).
    static constexpr std::size_t max_stored_payload = 1238;

    struct slot {
        std::uint64_t pn = 0;
        slot_state state = slot_state::empty;
        core::packet_type type = core::packet_type::data;
        std::uint32_t keyword = 0;
        std::size_t size = 0;
        std::uint32_t requests = 0;
        time_point missing_since{};
        time_point next_request{};
        time_point first_request{};
        std::uint64_t arrivals_at = 0;  ///< the receiver's arrival count when it went missing
        std::array<std::byte, max_stored_payload> payload;
    };

    /// How far past the limit a dropped packet is still remembered, in windows.
    static constexpr std::uint64_t beyond_reach = 4;

    explicit receive_buffer(std::size_t window) : slots_(window == 0 ? 1 : window) {}

    [[nodiscard]] bool started() const noexcept { return started_; }
    /// The next packet number to deliver; everything before it was delivered.
    [[nodiscard]] std::uint64_t expected() const noexcept { return expected_; }
    /// The true contiguous edge: the acknowledgement to send.  spec: §18.3 item 18
    [[nodiscard]] std::uint64_t confirmed() const noexcept { return expected_ - 1; }
    /// One past the highest packet number seen.
    [[nodiscard]] std::uint64_t end() const noexcept { return end_; }
    /// The highest packet number that fits the window.
    [[nodiscard]] std::uint64_t limit() const noexcept { return expected_ + slots_.size() - 1; }
    [[nodiscard]] std::size_t window() const noexcept { return slots_.size(); }
    [[nodiscard]] std::size_t stored() const noexcept { return stored_; }

    /// The first packet of the session (HELLO2 on the client, HELLO3 on the server): counts as
    /// delivered.
    void start(std::uint64_t first) noexcept {
        expected_ = end_ = first + 1;
        started_ = true;
    }

    /// Stores packet `pn` (expected ≤ pn ≤ limit, not stored yet: the caller checks) and marks
    /// the numbers skipped before it as missing since `now`, when `arrivals` packets had
    /// arrived before this one.
    void store(std::uint64_t pn, core::packet_type type, std::uint32_t keyword,
               std::span<const std::byte> payload, time_point now, std::uint64_t arrivals) noexcept {
        for (std::uint64_t m = end_; m < pn; ++m) {  // bounded by the window
            slot& g = at(m);
            g.pn = m;
            g.state = slot_state::missing;
            g.requests = 0;
            g.missing_since = now;
            g.next_request = now;
            g.arrivals_at = arrivals;
        }
        if (pn >= end_) end_ = pn + 1;
        slot& s = at(pn);
        s.pn = pn;
        s.state = slot_state::stored;
        s.type = type;
        s.keyword = keyword;
        s.size = std::min(payload.size(), max_stored_payload);  // the core bounds it
        std::memcpy(s.payload.data(), payload.data(), s.size);
        ++stored_;
    }

    /// An authentic packet past the window was dropped. Within `beyond_reach` windows of the
    /// limit it is remembered, so that the numbers up to it count as missing once the window
    /// has moved over them (`extend_known`); further out it is no evidence at all (a peer can
    /// number a packet 2^63 ahead). Either way it requests nothing now.
    void note_beyond(std::uint64_t pn) noexcept {
        if (!started_ || pn - limit() > beyond_reach * slots_.size()) return;
        if (pn > beyond_) beyond_ = pn;
    }

    /// After the window moved: marks as missing (since `now`) the numbers it now covers up to
    /// the highest noted beyond it. Bounded by the window.
    void extend_known(time_point now, std::uint64_t arrivals) noexcept {
        if (!started_ || beyond_ < end_) return;
        const std::uint64_t to = std::min(beyond_ + 1, limit() + 1);
        for (std::uint64_t m = end_; m < to; ++m) {
            slot& g = at(m);
            g.pn = m;
            g.state = slot_state::missing;
            g.requests = 0;
            g.missing_since = now;
            g.next_request = now;
            g.arrivals_at = arrivals;
        }
        if (to > end_) end_ = to;
    }

    /// When a missing `pn` was first requested, if it was.
    [[nodiscard]] std::optional<time_point> requested_at(std::uint64_t pn) const noexcept {
        const slot& s = at(pn);
        if (s.pn != pn || s.state != slot_state::missing || s.requests == 0) return std::nullopt;
        return s.first_request;
    }
    /// Whether a missing `pn` was requested exactly once (its arrival is then an RTT sample;
    /// with several requests the answer is ambiguous).
    [[nodiscard]] bool requested_once(std::uint64_t pn) const noexcept {
        const slot& s = at(pn);
        return s.pn == pn && s.state == slot_state::missing && s.requests == 1;
    }

    [[nodiscard]] bool is_stored(std::uint64_t pn) const noexcept {
        const slot& s = at(pn);
        return s.pn == pn && s.state == slot_state::stored;
    }

    /// The slot of the next packet if it is stored (then call `pop`), else nullptr.
    [[nodiscard]] const slot* front() const noexcept {
        return started_ && is_stored(expected_) ? &at(expected_) : nullptr;
    }
    void pop() noexcept {
        at(expected_).state = slot_state::empty;
        --stored_;
        ++expected_;
    }

    /// Missing packets in [expected, end), for the request scheduler.
    template <class F>
    void for_each_missing(F&& f) noexcept {
        for (std::uint64_t m = expected_; m < end_; ++m) {  // bounded by the window
            slot& s = at(m);
            if (s.pn == m && s.state == slot_state::missing) f(s);
        }
    }

    void reset() noexcept {
        for (auto& s : slots_) s.state = slot_state::empty;
        started_ = false;
        stored_ = 0;
        beyond_ = 0;
        expected_ = end_ = 0;
    }

private:
    slot& at(std::uint64_t pn) noexcept { return slots_[static_cast<std::size_t>(pn % slots_.size())]; }
    const slot& at(std::uint64_t pn) const noexcept {
        return slots_[static_cast<std::size_t>(pn % slots_.size())];
    }

    std::vector<slot> slots_;
    std::uint64_t expected_ = 0;
    std::uint64_t end_ = 0;
    std::size_t stored_ = 0;
    std::uint64_t beyond_ = 0;
    bool started_ = false;
};

}  // namespace neutrino::reliable::detail
