#pragma once
// `scripted_random`: a random_source that hands out a fixed script of values, in order, so a
// machine can be made to draw exactly what a recorded peer drew (known-answer replays).
//
// | script step | answers |
// |---|---|
// | `expect_fill(bytes, what)` | the next `fill(out)`; `out.size()` must equal `bytes.size()` |
// | `expect_uniform(value, what)` | the next `uniform(lo, hi)`; `value` must lie in `[lo, hi]` |
//
// Any deviation (a call after the script ran out, a call of the other kind, a size or range
// mismatch) is reported with ADD_FAILURE naming the step, and the step is consumed so one
// deviation does not cascade. Missing bytes are zero. `remaining()` tells whether the machine
// drew everything it was expected to.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "neutrino/random.hpp"

namespace neutrino::test {

class scripted_random {
public:
    /// The next call must be `fill` with exactly `bytes.size()` bytes; it receives `bytes`.
    void expect_fill(std::vector<std::byte> bytes, std::string what) {
        script_.push_back({kind::fill, std::move(bytes), 0, std::move(what)});
    }
    /// The next call must be `uniform(lo, hi)` with `lo <= value <= hi`; it returns `value`.
    void expect_uniform(std::uint64_t value, std::string what) {
        script_.push_back({kind::uniform, {}, value, std::move(what)});
    }

    void fill(std::span<std::byte> out) {
        std::fill(out.begin(), out.end(), std::byte{0});
        ++calls_;
        if (script_.empty()) {
            ADD_FAILURE() << "scripted_random: fill(" << out.size() << ") call #" << calls_
                          << " after the script ran out";
            return;
        }
        step s = std::move(script_.front());
        script_.pop_front();
        if (s.k != kind::fill) {
            ADD_FAILURE() << "scripted_random: call #" << calls_ << " is fill(" << out.size()
                          << ") but the script expects uniform() for '" << s.what << "'";
            return;
        }
        if (s.bytes.size() != out.size()) {
            ADD_FAILURE() << "scripted_random: call #" << calls_ << " fill(" << out.size()
                          << ") but the script has " << s.bytes.size() << " bytes for '"
                          << s.what << "'";
        }
        std::copy_n(s.bytes.begin(), std::min(s.bytes.size(), out.size()), out.begin());
    }

    std::uint64_t uniform(std::uint64_t lo, std::uint64_t hi) {
        ++calls_;
        if (script_.empty()) {
            ADD_FAILURE() << "scripted_random: uniform(" << lo << ", " << hi << ") call #"
                          << calls_ << " after the script ran out";
            return lo;
        }
        step s = std::move(script_.front());
        script_.pop_front();
        if (s.k != kind::uniform) {
            ADD_FAILURE() << "scripted_random: call #" << calls_ << " is uniform(" << lo << ", "
                          << hi << ") but the script expects fill(" << s.bytes.size()
                          << ") for '" << s.what << "'";
            return lo;
        }
        if (s.value < lo || s.value > hi) {
            ADD_FAILURE() << "scripted_random: call #" << calls_ << " uniform(" << lo << ", "
                          << hi << ") cannot yield the scripted " << s.value << " for '"
                          << s.what << "'";
        }
        return s.value;
    }

    /// Steps not drawn yet.
    [[nodiscard]] std::size_t remaining() const noexcept { return script_.size(); }
    /// What the next step is for (empty when the script is used up).
    [[nodiscard]] std::string next_step() const { return script_.empty() ? std::string{} : script_.front().what; }
    /// Calls made so far.
    [[nodiscard]] std::size_t calls() const noexcept { return calls_; }

private:
    enum class kind : std::uint8_t { fill, uniform };
    struct step {
        kind k;
        std::vector<std::byte> bytes;
        std::uint64_t value;
        std::string what;
    };
    std::deque<step> script_;
    std::size_t calls_ = 0;
};

static_assert(random_source<scripted_random>);

}  // namespace neutrino::test
