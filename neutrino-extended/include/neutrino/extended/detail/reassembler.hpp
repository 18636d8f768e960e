#pragma once
/// \file
/// Validating reassembly of Extended messages from DATA payloads delivered in order.
/// spec: neutrino.md §13.3
///
/// Rules: keyword 0 is a whole message; a series starts at keyword k ≥ 1 and counts down by
/// one to 1, every fragment but the last exactly `fragment_size` bytes, with no other DATA in
/// between (control packets may interleave: the reliable layer consumes them). The announced
/// size k × fragment_size is checked against the maximum, and against the endpoint's memory
/// budget, before anything is buffered; the buffer is reserved once, so reassembly never
/// copies a byte twice. A series announcing more than `stream_above` bytes is not buffered at
/// all: its fragments come out as parts, checked by a `stream_decoder` as they pass. On any
/// violation the partial message is dropped and the violation reported; fragments left of a
/// refused series are discarded up to its keyword 1.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <system_error>
#include <vector>

#include "neutrino/core/words.hpp"
#include "neutrino/extended/error.hpp"
#include "neutrino/extended/stream_decoder.hpp"

namespace neutrino::extended::detail {

/// Bytes reserved for partial messages by all reassemblers of one endpoint.
struct memory_budget {
    std::size_t limit = std::numeric_limits<std::size_t>::max();
    std::size_t used = 0;
    std::size_t high = 0;  ///< high-water mark of `used`
};

class reassembler {
public:
    /// What one DATA payload produced.
    struct outcome {
        enum class kind { pending, message, part, error } what = kind::pending;
        /// kind::message: the encoded message; kind::part: the next bytes of a streamed one.
        /// Valid until the next push.
        std::span<const std::byte> message;
        std::uint64_t offset = 0;      ///< kind::part: position of `message` in the stream
        std::uint64_t size_bound = 0;  ///< kind::part: announced size (fragments × fragment size)
        bool first = false;            ///< kind::part: first part of its message
        bool last = false;             ///< kind::part: the message is complete
        std::error_code error;         ///< kind::error
    };

    reassembler(std::size_t max_message_size, std::size_t fragment_size,
                std::size_t stream_above = std::numeric_limits<std::size_t>::max(),
                memory_budget* budget = nullptr)
        : max_(max_message_size), fragment_(fragment_size), stream_above_(stream_above),
          budget_(budget == nullptr ? &own_budget_ : budget) {}

    reassembler(const reassembler&) = delete;
    reassembler& operator=(const reassembler&) = delete;
    ~reassembler() { release(); }

    /// Takes the next DATA payload in delivery order.
    outcome push(std::uint32_t keyword, std::span<const std::byte> payload) {
        second_ = {};
        settle();  // the last message is gone
        if (discarding_ && keyword != 0) {
            // the rest of a refused or broken series, up to its keyword 1
            if (keyword == 1) discarding_ = false;
            ++discarded_;
            return {};
        }
        if (in_series()) {
            if (keyword != expected_) {
                // The series is broken: drop it and skip its rest (fragments up to a keyword
                // 1). A whole message (keyword 0) that broke it still stands on its own.
                drop();
                discarding_ = keyword != 1;
                if (keyword == 0) second_ = whole(payload);
                if (keyword != 0) ++discarded_;
                return failure(errc::broken_series);
            }
            return append(keyword, payload);
        }
        if (keyword == 0) return whole(payload);
        // A message that fits one packet goes with keyword 0, so a series has at least two
        // fragments: a lone keyword 1 is a fragment after the end of a series.
        if (keyword == 1) return failure(errc::broken_series);
        // a new series of `keyword` fragments
        const std::uint64_t announced = static_cast<std::uint64_t>(keyword) * fragment_;
        if (announced > max_ + fragment_ - 1) return refuse(keyword, errc::message_too_large);
        streaming_ = announced > stream_above_;
        offset_ = 0;
        announced_ = announced;
        first_ = keyword;
        if (streaming_) {
            decoder_.reset();
        } else {
            const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(announced, max_));
            buffer_.clear();
            if (want > buffer_.capacity()) {
                release();
                if (want > budget_->limit - std::min(budget_->limit, budget_->used)) {
                    return refuse(keyword, errc::reassembly_budget);
                }
                buffer_.reserve(want);
                account();
            }
        }
        expected_ = keyword;
        return append(keyword, payload);
    }

    /// What the packet that broke a series produced on its own (a whole message, the start of
    /// a new series, or another error); `pending` otherwise. Valid after a push that returned
    /// errc::broken_series, until the next push.
    [[nodiscard]] outcome take_second() noexcept {
        outcome o = second_;
        second_ = {};
        return o;
    }

