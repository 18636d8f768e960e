#pragma once
/// \file
/// The replay protection of one receive direction: a 2048-packet window per number space,
/// checked before any AEAD work and updated only after a packet authenticated.
/// spec: neutrino-v3.md §10.2, §10.3
///
/// Reuses `core::replay_window<2048>` (a ring of 64-bit words with the same semantics as
/// §10.3: pass if `n > H`, or `H − n < 2048` and unseen). Both windows start at H = 0 with 0
/// marked, so the first accepted value may be any n ≥ 1 and 0 never passes.

#include <cstdint>

#include "neutrino/core/replay_window.hpp"
#include "neutrino/core/v3/constants.hpp"

namespace neutrino::core::v3 {

class replay_guard {
public:
    using window = core::replay_window<replay_window_size>;

    replay_guard() noexcept {
        numbered_.reset(0);
        unnumbered_.reset(0);
    }

    /// §10.3 pre-check of a pn field (no state change): its space's window accepts the
    /// counter (pn, or pn − 2^63). The values 0 and 2^63 never pass; callers check that the
    /// space matches the type first (§10.5 step 4).
    [[nodiscard]] bool precheck(std::uint64_t pn_field) const noexcept {
        const std::uint64_t c = counter_of(pn_field);
        if (c == 0) return false;
        return of(pn_field).check(c);
    }
    /// §10.3 update, only after the AEAD opened; precondition `precheck(pn_field)`.
    void commit(std::uint64_t pn_field) noexcept {
        const std::uint64_t c = counter_of(pn_field);
        (pn_field >= unnumbered_base ? unnumbered_ : numbered_).commit(c);
    }
    /// H of a space: the highest counter accepted (0 initially).
    [[nodiscard]] std::uint64_t highest(pn_space s) const noexcept {
        return (s == pn_space::numbered ? numbered_ : unnumbered_).highest();
    }

private:
    [[nodiscard]] const window& of(std::uint64_t pn_field) const noexcept {
        return pn_field >= unnumbered_base ? unnumbered_ : numbered_;
    }
    window numbered_;
    window unnumbered_;
};

}  // namespace neutrino::core::v3
