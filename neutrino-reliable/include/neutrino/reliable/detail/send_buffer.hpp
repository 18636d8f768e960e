#pragma once
/// \file
/// The sender's record of numbered packets [base, next), by packet number: DATA keeps its
/// sealed bytes for byte-identical retransmission (spec: neutrino.md §12.4, §12.5); a
/// KEEP_ALIVE keeps only a marker, since a fresh one under the same number stands in for a
/// lost one. Memory follows use: the ring of records grows (doubling) to the numbers in flight,
/// at most `capacity`, and datagram buffers are allocated when first needed and reused after
/// (a free list), at most `data_capacity`; an idle session that never sent DATA holds a few
/// records and no buffer. Nothing is allocated once the pool has reached what the flight needs.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "neutrino/congestion/delivery_rate_sampler.hpp"
#include "neutrino/core/constants.hpp"
#include "neutrino/time.hpp"

namespace neutrino::reliable::detail {

class send_buffer {
public:
    /// `data_capacity` DATA packets with bytes, `capacity` packets in all.
    /// Records the ring starts with.
    static constexpr std::size_t initial_records = 16;

    send_buffer(std::size_t data_capacity, std::size_t capacity)
        : capacity_(std::max(capacity, data_capacity) == 0 ? 1 : std::max(capacity, data_capacity)),
          data_capacity_(data_capacity == 0 ? 1 : data_capacity),
          records_(std::min(capacity_, initial_records)) {}

    [[nodiscard]] std::size_t size() const noexcept { return static_cast<std::size_t>(next_ - base_); }
    /// Bytes of the DATA datagrams held and not inferred delivered (`infer_delivered_below`):
    /// what is in flight, for the congestion controller (RFC 6675's pipe).
    [[nodiscard]] std::size_t bytes_in_flight() const noexcept { return bytes_ - inferred_bytes_; }
    /// Bytes of the DATA datagrams held, delivered or not (they stay retransmittable until the
    /// cumulative acknowledgement passes them).
    [[nodiscard]] std::size_t bytes_held() const noexcept { return bytes_; }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] bool full() const noexcept { return size() == capacity(); }
    [[nodiscard]] bool empty() const noexcept { return size() == 0; }
    [[nodiscard]] std::uint64_t base() const noexcept { return base_; }
    [[nodiscard]] std::uint64_t next() const noexcept { return next_; }
    /// DATA packets held (with bytes).
    [[nodiscard]] std::size_t data() const noexcept { return pool_.size() - free_.size(); }
    [[nodiscard]] bool data_full() const noexcept { return data() >= data_capacity_; }
    /// Bytes this buffer holds on the heap now (records, datagram buffers, free list).
    [[nodiscard]] std::size_t memory() const noexcept {
        return records_.capacity() * sizeof(record) + pool_.size() * sizeof(datagram) +
               pool_.capacity() * sizeof(pool_[0]) + free_.capacity() * sizeof(std::size_t);
    }

    /// Records packet `pn`, which must follow the previous one (the core numbers
    /// consecutively); DATA (`control` false) keeps a copy of `wire`. Returns false, recording
    /// nothing, when full, out of sequence or oversized.
    bool store(std::uint64_t pn, std::span<const std::byte> wire, time_point now,
               bool control) noexcept {
        if (!started_) {
            base_ = next_ = infer_cursor_ = pn;
            started_ = true;
        }
        if (pn != next_ || full() || wire.size() > core::max_datagram_size) return false;
        if (!control && data_full()) return false;
        reserve_through(pn);
        record& r = at(pn);
        r.sent_at = now;
        r.resent_at = time_point{};
        r.rate = {};
        r.inferred = r.sampled = false;
        r.buffer = no_buffer;
        if (!control) {
            r.buffer = acquire();
            std::memcpy(pool_[r.buffer]->bytes.data(), wire.data(), wire.size());
            pool_[r.buffer]->size = wire.size();
            bytes_ += wire.size();
        }
        ++next_;
        return true;
    }

    /// What one acknowledgement dropped.
    struct acknowledged {
        std::size_t packets = 0;  ///< how many packets were dropped
        /// Whether one of them had been sent again: the acknowledgement is cumulative, so one
        /// that reaches over a repair waited for it, and its timing is no RTT sample.
        bool repaired = false;
    };

