#pragma once
/// \file
/// The receiver's window: packets at or after the next number to deliver, stored until they
/// can be delivered in order, and the request schedule of the missing ones.
/// spec: neutrino.md §12.2, §12.3, §18.2 item 12, §18.3 items 17-18
///
/// Memory follows the flight, not the configured window: the ring of slots (bookkeeping only)
/// grows, doubling, to the numbers outstanding, at most the window, and payloads live in
/// blocks of a receive_pool, taken when a packet is stored. A delivered packet's block is
/// handed to the pool to hold while its event is queued (see receive_pool.hpp), so growing
/// moves only bookkeeping, never bytes an event views.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "neutrino/core/constants.hpp"
#include "neutrino/reliable/detail/receive_pool.hpp"
#include "neutrino/time.hpp"

namespace neutrino::reliable::detail {

class receive_buffer {
public:
    enum class slot_state : std::uint8_t { empty, missing, stored };

    /// The largest payload a slot holds: v3's 1238 bytes (v2: 1214).
    static constexpr std::size_t max_stored_payload = receive_pool::block_size;
    /// Slots the ring starts with.
    static constexpr std::size_t initial_slots = 16;

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
        std::uint32_t block = receive_pool::no_block;  ///< the payload's, while stored
    };

    /// How far past the limit a dropped packet is still remembered, in windows.
    static constexpr std::uint64_t beyond_reach = 4;

    /// Takes payload blocks from `pool`, which must outlive this buffer.
    receive_buffer(std::size_t window, receive_pool& pool)
        : window_(window == 0 ? 1 : window), pool_(&pool), slots_(std::min(window_, initial_slots)) {}
    receive_buffer(const receive_buffer&) = delete;
    receive_buffer& operator=(const receive_buffer&) = delete;
    /// The layers move (into an io::endpoint): the blocks stay where they are, in the pool.
    receive_buffer(receive_buffer&& o) noexcept
        : window_(o.window_), pool_(o.pool_), slots_(std::move(o.slots_)), expected_(o.expected_),
          end_(o.end_), stored_(o.stored_), beyond_(o.beyond_), started_(o.started_) {
        o.slots_.clear();  // the moved-from buffer releases nothing
        o.stored_ = 0;
    }
    receive_buffer& operator=(receive_buffer&&) = delete;
    ~receive_buffer() { release_stored(); }

    [[nodiscard]] bool started() const noexcept { return started_; }
    /// The next packet number to deliver; everything before it was delivered.
    [[nodiscard]] std::uint64_t expected() const noexcept { return expected_; }
    /// The true contiguous edge: the acknowledgement to send.  spec: §18.3 item 18
    [[nodiscard]] std::uint64_t confirmed() const noexcept { return expected_ - 1; }
    /// One past the highest packet number seen.
    [[nodiscard]] std::uint64_t end() const noexcept { return end_; }
    /// The highest packet number that fits the window: the configured window, cut to the
    /// packets stored now plus the pool's room within its budget (at least the next packet to
    /// deliver), so that a spent budget stops the window from growing; the core drops what lies
    /// beyond, to be requested once the window has moved over it.
    [[nodiscard]] std::uint64_t limit() const noexcept {
        const std::size_t room = pool_->room();
        const std::size_t reach = room >= window_ ? window_ : std::min(window_, stored_ + room);
        return expected_ + std::max<std::size_t>(reach, 1) - 1;
    }
    [[nodiscard]] std::size_t window() const noexcept { return window_; }
    [[nodiscard]] std::size_t stored() const noexcept { return stored_; }
    /// Slots the ring has now (grows to the numbers outstanding, at most the window).
    [[nodiscard]] std::size_t slots() const noexcept { return slots_.size(); }
    /// Bytes of bookkeeping this buffer holds on the heap (the payloads are the pool's).
    [[nodiscard]] std::size_t memory() const noexcept { return slots_.capacity() * sizeof(slot); }
    /// The bytes of a slot `front` returned.
    [[nodiscard]] std::span<const std::byte> payload(const slot& s) const noexcept {
        return std::span<const std::byte>(pool_->bytes(s.block)).first(s.size);
    }

    /// The first packet of the session (HELLO2 on the client, HELLO3 on the server): counts as
    /// delivered.
    void start(std::uint64_t first) noexcept {
        expected_ = end_ = first + 1;
        started_ = true;
    }