    /// Bytes held for the partial message, and reserved.
    [[nodiscard]] std::size_t buffered() const noexcept { return buffer_.size(); }
    [[nodiscard]] std::size_t capacity() const noexcept { return buffer_.capacity(); }
    [[nodiscard]] bool in_series() const noexcept { return expected_ != 0; }
    /// Fragments dropped as the rest of a refused or broken series.
    [[nodiscard]] std::uint64_t discarded() const noexcept { return discarded_; }
    /// True while the current series is streamed.
    [[nodiscard]] bool streaming() const noexcept { return in_series() && streaming_; }

    /// Frees a large buffer of the last message delivered (its view is no longer needed).
    void settle() noexcept {
        if (!in_series() && buffer_.capacity() > keep_capacity) release();
    }

    void reset() noexcept {
        drop();
        discarding_ = false;
    }

private:
    // A buffer up to this size is kept between messages (no allocation per message).
    static constexpr std::size_t keep_capacity = 256 * 1024;

    outcome append(std::uint32_t keyword, std::span<const std::byte> payload) {
        const bool last = keyword == 1;
        if (payload.empty() || payload.size() > fragment_ || (!last && payload.size() != fragment_)) {
            return abort_series(keyword, errc::bad_fragment);
        }
        if (offset_ + payload.size() > max_) return abort_series(keyword, errc::message_too_large);
        expected_ = keyword - 1;
        if (streaming_) {
            if (decoder_.feed(payload) || (last && !decoder_.complete())) {
                return abort_series(keyword, errc::malformed_message);
            }
            outcome o;
            o.what = outcome::kind::part;
            o.message = payload;
            o.offset = offset_;
            o.size_bound = announced_;
            o.first = keyword == first_;
            o.last = last;
            offset_ += payload.size();
            return o;
        }
        buffer_.insert(buffer_.end(), payload.begin(), payload.end());
        offset_ += payload.size();
        if (!last) return {};
        return whole_buffer();
    }

    // Drops the series this fragment belongs to and skips the rest of it.
    outcome abort_series(std::uint32_t keyword, errc e) {
        drop();
        discarding_ = keyword > 1;
        return failure(e);
    }

    outcome refuse(std::uint32_t keyword, errc e) {
        discarding_ = keyword > 1;
        expected_ = 0;
        return failure(e);
    }

    outcome whole(std::span<const std::byte> payload) {
        if (payload.size() > max_) return failure(errc::message_too_large);
        auto n = core::extended_word_codec::validate(payload);
        if (!n) return failure(errc::malformed_message);
        outcome o;
        o.what = outcome::kind::message;
        o.message = payload.first(*n);
        return o;
    }

    outcome whole_buffer() {
        expected_ = 0;
        auto n = core::extended_word_codec::validate(buffer_);
        if (!n) {
            drop();
            return failure(errc::malformed_message);
        }
        outcome o;
        o.what = outcome::kind::message;
        o.message = std::span<const std::byte>(buffer_).first(*n);
        return o;
    }

    // Forgets the partial message and frees its buffer (failures are rare; a buffer is kept
    // between successful messages only).
    void drop() noexcept {
        release();
        expected_ = 0;
        offset_ = 0;
    }

    // Frees the buffer and returns its bytes to the budget.
    void release() noexcept {
        std::vector<std::byte>().swap(buffer_);
        account();
    }

    void account() noexcept {
        budget_->used = budget_->used - accounted_ + buffer_.capacity();
        accounted_ = buffer_.capacity();
        budget_->high = std::max(budget_->high, budget_->used);
    }

    static outcome failure(errc e) {
        outcome o;
        o.what = outcome::kind::error;
        o.error = make_error_code(e);
        return o;
    }

    std::size_t max_;
    std::size_t fragment_;
    std::size_t stream_above_;
    memory_budget own_budget_;
    memory_budget* budget_;
    std::size_t accounted_ = 0;
    std::vector<std::byte> buffer_;
    stream_decoder decoder_;
    std::uint64_t offset_ = 0;
    std::uint64_t announced_ = 0;
    std::uint32_t expected_ = 0;  ///< keyword of the next fragment; 0 = no series
    std::uint32_t first_ = 0;     ///< keyword of the series' first fragment
    std::uint64_t discarded_ = 0;
    bool streaming_ = false;
    bool discarding_ = false;
    outcome second_;
};

}  // namespace neutrino::extended::detail
