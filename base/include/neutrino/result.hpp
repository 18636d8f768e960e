#pragma once
/// \file
/// `neutrino::result<T>`: the return type of every fallible sans-IO call.

#include <system_error>

#include <tl/expected.hpp>

namespace neutrino {

/// A value or the `std::error_code` that explains why there is none.
template <class T>
using result = tl::expected<T, std::error_code>;

/// Builds the error alternative of a `result` from anything convertible to `std::error_code`
/// (typically a module's `errc` enumerator).
template <class E>
[[nodiscard]] inline tl::unexpected<std::error_code> fail(E e) noexcept {
    return tl::unexpected<std::error_code>(make_error_code(e));
}

}  // namespace neutrino
