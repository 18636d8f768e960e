#pragma once
/// \file
/// Error codes of the v3 wire's cryptographic building blocks, grouped under the core's
/// `neutrino::core::condition` (malformed, unauthenticated, replayed, ...).
/// spec: neutrino-v3.md §10.5 (receive pipeline), §7.4, §7.5, §8.4
///
/// Header-only: the categories are function-local statics of inline functions, so there is
/// exactly one instance per program.

#include <string>
#include <system_error>
#include <type_traits>

#include "neutrino/core/error.hpp"

namespace neutrino::core::v3 {

/// Why a v3 building block rejected its input. Every code is a silent drop on the wire
/// (spec §1 "Drop"), except where a caller turns it into a reply (e.g. `malformed_offer` →
/// HELLO2 status 4).
enum class errc {
    // malformed (checked before any cryptography)
    bad_size = 1,        ///< not the exact/allowed datagram size for this kind (§4, §10.5 step 1)
    bad_header,          ///< protocol identifier, version, type, phase or session id wrong (§4.1)
    bad_packet_type,     ///< not a type the receiver handles here (§5)
    wrong_pn_space,      ///< pn field outside the space of the packet type, or 0 / 2^63 / 2^64−1 (§10.2)
    malformed_offer,     ///< HELLO1 offer violates §9.1 (server answers status 4)
    malformed_answer,    ///< HELLO2 answer violates §9.2
    // unauthenticated
    bad_mac1,            ///< mac1 does not match (§8.1)
    bad_mac2,            ///< mac2 matches neither the current nor the previous cookie (§8.2)
    decryption_failed,   ///< an AEAD open failed (Noise message, transport, COOKIE_REPLY)
    low_order_point,     ///< X25519 produced the all-zero value (§6)
    session_id_mismatch, ///< HELLO2 clear session id ≠ the encrypted one (§7.5)
    // replay
    replayed,            ///< pn already accepted or older than the 2048 window (§10.3)
    // local limits and misuse
    payload_too_large,   ///< plaintext does not fit in 1280 bytes (§3.2)
    pn_exhausted,        ///< a packet-number space is used up: close with CRYPTO_LIMIT (§10.2)
    buffer_too_small,    ///< an output span is smaller than the documented size
};

namespace detail {
[[nodiscard]] inline condition condition_of(errc e) noexcept {
    switch (e) {
        case errc::bad_size:
        case errc::bad_header:
        case errc::bad_packet_type:
        case errc::wrong_pn_space:
        case errc::malformed_offer:
        case errc::malformed_answer: return condition::malformed;
        case errc::bad_mac1:
        case errc::bad_mac2:
        case errc::decryption_failed:
        case errc::low_order_point:
        case errc::session_id_mismatch: return condition::unauthenticated;
        case errc::replayed: return condition::replayed;
        case errc::payload_too_large:
        case errc::pn_exhausted: return condition::too_large;
        case errc::buffer_too_small: return condition::misuse;
    }
    return condition::malformed;
}

class v3_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "neutrino.core.v3"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::bad_size: return "wrong datagram size";
            case errc::bad_header: return "bad clear header";
            case errc::bad_packet_type: return "packet type not handled here";
            case errc::wrong_pn_space: return "packet number outside its space";
            case errc::malformed_offer: return "malformed HELLO1 offer";
            case errc::malformed_answer: return "malformed HELLO2 answer";
            case errc::bad_mac1: return "mac1 mismatch";
            case errc::bad_mac2: return "mac2 mismatch (no valid cookie)";
            case errc::decryption_failed: return "decryption failed";
            case errc::low_order_point: return "X25519 result is all zero (low-order point)";
            case errc::session_id_mismatch: return "HELLO2 session id differs from the encrypted one";
            case errc::replayed: return "replayed or too old packet number";
            case errc::payload_too_large: return "payload too large";
            case errc::pn_exhausted: return "packet number space exhausted";
            case errc::buffer_too_small: return "output buffer too small";
        }
        return "unknown neutrino.core.v3 error";
    }
    std::error_condition default_error_condition(int ev) const noexcept override {
        return make_error_condition(condition_of(static_cast<errc>(ev)));
    }
};
}  // namespace detail

[[nodiscard]] inline const std::error_category& error_category() noexcept {
    static const detail::v3_category c;
    return c;
}
[[nodiscard]] inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

}  // namespace neutrino::core::v3

template <>
struct std::is_error_code_enum<neutrino::core::v3::errc> : std::true_type {};