    /// Stores packet `pn` (expected ≤ pn ≤ the limit the core was last given, so within the
    /// window; not stored yet: the caller checks) and marks
    /// the numbers skipped before it as missing since `now`, when `arrivals` packets had
    /// arrived before this one. The core has committed `pn` (its retransmission would be a
    /// replay), so it is always stored; returns false when that took the pool over its budget
    /// (by a gap the window had open before the budget was spent: see limit).
    bool store(std::uint64_t pn, core::packet_type type, std::uint32_t keyword,
               std::span<const std::byte> payload, time_point now, std::uint64_t arrivals) {
        const bool within = pool_->can_grow();
        const std::uint32_t b = pool_->acquire();
        reserve_through(pn);
        mark_missing(end_, pn, now, arrivals);
        if (pn >= end_) end_ = pn + 1;
        slot& s = at(pn);
        s.pn = pn;
        s.state = slot_state::stored;
        s.type = type;
        s.keyword = keyword;
        s.size = std::min(payload.size(), max_stored_payload);  // the core bounds it
        s.block = b;
        std::memcpy(pool_->bytes(b).data(), payload.data(), s.size);
        ++stored_;
        return within;
    }

    /// An authentic packet past the window was dropped. Within `beyond_reach` windows of the
    /// limit it is remembered, so that the numbers up to it count as missing once the window
    /// has moved over them (`extend_known`); further out it is no evidence at all (a peer can
    /// number a packet 2^63 ahead). Either way it requests nothing now.
    void note_beyond(std::uint64_t pn) noexcept {
        if (!started_ || pn <= limit() || pn - limit() > beyond_reach * window_) return;
        if (pn > beyond_) beyond_ = pn;
    }

    /// After the window moved: marks as missing (since `now`) the numbers it now covers up to
    /// the highest noted beyond it. Bounded by the window.
    void extend_known(time_point now, std::uint64_t arrivals) noexcept {
        if (!started_ || beyond_ < end_) return;
        const std::uint64_t to = std::min(beyond_ + 1, limit() + 1);
        if (to <= end_) return;
        reserve_through(to - 1);
        mark_missing(end_, to, now, arrivals);
        end_ = to;
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
    /// Drops the front slot. `viewed`: an event queued above views its bytes, so the pool
    /// holds the block until that event was consumed; else the block is free at once.
    void pop(bool viewed) {
        slot& s = at(expected_);
        s.state = slot_state::empty;
        if (viewed) {
            pool_->hold(s.block);
        } else {
            pool_->release(s.block);
        }
        s.block = receive_pool::no_block;
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

    /// Forgets the window; the blocks of packets stored and not delivered go back to the pool
    /// (nothing views them), the ring keeps its size.
    void reset() noexcept {
        release_stored();
        for (auto& s : slots_) s.state = slot_state::empty;
        started_ = false;
        beyond_ = 0;
        expected_ = end_ = 0;
    }

private:
    void mark_missing(std::uint64_t from, std::uint64_t to, time_point now, std::uint64_t arrivals) noexcept {
        for (std::uint64_t m = from; m < to; ++m) {  // bounded by the window
            slot& g = at(m);
            g.pn = m;
            g.state = slot_state::missing;
            g.requests = 0;
            g.missing_since = now;
            g.next_request = now;
            g.arrivals_at = arrivals;
        }
    }
    /// Grows the ring (doubling, at most the window) until it spans [expected, pn], moving the
    /// outstanding slots to their places in the larger ring. Only bookkeeping moves: payloads
    /// stay in their blocks.
    void reserve_through(std::uint64_t pn) {
        const std::uint64_t span = pn - expected_ + 1;  // ≤ window: the caller checked the limit
        if (span <= slots_.size()) return;
        std::size_t n = slots_.size();
        while (n < span) n *= 2;
        n = std::min(n, window_);
        std::vector<slot> grown(n);
        for (std::uint64_t m = expected_; m < end_; ++m) {
            const slot& s = at(m);
            if (s.pn == m && s.state != slot_state::empty) grown[static_cast<std::size_t>(m % n)] = s;
        }
        slots_ = std::move(grown);
    }
    void release_stored() noexcept {
        for (auto& s : slots_) {
            if (s.state == slot_state::stored && s.block != receive_pool::no_block) pool_->release(s.block);
            s.block = receive_pool::no_block;
        }
        stored_ = 0;
    }

    slot& at(std::uint64_t pn) noexcept { return slots_[static_cast<std::size_t>(pn % slots_.size())]; }
    const slot& at(std::uint64_t pn) const noexcept {
        return slots_[static_cast<std::size_t>(pn % slots_.size())];
    }

    std::size_t window_;
    receive_pool* pool_;
    std::vector<slot> slots_;
    std::uint64_t expected_ = 0;
    std::uint64_t end_ = 0;
    std::size_t stored_ = 0;
    std::uint64_t beyond_ = 0;
    bool started_ = false;
};

}  // namespace neutrino::reliable::detail
