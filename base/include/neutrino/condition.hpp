#pragma once
/// \file
/// `neutrino::condition`: the coarse kinds of failure every protocol module's error codes belong
/// to, so a caller can ask "was it a timeout?" the same way of core, reliable, extended and qotp:
/// `ec == neutrino::condition::timed_out`. Each module keeps its own `errc` and category, and its
/// category maps every code to one of these (`default_error_condition`).

#include <system_error>
#include <type_traits>

namespace neutrino {

enum class condition {
    malformed = 1,       ///< input that does not parse
    unauthenticated,     ///< input that fails authentication or names nothing we know
    replayed,            ///< authentic input already received
    too_large,           ///< beyond a size or window limit
    protocol_violation,  ///< an authenticated peer broke the protocol
    timed_out,           ///< the peer stopped answering
    refused,             ///< a limit or the application said no
    misuse,              ///< the API was called in a way it does not allow
};

[[nodiscard]] const std::error_category& condition_category() noexcept;

[[nodiscard]] inline std::error_condition make_error_condition(condition c) noexcept {
    return {static_cast<int>(c), condition_category()};
}

}  // namespace neutrino

template <>
struct std::is_error_condition_enum<neutrino::condition> : std::true_type {};
