#pragma once
/// \file
/// `impairment`: one direction of an impaired link as a sans-IO machine. Datagrams and `now`
/// go in (`submit`); impaired datagrams come out when due (`poll`), and `next_due` says when to
/// call again. Every decision is drawn from a seeded stream, so the same seed and the same
/// traffic (sizes, contents, times) give the same faults. The simulator drives it on virtual
/// time; a UDP proxy drives it on the wall clock.
///
/// A submitted datagram passes these stages, in this order; each stage draws from the random
/// stream only when it is configured (a probability of 0 draws nothing):
///
/// | stage | effect | counter |
/// |---|---|---|
/// | blackholes | submitted in `[start + from, start + to)`: dropped | `dropped_blackhole` |
/// | mtu | larger than `mtu` or `max_datagram_size`: dropped | `dropped_mtu` |
/// | rules | `drop_nth` index or `drop_if` predicate: dropped | `dropped_rule` |
/// | drop | independent loss, probability `drop` | `dropped_random` |
/// | burst | Gilbert–Elliott: transition, then loss in the new state | `dropped_burst` |
/// | rate | token bucket; tail drop past `max_queue_size` | `dropped_rate_queue` |
/// | duplicate | probability `duplicate`, or every k-th datagram | `duplicated` |
/// | corrupt (per copy) | truncate, extend with random bytes, flip bits | `corrupted` |
/// | delay (per copy) | departure + `delay` + uniform jitter in ±`jitter` | `delayed` |
/// | reorder (per copy) | held behind `positions` later copies, or by `delay` | `reordered` |
/// | memory (per copy) | buffers would exceed `max_held_size`: dropped | `dropped_memory` |
///
/// Jitter keeps the order unless `jitter_reorders`: a copy is never due before the copy
/// scheduled in order before it, so only the reorder stage reorders and its rate is what was
/// configured. Duplicates share their original's departure (the rate stage charges once).

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "neutrino/inspector/detail/buffer_pool.hpp"
#include "neutrino/random.hpp"
#include "neutrino/time.hpp"

