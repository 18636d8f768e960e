#pragma once
/// \file
/// Counters every core machine keeps (always on; an increment each).

#include <array>
#include <cstddef>
#include <cstdint>
#include <system_error>

#include "neutrino/core/error.hpp"

namespace neutrino::core {

struct stats {
    std::uint64_t datagrams_received = 0;
    std::uint64_t bytes_received = 0;
    std::uint64_t datagrams_sent = 0;
    std::uint64_t bytes_sent = 0;
    std::uint64_t packets_accepted = 0;
    std::uint64_t dropped_total = 0;
    std::uint64_t events_dropped = 0;  ///< events lost because the event queue was full
    // Address validation (server).  spec: neutrino.md §18.1 items 4-5, RFC 9000 §8
    std::uint64_t amplification_blocked = 0;  ///< sends to an unvalidated address refused (3× budget)
    std::uint64_t migrations_refused = 0;     ///< candidate addresses abandoned unvalidated
    std::uint64_t path_validations = 0;       ///< migrations to a validated address

    /// Datagrams dropped for `reason`.
    [[nodiscard]] std::uint64_t dropped(errc reason) const noexcept {
        const auto i = static_cast<std::size_t>(reason);
        return i < by_reason.size() ? by_reason[i] : 0;
    }
    void count_drop(std::error_code ec) noexcept {
        ++dropped_total;
        if (ec.category() == error_category()) {
            const auto i = static_cast<std::size_t>(ec.value());
            if (i < by_reason.size()) ++by_reason[i];
        }
    }

    std::array<std::uint64_t, 48> by_reason{};
};

}  // namespace neutrino::core
