#pragma once
// What the p2p machine fuzzers share: a reader of the input as a script (bytes past the end read
// as 0), a check that traps, and node ids filled with one byte.

#include <cstddef>
#include <cstdint>
#include <span>

#include "neutrino/p2p/probe.hpp"

#define NEUTRINO_FUZZ_CHECK(cond)      \
    do {                               \
        if (!(cond)) __builtin_trap(); \
    } while (0)

namespace neutrino::fuzz {

/// The fuzzer's input, read front to back.
class reader {
public:
    explicit reader(std::span<const std::uint8_t> in) : in_(in) {}
    [[nodiscard]] bool done() const { return pos_ >= in_.size(); }
    std::uint8_t byte() { return pos_ < in_.size() ? in_[pos_++] : 0; }
    std::uint64_t u64() {
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v = (v << 8) | byte();
        return v;
    }

private:
    std::span<const std::uint8_t> in_;
    std::size_t pos_ = 0;
};

/// A node id whose 16 bytes are all `b`.
inline p2p::node_id filled_id(std::uint8_t b) {
    p2p::node_id id{};
    id.fill(std::byte{b});
    return id;
}

}  // namespace neutrino::fuzz
