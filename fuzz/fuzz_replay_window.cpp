// Fuzz target: replay_window<Bits> against a model (a std::set of seen numbers).
// Input: 9-byte operations: 1 byte op, 8 bytes little-endian delta/number.
// Properties: check() never changes state; it accepts exactly what the model calls new
// (above the highest, or within Bits below it and unseen); commit() after check() records.
// spec: neutrino.md §18.1 item 3

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <set>

#include "neutrino/core/replay_window.hpp"
#include "neutrino/endian.hpp"

namespace {

using neutrino::core::replay_window;

template <std::size_t Bits>
struct model {
    std::set<std::uint64_t> seen;
    std::uint64_t top = 0;
    bool started = false;
    void reset(std::uint64_t first) {
        seen.clear();
        top = first;
        started = true;
    }
    [[nodiscard]] bool check(std::uint64_t pn) const {
        if (!started) return true;
        if (pn > top) return true;
        if (top - pn >= Bits) return false;
        // everything at or before the first number counts as seen (reset fills the window)
        return !seen.contains(pn) && pn > first_floor;
    }
    void commit(std::uint64_t pn) {
        if (!started) {
            reset(pn);
            first_floor = pn;
            return;
        }
        if (pn > top) top = pn;
        seen.insert(pn);
        while (!seen.empty() && top - *seen.begin() >= Bits) seen.erase(seen.begin());
    }
    std::uint64_t first_floor = 0;
};

template <std::size_t Bits>
void run(const std::uint8_t* data, std::size_t size) {
    replay_window<Bits> w;
    model<Bits> m;
    std::uint64_t base = 0;
    for (std::size_t off = 0; off + 9 <= size; off += 9) {
        const std::uint8_t op = data[off];
        const auto raw = neutrino::load_le<std::uint64_t>(
            reinterpret_cast<const std::byte*>(data + off + 1));
        std::uint64_t pn = 0;
        switch (op % 4) {
            case 0: pn = raw; break;                               // anywhere
            case 1: pn = base + (raw % (3 * Bits)); break;         // near the top
            case 2: pn = base - (raw % (2 * Bits)); break;         // just below (may wrap)
            case 3: pn = UINT64_MAX - (raw % 4); break;            // the end of the range
        }
        if (op & 0x80) {
            w.reset(pn);
            m.reset(pn);
            m.first_floor = pn;
            base = pn;
            continue;
        }
        const bool accepted = w.check(pn);
        if (accepted != w.check(pn)) __builtin_trap();  // check() is pure
        if (accepted != m.check(pn)) __builtin_trap();
        if (accepted && (op & 0x40) == 0) {
            w.commit(pn);
            m.commit(pn);
            if (w.check(pn)) __builtin_trap();  // a committed number is never new again
            if (w.highest() != m.top) __builtin_trap();
        }
        base = w.highest();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    run<64>(data, size);
    run<1024>(data, size);
    return 0;
}