namespace neutrino::inspector {

/// The largest datagram an impairment holds (UDP's limit); larger ones count as `dropped_mtu`.
inline constexpr std::size_t max_datagram_size = 65535;

/// A time interval `[from, to)` relative to the impairment's start time.
struct interval {
    duration from{};
    duration to{};
};

/// Burst loss, a two-state Markov chain evaluated once per datagram (after the independent
/// `drop`). Stationary loss: πB·loss_in_bad + (1−πB)·loss_in_good with πB = g/(g+b), g =
/// `p_good_to_bad`, b = `p_bad_to_good`; with loss_in_bad = 1 and loss_in_good = 0 the mean
/// burst is 1/b datagrams. Off while `p_good_to_bad` and `loss_in_good` are 0.
struct gilbert_elliott {
    double p_good_to_bad = 0.0;
    double p_bad_to_good = 1.0;
    double loss_in_bad = 1.0;
    double loss_in_good = 0.0;
};

/// Reordering of a fraction of the datagrams.
struct reordering {
    double probability = 0.0;  ///< chance a copy is picked
    /// > 0: a picked copy is held until that many later copies have been scheduled in order
    /// (it is then due just after the last of them), or until `delay` past its own due time
    /// when traffic stops. 0: a picked copy is due `delay` later than it would have been.
    std::size_t positions = 0;
    duration delay = std::chrono::milliseconds(10);
};

/// Corruption of single copies; the three kinds are drawn independently.
struct corruption {
    double probability = 0.0;   ///< chance of flipping `flip_bits` distinct random bits
    std::size_t flip_bits = 1;  ///< at most 64 (and at most the datagram's bits)
    double truncate = 0.0;      ///< chance of cutting to a uniform size in [0, size − 1]
    double extend = 0.0;        ///< chance of appending 1 … `max_extend_size` random bytes
    std::size_t max_extend_size = 16;
};

/// A token bucket at the link's entrance: `bytes_per_second` (0: unlimited), depth
/// `burst_size` (at least the datagram's size). A datagram departs, in FIFO order, as soon as
/// the bucket holds its size; datagrams waiting for tokens form the queue, and one that would
/// take it past `max_queue_size` bytes is dropped (tail drop).
struct rate_limit {
    std::uint64_t bytes_per_second = 0;
    std::size_t burst_size = 0;
    std::size_t max_queue_size = std::size_t{64} * 1024;
};

/// Reads a datagram and says whether a rule applies (see classifier.hpp).
using datagram_predicate = std::function<bool(std::span<const std::byte>)>;

/// Scripted faults, by submission index (the first datagram is 1) or content.
struct rules {
    std::vector<std::uint64_t> drop_nth;  ///< indices to drop
    std::uint64_t duplicate_every = 0;    ///< duplicate datagrams k, 2k, 3k, … (0: off)
    datagram_predicate drop_if;           ///< drop when it returns true (empty: off)
};

/// One direction's impairments; the defaults impair nothing.
struct impairment_config {
    double drop = 0.0;  ///< independent loss probability
    gilbert_elliott burst{};
    double duplicate = 0.0;  ///< chance of a second copy
    reordering reorder{};
    duration delay{};   ///< fixed one-way delay
    duration jitter{};  ///< uniform in [−jitter, +jitter], never below the departure time
    bool jitter_reorders = false;  ///< let jitter reorder (netem-like) instead of keeping order
    corruption corrupt{};
    rate_limit rate{};
    std::size_t mtu = 0;  ///< larger datagrams are dropped (0: no limit but max_datagram_size)
    std::vector<interval> blackholes;  ///< link down while these last
    rules script{};
    /// Bound on the buffers holding datagrams (in flight, queued, held back); each costs its
    /// size rounded up to a power of two (≥ 128). Copies past it are dropped.
    std::size_t max_held_size = std::size_t{16} * 1024 * 1024;
};

/// What the impairment did to a datagram, for the trace.
enum class action : std::uint8_t {
    scheduled,  ///< a copy will be delivered at `due`
    delivered,  ///< a copy was handed out by poll
    duplicated,
    corrupted,
    reordered,
    dropped_blackhole,
    dropped_mtu,
    dropped_rule,
    dropped_random,
    dropped_burst,
    dropped_rate_queue,
    dropped_memory,
};

[[nodiscard]] constexpr std::string_view to_string(action a) noexcept {
    switch (a) {
        case action::scheduled: return "scheduled";
        case action::delivered: return "delivered";
        case action::duplicated: return "duplicated";
        case action::corrupted: return "corrupted";
        case action::reordered: return "reordered";
        case action::dropped_blackhole: return "dropped_blackhole";
        case action::dropped_mtu: return "dropped_mtu";
        case action::dropped_rule: return "dropped_rule";
        case action::dropped_random: return "dropped_random";
        case action::dropped_burst: return "dropped_burst";
        case action::dropped_rate_queue: return "dropped_rate_queue";
        case action::dropped_memory: return "dropped_memory";
    }
    return "unknown";
}

/// One decision. `due` is set for `scheduled` and `delivered`; `size` is the copy's size
/// after corruption (the submitted size for drops).
struct trace_record {
    std::uint64_t index = 0;  ///< submission index of the datagram (first is 1)
    action what = action::scheduled;
    time_point at{};  ///< when it was decided
    time_point due{};
    std::size_t size = 0;

    friend bool operator==(const trace_record&, const trace_record&) = default;
};

/// Called for every decision when set; keep it cheap (it runs per datagram).
using trace_hook = std::function<void(const trace_record&)>;

/// What an impairment did, counted per datagram copy.
struct impairment_stats {
    std::uint64_t submitted = 0;
    std::uint64_t submitted_bytes = 0;
    std::uint64_t delivered = 0;
    std::uint64_t delivered_bytes = 0;
    std::uint64_t dropped_blackhole = 0;
    std::uint64_t dropped_mtu = 0;
    std::uint64_t dropped_rule = 0;
    std::uint64_t dropped_random = 0;
    std::uint64_t dropped_burst = 0;
    std::uint64_t dropped_rate_queue = 0;
    std::uint64_t dropped_memory = 0;
    std::uint64_t duplicated = 0;
    std::uint64_t corrupted = 0;
    std::uint64_t reordered = 0;
    std::uint64_t delayed = 0;       ///< copies due later than submitted
    std::size_t held_size = 0;       ///< bytes of buffers holding datagrams now
    std::size_t peak_held_size = 0;  ///< the most `held_size` has been

