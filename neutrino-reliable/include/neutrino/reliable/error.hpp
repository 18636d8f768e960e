#pragma once
/// \file
/// Errors of neutrino-reliable: why a reliable session ended when the core had no word for it.
/// Each belongs to one of core's conditions, so `e == core::condition::timed_out` still holds.

#include <string>
#include <system_error>
#include <type_traits>

#include "neutrino/core/error.hpp"

namespace neutrino::reliable {

enum class errc {
    /// A lost packet could not be recovered in time (the retransmission budget ran out, or the
    /// server shut down with DATA still unacknowledged).  spec: neutrino.md §18.3
    unrecoverable_loss = 1,
};

namespace detail {
class category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "neutrino.reliable"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::unrecoverable_loss: return "a lost packet could not be recovered";
        }
        return "unknown neutrino.reliable error";
    }
    std::error_condition default_error_condition(int ev) const noexcept override {
        switch (static_cast<errc>(ev)) {
            case errc::unrecoverable_loss: return core::condition::timed_out;
        }
        return {ev, *this};
    }
};
}  // namespace detail

[[nodiscard]] inline const std::error_category& error_category() noexcept {
    static const detail::category_impl c;
    return c;
}
[[nodiscard]] inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

}  // namespace neutrino::reliable

template <>
struct std::is_error_code_enum<neutrino::reliable::errc> : std::true_type {};
