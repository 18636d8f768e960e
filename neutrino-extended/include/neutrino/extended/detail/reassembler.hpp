#pragma once
/// \file
/// Validating reassembly of Extended messages from DATA payloads delivered in order.
/// spec: neutrino.md §13.3
///
/// Rules: keyword 0 is a whole message; a series starts at keyword k ≥ 1 and counts down by
/// one to 1, every fragment but the last exactly `fragment_size` bytes, with no other DATA in
/// between (control packets may interleave: the reliable layer consumes them). The announced
/// size k × fragment_size is checked against the maximum before anything is buffered, and the
/// buffer is reserved once, so reassembly never copies a byte twice. On any violation the
/// partial message is dropped and the violation reported; fragments left of a refused series
/// are discarded up to its keyword 1.

#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <vector>

#include "neutrino/core/words.hpp"
#include "neutrino/extended/error.hpp"

namespace neutrino::extended::detail {

class reassembler {
public:
    /// What one DATA payload produced.
    struct outcome {
        enum class kind { pending, message, error } what = kind::pending;
        std::span<const std::byte> message;  ///< kind::message: the encoded message (valid until next push)
        std::error_code error;               ///< kind::error
    };

    reassembler(std::size_t max_message_size, std::size_t fragment_size)
        : max_(max_message_size), fragment_(fragment_size) {}

    /// Takes the next DATA payload in delivery order.
    outcome push(std::uint32_t keyword, std::span<const std::byte> payload) {
        if (discarding_) {
            if (keyword != 0 && keyword == expected_) {
                expected_ = keyword - 1;
                if (keyword == 1) discarding_ = false;
                return {};
            }
            discarding_ = false;  // the refused series ended early: judge this packet afresh
        }
        if (in_series()) {
            if (keyword != expected_) {
                drop();
                second_ = push(keyword, payload);  // this packet may start something valid
                return failure(errc::broken_series);
            }
            return append(keyword, payload);
        }
        if (keyword == 0) return whole(payload);
        // a new series of `keyword` fragments
        if (static_cast<std::uint64_t>(keyword) * fragment_ > max_ + fragment_ - 1) {
            discarding_ = keyword > 1;
            expected_ = keyword - 1;
            return failure(errc::message_too_large);
        }
        buffer_.clear();
        buffer_.reserve(std::min<std::size_t>(static_cast<std::size_t>(keyword) * fragment_, max_));
        expected_ = keyword;
        return append(keyword, payload);
    }

    /// What the packet that broke a series produced on its own (a whole message, the start of
    /// a new series, or another error); `pending` otherwise. Call after a push that returned
    /// errc::broken_series.
    outcome take_second() noexcept {
        outcome o = second_;
        second_ = {};
        return o;
    }

    /// Bytes held for the partial message.
    [[nodiscard]] std::size_t buffered() const noexcept { return buffer_.size(); }
    [[nodiscard]] std::size_t capacity() const noexcept { return buffer_.capacity(); }
    [[nodiscard]] bool in_series() const noexcept { return expected_ != 0 && !discarding_; }

    void reset() noexcept {
        drop();
        discarding_ = false;
    }

private:
    outcome append(std::uint32_t keyword, std::span<const std::byte> payload) {
        const bool last = keyword == 1;
        if (payload.empty() || payload.size() > fragment_ || (!last && payload.size() != fragment_)) {
            drop();
            discarding_ = !last && keyword > 1;
            expected_ = keyword - 1;
            return failure(errc::bad_fragment);
        }
        if (buffer_.size() + payload.size() > max_) {
            drop();
            discarding_ = !last;
            expected_ = keyword - 1;
            return failure(errc::message_too_large);
        }
        buffer_.insert(buffer_.end(), payload.begin(), payload.end());
        expected_ = keyword - 1;
        if (!last) return {};
        return whole_buffer();
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
        auto n = core::extended_word_codec::validate(buffer_);
        if (!n) {
            drop();
            return failure(errc::malformed_message);
        }
        outcome o;
        o.what = outcome::kind::message;
        o.message = std::span<const std::byte>(buffer_).first(*n);
        expected_ = 0;
        return o;
    }

    void drop() noexcept {
        buffer_.clear();
        expected_ = 0;
    }

    static outcome failure(errc e) {
        outcome o;
        o.what = outcome::kind::error;
        o.error = make_error_code(e);
        return o;
    }

    std::size_t max_;
    std::size_t fragment_;
    std::vector<std::byte> buffer_;
    std::uint32_t expected_ = 0;  ///< keyword of the next fragment; 0 = no series
    bool discarding_ = false;
    outcome second_;
};

}  // namespace neutrino::extended::detail