    /// Every drop, whatever the reason.
    [[nodiscard]] std::uint64_t dropped() const noexcept {
        return dropped_blackhole + dropped_mtu + dropped_rule + dropped_random + dropped_burst +
               dropped_rate_queue + dropped_memory;
    }
};

/// A datagram handed out by `poll`. `bytes` views the impairment's buffer: valid until the
/// next non-const call on the impairment (copy to keep).
struct delivery {
    std::span<const std::byte> bytes;
    time_point due{};
    std::uint64_t index = 0;  ///< submission index of the original datagram
    std::uint64_t tag = 0;    ///< what the driver passed to `submit`
};

/// Derives independent seeds from one (SplitMix64), e.g. one per direction.
[[nodiscard]] constexpr std::uint64_t derive_seed(std::uint64_t seed,
                                                  std::uint64_t stream) noexcept {
    std::uint64_t z = seed + (stream + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/// One direction of an impaired link. Holds at most `max_held_size` bytes of buffers, reused
/// without allocation once warm. Not thread-safe: one owner calls it. Times passed in must not
/// go backwards (an earlier `now` is taken as the latest seen).
class impairment {
public:
    /// Throws `std::invalid_argument` for a probability outside [0, 1], an interval with
    /// `to < from`, a negative delay or jitter, or `max_held_size` below one maximal buffer
    /// of `mtu` bytes.
    impairment(impairment_config cfg, std::uint64_t seed, time_point start = time_point{})
        : cfg_(std::move(cfg)),
          random_(seed),
          start_(start),
          pool_(cfg_.max_held_size),
          last_now_(start),
          tat_(start),
          last_departure_(start),
          last_in_order_due_(start) {
        validate();
        std::sort(cfg_.script.drop_nth.begin(), cfg_.script.drop_nth.end());
        mtu_ = cfg_.mtu == 0 ? max_datagram_size : std::min(cfg_.mtu, max_datagram_size);
        burst_enabled_ = cfg_.burst.p_good_to_bad > 0.0 || cfg_.burst.loss_in_good > 0.0;
    }

    impairment(const impairment&) = delete;
    impairment& operator=(const impairment&) = delete;
    impairment(impairment&&) noexcept = default;
    impairment& operator=(impairment&&) noexcept = default;
    ~impairment() = default;

    /// Takes one datagram submitted at `now` (copied; `datagram` need not outlive the call).
    /// `tag` is handed back with every copy (a proxy can name the peer with it). Returns how
    /// many copies were scheduled: 0 (dropped), 1, or 2 (duplicated).
    std::size_t submit(std::span<const std::byte> datagram, time_point now, std::uint64_t tag = 0) {
        release_current();
        now = advance(now);
        const std::uint64_t index = ++stats_.submitted;
        stats_.submitted_bytes += datagram.size();
        const std::size_t size = datagram.size();
        if (in_blackhole(now)) {
            return drop(action::dropped_blackhole, stats_.dropped_blackhole, index, now, size);
        }
        if (size > mtu_) return drop(action::dropped_mtu, stats_.dropped_mtu, index, now, size);
        if (std::binary_search(cfg_.script.drop_nth.begin(), cfg_.script.drop_nth.end(), index) ||
            (cfg_.script.drop_if && cfg_.script.drop_if(datagram))) {
            return drop(action::dropped_rule, stats_.dropped_rule, index, now, size);
        }
        if (chance(cfg_.drop)) {
            return drop(action::dropped_random, stats_.dropped_random, index, now, size);
        }
        if (burst_loss()) {
            return drop(action::dropped_burst, stats_.dropped_burst, index, now, size);
        }
        time_point departure = now;
        if (cfg_.rate.bytes_per_second != 0) {
            auto d = shape(size, now);
            if (!d) {
                return drop(action::dropped_rate_queue, stats_.dropped_rate_queue, index, now,
                            size);
            }
            departure = *d;
        }
        std::size_t copies = 1;
        const std::uint64_t k = cfg_.script.duplicate_every;
        if (chance(cfg_.duplicate) || (k != 0 && index % k == 0)) {
            copies = 2;
            ++stats_.duplicated;
            record(action::duplicated, index, now, {}, size);
        }
        std::size_t scheduled = 0;
        for (std::size_t i = 0; i < copies; ++i) {
            scheduled += schedule_copy(datagram, index, tag, now, departure);
        }
        return scheduled;
    }

    /// The next datagram due at or before `now`, in due order (ties in scheduling order);
    /// `nullopt` when none is due. The bytes stay valid until the next non-const call.
    std::optional<delivery> poll(time_point now) {
        release_current();
        now = advance(now);
        release_held_until(now);
        if (heap_.empty() || heap_.front().due > now) return std::nullopt;
        std::pop_heap(heap_.begin(), heap_.end(), later);
        current_ = std::move(heap_.back());
        heap_.pop_back();
        ++stats_.delivered;
        stats_.delivered_bytes += current_.size;
        record(action::delivered, current_.index, now, current_.due, current_.size);
        return delivery{
            {current_.buffer.data(), current_.size}, current_.due, current_.index, current_.tag};
    }

    /// When `poll` will next return a datagram, `nullopt` when nothing is held.
    [[nodiscard]] std::optional<time_point> next_due() const noexcept {
        std::optional<time_point> t;
        if (!heap_.empty()) t = heap_.front().due;
        for (const auto& h : held_) {
            if (!t || h.release_by < *t) t = h.release_by;
        }
        return t;
    }

    /// Datagram copies scheduled or held back and not yet delivered.
    [[nodiscard]] std::size_t pending() const noexcept { return heap_.size() + held_.size(); }
    [[nodiscard]] const impairment_stats& stats() const noexcept { return stats_; }
    [[nodiscard]] const impairment_config& configuration() const noexcept { return cfg_; }
    [[nodiscard]] time_point start() const noexcept { return start_; }
    /// Records every decision through `hook` (empty: off).
    void set_trace(trace_hook hook) { trace_ = std::move(hook); }

private:
    static constexpr std::size_t max_flipped_bits = 64;

    struct item {
        time_point due{};
        std::uint64_t seq = 0;  // scheduling order: ties leave in it
        std::uint64_t index = 0;
        std::uint64_t tag = 0;
        std::size_t size = 0;
        detail::buffer_pool::slot buffer;
    };
    struct held_item {
        item copy;
        std::size_t remaining = 0;
        time_point release_by{};
    };
    struct queued {
        time_point departure{};
        std::size_t size = 0;
    };

    // Heap order: earliest due first, then scheduling order.
    static bool later(const item& x, const item& y) noexcept {
        return x.due != y.due ? x.due > y.due : x.seq > y.seq;
    }

    void validate() const {
        auto probability = [](double p, const char* what) {
            if (!(p >= 0.0 && p <= 1.0)) {
                throw std::invalid_argument(std::string("impairment_config: ") + what +
                                            " must be in [0, 1]");
            }
        };
        probability(cfg_.drop, "drop");
        probability(cfg_.burst.p_good_to_bad, "burst.p_good_to_bad");
        probability(cfg_.burst.p_bad_to_good, "burst.p_bad_to_good");
        probability(cfg_.burst.loss_in_bad, "burst.loss_in_bad");
        probability(cfg_.burst.loss_in_good, "burst.loss_in_good");
        probability(cfg_.duplicate, "duplicate");
        probability(cfg_.reorder.probability, "reorder.probability");
        probability(cfg_.corrupt.probability, "corrupt.probability");
        probability(cfg_.corrupt.truncate, "corrupt.truncate");
        probability(cfg_.corrupt.extend, "corrupt.extend");
        if (cfg_.delay < duration::zero() || cfg_.jitter < duration::zero() ||
            cfg_.reorder.delay < duration::zero()) {
            throw std::invalid_argument("impairment_config: delays must not be negative");
        }
        for (const auto& b : cfg_.blackholes) {
            if (b.to < b.from)
                throw std::invalid_argument("impairment_config: blackhole ends before it starts");
        }
        const std::size_t largest =
            cfg_.mtu == 0 ? max_datagram_size : std::min(cfg_.mtu, max_datagram_size);
        if (cfg_.max_held_size <
            detail::buffer_pool::capacity_of(detail::buffer_pool::class_of(largest))) {
            throw std::invalid_argument(
                "impairment_config: max_held_size below one buffer of mtu bytes");
        }
    }

    time_point advance(time_point now) noexcept {
        last_now_ = std::max(last_now_, now);
        return last_now_;
    }

    // A value in [0, 1) from 53 random bits.
    double unit() noexcept {
        return static_cast<double>(random_.uniform(0, (std::uint64_t{1} << 53) - 1)) * 0x1p-53;
    }
    // True with probability p; draws nothing when p is 0 or 1.
    bool chance(double p) noexcept {
        if (p <= 0.0) return false;
        if (p >= 1.0) return true;
        return unit() < p;
    }

    [[nodiscard]] bool in_blackhole(time_point now) const noexcept {
        return std::any_of(cfg_.blackholes.begin(), cfg_.blackholes.end(), [&](const interval& b) {
            return now >= start_ + b.from && now < start_ + b.to;
        });
    }

    bool burst_loss() noexcept {
        if (!burst_enabled_) return false;
        bad_ = bad_ ? !chance(cfg_.burst.p_bad_to_good) : chance(cfg_.burst.p_good_to_bad);
        return chance(bad_ ? cfg_.burst.loss_in_bad : cfg_.burst.loss_in_good);
    }

    // Nanoseconds to send `bytes` at the configured rate, rounded up.
    [[nodiscard]] duration transmit_time(std::size_t bytes) const noexcept {
        const double ns = std::ceil(static_cast<double>(bytes) * 1e9 /
                                    static_cast<double>(cfg_.rate.bytes_per_second));
        return std::chrono::duration_cast<duration>(
            std::chrono::nanoseconds(static_cast<std::int64_t>(ns)));
    }

    // Token bucket as a theoretical arrival time (GCRA): the bucket is full at `tat_` and
    // holds depth − rate·(tat_ − t) tokens before it, so a datagram of `size` may leave at
    // tat_ − (depth − size)/rate. Departures stay in FIFO order.
    std::optional<time_point> shape(std::size_t size, time_point now) {
        while (queue_head_ < queue_.size() && queue_[queue_head_].departure <= now) {
            queued_size_ -= queue_[queue_head_].size;
            ++queue_head_;
        }
        if (queue_head_ == queue_.size()) {
            queue_.clear();
            queue_head_ = 0;
        } else if (queue_head_ > 1024 && queue_head_ * 2 > queue_.size()) {
            queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(queue_head_));
            queue_head_ = 0;
        }
        const std::size_t depth = std::max(cfg_.rate.burst_size, size);
        time_point departure = std::max({now, tat_ - transmit_time(depth - size), last_departure_});
        if (departure > now) {
            if (queued_size_ + size > cfg_.rate.max_queue_size) return std::nullopt;
            queue_.push_back({departure, size});
            queued_size_ += size;
        }
        tat_ = std::max(departure, tat_) + transmit_time(size);
        last_departure_ = departure;
        return departure;
    }

    std::size_t schedule_copy(std::span<const std::byte> datagram, std::uint64_t index,
                              std::uint64_t tag, time_point now, time_point departure) {
        const corruption& c = cfg_.corrupt;
        std::size_t size = datagram.size();
        bool corrupted = false;
        if (chance(c.truncate) && size > 0) {
            size = static_cast<std::size_t>(random_.uniform(0, size - 1));
            corrupted = true;
        }
        if (chance(c.extend) && c.max_extend_size > 0) {
            size = std::min(max_datagram_size,
                            size + static_cast<std::size_t>(random_.uniform(1, c.max_extend_size)));
            corrupted = true;
        }
        const bool flip = chance(c.probability) && size > 0 && c.flip_bits > 0;

        auto buffer = pool_.acquire(size);
        if (!buffer) return drop(action::dropped_memory, stats_.dropped_memory, index, now, size);
        note_held();
        const std::size_t kept = std::min(size, datagram.size());
        if (kept > 0) std::memcpy(buffer->data(), datagram.data(), kept);
        if (size > kept) random_.fill({buffer->data() + kept, size - kept});
        if (flip) {
            flip_bits({buffer->data(), size});
            corrupted = true;
        }
        if (corrupted) {
            ++stats_.corrupted;
            record(action::corrupted, index, now, {}, size);
        }

        time_point due = departure + cfg_.delay;
        if (cfg_.jitter > duration::zero()) {
            const auto j = static_cast<std::uint64_t>(cfg_.jitter.count());
            const auto offset =
                static_cast<duration::rep>(random_.uniform(0, 2 * j)) - cfg_.jitter.count();
            due = std::max(departure, due + duration(offset));
            if (!cfg_.jitter_reorders) due = std::max(due, last_in_order_due_);
        }
        item copy{due, 0, index, tag, size, std::move(*buffer)};

        if (chance(cfg_.reorder.probability)) {
            ++stats_.reordered;
            record(action::reordered, index, now, {}, size);
            if (cfg_.reorder.positions > 0) {
                const time_point release_by = due + cfg_.reorder.delay;
                held_.push_back({std::move(copy), cfg_.reorder.positions, release_by});
                if (release_by > now) ++stats_.delayed;
                return 1;
            }
            copy.due += cfg_.reorder.delay;
            push(std::move(copy), now);
            return 1;
        }
        last_in_order_due_ = std::max(last_in_order_due_, due);
        push(std::move(copy), now);
        // Copies held back by positions follow once enough later copies went ahead.
        for (std::size_t i = 0; i < held_.size();) {
            if (--held_[i].remaining == 0) {
                item h = std::move(held_[i].copy);
                held_.erase(held_.begin() + static_cast<std::ptrdiff_t>(i));
                h.due = std::max(h.due, due);
                push(std::move(h), now, false);
            } else {
                ++i;
            }
        }
        return 1;
    }

    // Flips min(flip_bits, 64, all) distinct bits, so that flips never cancel each other.
    void flip_bits(std::span<std::byte> bytes) noexcept {
        const std::uint64_t bits = std::uint64_t{bytes.size()} * 8;
        std::array<std::uint64_t, max_flipped_bits> chosen{};
        const auto n = static_cast<std::size_t>(
            std::min<std::uint64_t>({cfg_.corrupt.flip_bits, max_flipped_bits, bits}));
        for (std::size_t i = 0; i < n; ++i) {
            const auto taken = chosen.begin() + static_cast<std::ptrdiff_t>(i);
            std::uint64_t bit = 0;
            do {
                bit = random_.uniform(0, bits - 1);
            } while (std::find(chosen.begin(), taken, bit) != taken);
            chosen[i] = bit;
            bytes[static_cast<std::size_t>(bit / 8)] ^=
                std::byte{static_cast<std::uint8_t>(1U << (bit % 8))};
        }
    }

    void push(item copy, time_point now, bool count_delay = true) {
        copy.seq = next_seq_++;
        if (count_delay && copy.due > now) ++stats_.delayed;
        record(action::scheduled, copy.index, now, copy.due, copy.size);
        heap_.push_back(std::move(copy));
        std::push_heap(heap_.begin(), heap_.end(), later);
    }

    void release_held_until(time_point now) {
        for (std::size_t i = 0; i < held_.size();) {
            if (held_[i].release_by <= now) {
                item h = std::move(held_[i].copy);
                h.due = held_[i].release_by;
                held_.erase(held_.begin() + static_cast<std::ptrdiff_t>(i));
                push(std::move(h), now, false);
            } else {
                ++i;
            }
        }
    }

    void release_current() {
        if (!current_.buffer.bytes.empty()) {
            pool_.release(std::move(current_.buffer));
            current_.buffer = {};
            stats_.held_size = pool_.in_use_size();
        }
    }

    void note_held() noexcept {
        stats_.held_size = pool_.in_use_size();
        stats_.peak_held_size = std::max(stats_.peak_held_size, stats_.held_size);
    }

    std::size_t drop(action a, std::uint64_t& counter, std::uint64_t index, time_point now,
                     std::size_t size) {
        ++counter;
        record(a, index, now, {}, size);
        return 0;
    }

    void record(action a, std::uint64_t index, time_point now, time_point due, std::size_t size) {
        if (trace_) trace_(trace_record{index, a, now, due, size});
    }

    impairment_config cfg_;
    seeded_random random_;
    time_point start_;
    detail::buffer_pool pool_;
    std::size_t mtu_ = max_datagram_size;
    bool burst_enabled_ = false;
    bool bad_ = false;
    time_point last_now_;
    // rate limit
    time_point tat_;
    time_point last_departure_;
    std::vector<queued> queue_;
    std::size_t queue_head_ = 0;
    std::size_t queued_size_ = 0;
    // schedule
    time_point last_in_order_due_;
    std::uint64_t next_seq_ = 0;
    std::vector<item> heap_;
    std::vector<held_item> held_;
    item current_;
    impairment_stats stats_;
    trace_hook trace_;
};

}  // namespace neutrino::inspector