    /// Drops everything up to and including `ack`; `on_data(size, rate_state)` hears of each
    /// DATA datagram dropped (acknowledged) first, unless it was inferred delivered before
    /// (it was counted delivered then, and is not counted twice).
    template <class OnData>
    acknowledged acknowledge(std::uint64_t ack, OnData&& on_data) noexcept {
        if (!started_ || ack < base_) return {};
        const std::uint64_t to = ack >= next_ ? next_ : ack + 1;
        acknowledged a{.packets = static_cast<std::size_t>(to - base_)};
        for (std::uint64_t pn = base_; pn < to; ++pn) {  // bounded by capacity
            record& r = at(pn);
            a.repaired = a.repaired || r.resent_at != time_point{};
            if (r.buffer != no_buffer && !r.sampled) on_data(pool_[r.buffer]->size, r.rate);
            release(r);
        }
        base_ = to;
        return a;
    }
    acknowledged acknowledge(std::uint64_t ack) noexcept {
        return acknowledge(ack, [](std::size_t, const congestion::packet_rate_state&) noexcept {});
    }

    /// A request for `pn` arrived: the receiver asks for a number only once later packets
    /// arrived (or, a reference receiver, any later one), and asks for the numbers it misses in
    /// increasing order. So every DATA packet below `pn` that was never asked for (nor sent
    /// again) has arrived: it is marked delivered for the in-flight count (RFC 6675's pipe, a
    /// SACK inferred from the request) though its bytes stay, retransmittable, until the
    /// cumulative acknowledgement passes it. `on_data(size, rate_state)` hears of each packet
    /// newly marked. Each number is looked at once (a cursor moves up), so a stall of the
    /// cumulative acknowledgement costs no quadratic scan.
    /// `leave_pipe` false: the packets are reported delivered (to `on_data` now, not again at
    /// the cumulative acknowledgement) but stay in the in-flight count until it passes them.
    template <class OnData>
    void infer_delivered_below(std::uint64_t pn, OnData&& on_data, bool leave_pipe = true) noexcept {
        if (!started_) return;
        const std::uint64_t to = std::min(pn, next_);
        for (std::uint64_t q = std::max(base_, infer_cursor_); q < to; ++q) {  // bounded by capacity
            record& r = at(q);
            if (r.buffer == no_buffer || r.sampled || r.resent_at != time_point{}) continue;
            r.sampled = true;
            if (leave_pipe) {
                r.inferred = true;
                inferred_bytes_ += pool_[r.buffer]->size;
            }
            on_data(pool_[r.buffer]->size, r.rate);
        }
        infer_cursor_ = std::max(infer_cursor_, to);
    }
    /// Whether `pn` was inferred delivered (and not sent again since).
    [[nodiscard]] bool inferred(std::uint64_t pn) const noexcept { return at(pn).inferred; }
    /// Packet `pn` was inferred delivered but is asked for after all (its earlier request was
    /// lost, or it was reordered): it is sent again, that copy is in flight, and its delivery
    /// is reported at the cumulative acknowledgement (the inference counted it once too often).
    void uninfer(std::uint64_t pn) noexcept {
        record& r = at(pn);
        r.sampled = false;
        if (!r.inferred) return;
        r.inferred = false;
        if (r.buffer != no_buffer) inferred_bytes_ -= pool_[r.buffer]->size;
    }

