#pragma once
/// \file
/// Errors of neutrino-extended: violations of a fragment series, reported to the application
/// with the partial message dropped.  spec: neutrino.md §13.3

#include <string>
#include <system_error>
#include <type_traits>

namespace neutrino::extended {

enum class errc {
    message_too_large = 1,  ///< announced or accumulated size over the configured maximum
    broken_series,          ///< a keyword that does not continue the countdown
    bad_fragment,           ///< an empty, oversized or short non-final fragment
    malformed_message,      ///< the reassembled bytes are not a u16/u32 word list
    reassembly_budget,      ///< the endpoint holds too many bytes of partial messages
    busy,                   ///< a streamed message is being written (finish it first)
    stream_not_open,        ///< `write` without `begin_message`, or past the announced size
};

namespace detail {
class category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "neutrino.extended"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::message_too_large: return "message larger than the configured maximum";
            case errc::broken_series: return "fragment series broken (keyword out of sequence)";
            case errc::bad_fragment: return "fragment of the wrong size";
            case errc::malformed_message: return "reassembled message is not a valid word list";
            case errc::reassembly_budget: return "memory budget for partial messages exhausted";
            case errc::busy: return "a streamed message is still being written";
            case errc::stream_not_open: return "no streamed message open, or more bytes than announced";
        }
        return "unknown neutrino.extended error";
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

}  // namespace neutrino::extended

template <>
struct std::is_error_code_enum<neutrino::extended::errc> : std::true_type {};
