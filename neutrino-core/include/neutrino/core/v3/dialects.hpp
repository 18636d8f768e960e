#pragma once
/// \file
/// How the v3 machines map the dialects their layers declare onto the handshake's variant mask
/// and choice.  spec: neutrino-v3.md §9.1–§9.3

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <vector>

#include "neutrino/core/dialect.hpp"

namespace neutrino::core::v3 {

/// The highest dialect id the v3 offer's mask can carry (three bits).  spec: §9.1
inline constexpr std::uint8_t max_dialect_id = 2;

/// The mask bit of dialect `id` (≤ max_dialect_id).
[[nodiscard]] constexpr std::uint8_t dialect_bit(std::uint8_t id) noexcept {
    return static_cast<std::uint8_t>(1U << id);
}

/// True when an offer's mask, or a choice's bit, includes id 2: the wire then carries the
/// largest message size each side accepts.  spec: §9.1, §9.2
[[nodiscard]] constexpr bool carries_message_limit(std::uint8_t mask) noexcept {
    return (mask & dialect_bit(2)) != 0;
}

/// The mask of `own` and `more`.
[[nodiscard]] inline std::uint8_t dialect_mask(const dialect& own,
                                               const std::vector<dialect>& more) noexcept {
    auto m = dialect_bit(own.id);
    for (const dialect& d : more) m = static_cast<std::uint8_t>(m | dialect_bit(d.id));
    return m;
}

/// The dialect of `id` among `own` and `more` (own first); empty when none has it.
[[nodiscard]] inline std::optional<dialect> find_dialect(std::uint8_t id, const dialect& own,
                                                         const std::vector<dialect>& more) noexcept {
    if (own.id == id) return own;
    for (const dialect& d : more) {
        if (d.id == id) return d;
    }
    return std::nullopt;
}

/// Throws `std::invalid_argument` unless every id is ≤ max_dialect_id and distinct.
inline void check_dialects(const dialect& own, const std::vector<dialect>& more) {
    std::uint8_t seen = 0;
    auto add = [&seen](const dialect& d) {
        if (d.id > max_dialect_id || (seen & dialect_bit(d.id)) != 0) {
            throw std::invalid_argument("v3: dialect ids must be distinct and at most 2");
        }
        seen = static_cast<std::uint8_t>(seen | dialect_bit(d.id));
    };
    add(own);
    for (const dialect& d : more) add(d);
}

}  // namespace neutrino::core::v3