    [[nodiscard]] bool contains(std::uint64_t pn) const noexcept {
        return started_ && pn >= base_ && pn < next_;
    }
    /// True for a KEEP_ALIVE marker (no bytes kept).
    [[nodiscard]] bool is_control(std::uint64_t pn) const noexcept { return at(pn).buffer == no_buffer; }
    /// The stored datagram of a DATA packet; empty for a marker.
    [[nodiscard]] std::span<const std::byte> bytes(std::uint64_t pn) const noexcept {
        const record& r = at(pn);
        if (r.buffer == no_buffer) return {};
        return {pool_[r.buffer]->bytes.data(), pool_[r.buffer]->size};
    }
    [[nodiscard]] time_point sent_at(std::uint64_t pn) const noexcept { return at(pn).sent_at; }
    [[nodiscard]] time_point resent_at(std::uint64_t pn) const noexcept { return at(pn).resent_at; }
    void mark_resent(std::uint64_t pn, time_point now) noexcept { at(pn).resent_at = now; }
    /// The delivery-rate state of packet `pn`'s latest transmission (congestion::delivery_rate_sampler).
    [[nodiscard]] const congestion::packet_rate_state& rate_state(std::uint64_t pn) const noexcept {
        return at(pn).rate;
    }
    void set_rate_state(std::uint64_t pn, const congestion::packet_rate_state& s) noexcept { at(pn).rate = s; }
    /// The newest DATA packet held, if any (for tail-loss probes).
    [[nodiscard]] std::optional<std::uint64_t> newest_data() const noexcept {
        for (std::uint64_t pn = next_; pn > base_; --pn) {  // bounded by capacity
            if (!is_control(pn - 1)) return pn - 1;
        }
        return std::nullopt;
    }

    /// Forgets everything and continues the numbering at `next` (after a packet that could not
    /// be recorded; only packets sent at the very end of a session can be).
    void resync(std::uint64_t next) noexcept {
        acknowledge(next_ == 0 ? 0 : next_ - 1);
        base_ = next_ = next;
        started_ = true;
    }
    void reset() noexcept {
        if (started_ && next_ > base_) acknowledge(next_ - 1);
        base_ = next_ = 0;
        infer_cursor_ = 0;
        started_ = false;
    }

private:
    static constexpr std::size_t no_buffer = SIZE_MAX;
    struct record {
        time_point sent_at{};
        time_point resent_at{};
        std::size_t buffer = no_buffer;
        congestion::packet_rate_state rate{};
        bool inferred = false;  ///< out of the in-flight count: see infer_delivered_below
        bool sampled = false;   ///< reported delivered: see infer_delivered_below
    };
    struct datagram {
        std::array<std::byte, core::max_datagram_size> bytes;
        std::size_t size = 0;
    };
    void release(record& r) noexcept {
        if (r.buffer != no_buffer) {
            bytes_ -= pool_[r.buffer]->size;
            if (r.inferred) inferred_bytes_ -= pool_[r.buffer]->size;
            r.inferred = r.sampled = false;
            free_.push_back(r.buffer);
            r.buffer = no_buffer;
        }
    }
    /// Grows the ring (doubling, at most the capacity) until it spans [base, pn], moving the
    /// records in flight to their places in the larger ring.
    void reserve_through(std::uint64_t pn) {
        const std::uint64_t span = pn - base_ + 1;  // ≤ capacity: store checked full()
        if (span <= records_.size()) return;
        std::size_t n = records_.size();
        while (n < span) n *= 2;
        n = std::min(n, capacity_);
        std::vector<record> grown(n);
        for (std::uint64_t q = base_; q < next_; ++q) grown[static_cast<std::size_t>(q % n)] = at(q);
        records_ = std::move(grown);
    }
    std::size_t acquire() {
        if (free_.empty()) {
            pool_.push_back(std::make_unique<datagram>());  // its own allocation: spans stay valid
            free_.reserve(pool_.capacity());  // release never allocates
            return pool_.size() - 1;
        }
        const std::size_t b = free_.back();
        free_.pop_back();
        return b;
    }

    record& at(std::uint64_t pn) noexcept { return records_[static_cast<std::size_t>(pn % records_.size())]; }
    const record& at(std::uint64_t pn) const noexcept {
        return records_[static_cast<std::size_t>(pn % records_.size())];
    }

    std::size_t capacity_;
    std::size_t data_capacity_;
    std::vector<record> records_;
    std::size_t bytes_ = 0;  ///< sum of the held DATA datagrams' sizes
    std::size_t inferred_bytes_ = 0;  ///< those of them inferred delivered
    std::uint64_t infer_cursor_ = 0;  ///< numbers below it were looked at by infer_delivered_below
    std::vector<std::unique_ptr<datagram>> pool_;
    std::vector<std::size_t> free_;
    std::uint64_t base_ = 0;
    std::uint64_t next_ = 0;
    bool started_ = false;
};

}  // namespace neutrino::reliable::detail
