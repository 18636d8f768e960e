#pragma once
/// \file
/// STUN codec (RFC 5389): the 20-byte header, Binding request / success / error response
/// types, attributes as padded TLVs, XOR-MAPPED-ADDRESS (encode, decode), MAPPED-ADDRESS
/// (decode), SOFTWARE, USERNAME, ERROR-CODE, MESSAGE-INTEGRITY (HMAC-SHA1, §15.4) and
/// FINGERPRINT (§15.5). Decoding allocates nothing: the result holds views into the input.
/// spec: p2p.md §7.1, §7.3

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "neutrino/address.hpp"
#include "neutrino/p2p/error.hpp"

namespace neutrino::p2p {

/// RFC 5389 §6: the fixed value of bytes 4..7 of every STUN message.
inline constexpr std::uint32_t stun_magic_cookie = 0x2112A442u;
/// Size of the STUN header (type, length, cookie, transaction id).
inline constexpr std::size_t stun_header_size = 20;
/// Size of the transaction id.
inline constexpr std::size_t stun_transaction_id_size = 12;
/// FINGERPRINT's CRC-32 is xored with this ("STUN").
inline constexpr std::uint32_t stun_fingerprint_xor = 0x5354554Eu;
/// Longest SOFTWARE value RFC 5389 §15.10 allows.
inline constexpr std::size_t stun_max_software_size = 763;

using stun_transaction_id = std::array<std::byte, stun_transaction_id_size>;

/// The two class bits of a message type (RFC 5389 §6).
enum class stun_class : std::uint8_t {
    request = 0,
    indication = 1,
    success_response = 2,
    error_response = 3,
};

/// The Binding method, the only one RFC 5389 defines.
inline constexpr std::uint16_t stun_method_binding = 0x001;

/// Attribute types used here (RFC 5389 §18.2). Types below 0x8000 are comprehension-required.
namespace stun_attribute {
inline constexpr std::uint16_t mapped_address = 0x0001;
inline constexpr std::uint16_t username = 0x0006;
inline constexpr std::uint16_t message_integrity = 0x0008;
inline constexpr std::uint16_t error_code = 0x0009;
inline constexpr std::uint16_t xor_mapped_address = 0x0020;
inline constexpr std::uint16_t software = 0x8022;
inline constexpr std::uint16_t fingerprint = 0x8028;
}  // namespace stun_attribute

/// The message type of `method` in class `c` (bits M11..M7 C1 M6..M4 C0 M3..M0).
[[nodiscard]] constexpr std::uint16_t stun_message_type(std::uint16_t method,
                                                        stun_class c) noexcept {
    const auto cls = static_cast<std::uint16_t>(c);
    return static_cast<std::uint16_t>((method & 0x000Fu) | ((method & 0x0070u) << 1) |
                                      ((method & 0x0F80u) << 2) | ((cls & 1u) << 4) |
                                      ((cls & 2u) << 7));
}
/// The method bits of a message type.
[[nodiscard]] constexpr std::uint16_t stun_method_of(std::uint16_t type) noexcept {
    return static_cast<std::uint16_t>((type & 0x000Fu) | ((type >> 1) & 0x0070u) |
                                      ((type >> 2) & 0x0F80u));
}
/// The class bits of a message type.
[[nodiscard]] constexpr stun_class stun_class_of(std::uint16_t type) noexcept {
    return static_cast<stun_class>(((type >> 4) & 1u) | ((type >> 7) & 2u));
}

/// ERROR-CODE (RFC 5389 §15.6): `code` in 300..699, reason phrase as UTF-8 bytes.
struct stun_error_code {
    std::uint16_t code = 0;
    std::span<const std::byte> reason;
};

/// How many unknown comprehension-required attribute types a decoded message keeps.
inline constexpr std::size_t stun_max_unknown_attributes = 8;

/// A decoded STUN message. Every span points into the decoded datagram (lifetime: that of the
/// datagram's buffer). Of an attribute that appears twice, only the first counts (§15);
/// attributes after MESSAGE-INTEGRITY other than FINGERPRINT are ignored (§15.4).
struct stun_message {
    std::span<const std::byte> bytes;  ///< the whole message
    std::uint16_t type = 0;            ///< message type (method and class)
    stun_transaction_id transaction_id{};
    std::optional<peer_address> xor_mapped_address;  ///< already un-xored
    std::optional<peer_address> mapped_address;
    std::optional<std::span<const std::byte>> software;  ///< bytes as sent (UTF-8, unchecked)
    std::optional<std::span<const std::byte>> username;
    std::optional<stun_error_code> error_code;
    /// Offset of the MESSAGE-INTEGRITY attribute's header in `bytes`, when there is one (check
    /// it with `verify_stun_integrity`).
    std::optional<std::size_t> integrity_offset;
    /// True when a FINGERPRINT was present; decoding has then checked it.
    bool has_fingerprint = false;
    /// The first comprehension-required attribute types (below 0x8000) this codec does not
    /// interpret, in order (for a 420 reply's UNKNOWN-ATTRIBUTES); `unknown_required_count`
    /// counts all of them, also those beyond `stun_max_unknown_attributes`.
    std::array<std::uint16_t, stun_max_unknown_attributes> unknown_required{};
    std::size_t unknown_required_count = 0;

    [[nodiscard]] std::uint16_t method() const noexcept { return stun_method_of(type); }
    [[nodiscard]] stun_class cls() const noexcept { return stun_class_of(type); }
};

/// True when `in` has the shape of a STUN message (§7.1 tells STUN apart from the 1-byte
/// envelope with this): at least 20 bytes, the two top bits zero, the magic cookie, a length
/// that is a multiple of 4 and equals `in.size() - 20`. Checks no attribute.
[[nodiscard]] bool looks_like_stun(std::span<const std::byte> in) noexcept;

/// Decodes one STUN message that fills `in` exactly, checking FINGERPRINT when present.
/// Errors: `stun_too_short`, `not_stun`, `stun_bad_length`, `stun_attribute_truncated`,
/// `stun_bad_attribute` (a known attribute of the wrong size, an address family other than
/// 1 or 2, an ERROR-CODE outside 300..699), `stun_fingerprint_not_last`, `stun_bad_fingerprint`.
[[nodiscard]] result<stun_message> decode_stun(std::span<const std::byte> in) noexcept;

/// Checks the MESSAGE-INTEGRITY of a decoded message with `key` (the password for short-term
/// credentials; MD5(username ":" realm ":" password) for long-term ones, computed by the
/// caller; no SASLprep is applied). Constant-time comparison.
/// Errors: `stun_integrity_missing`, `stun_integrity_mismatch`.
[[nodiscard]] result<void> verify_stun_integrity(const stun_message& m,
                                                 std::span<const std::byte> key) noexcept;

/// The value of the first attribute of type `type` before MESSAGE-INTEGRITY (or FINGERPRINT
/// itself), or nothing. For attributes `stun_message` does not interpret (PRIORITY, ...).
[[nodiscard]] std::optional<std::span<const std::byte>> find_stun_attribute(
    const stun_message& m, std::uint16_t type) noexcept;

/// Writes a STUN message into a caller's buffer: construct with the type and transaction id,
/// add attributes in wire order, then `finish()`. The first error sticks: later calls do
/// nothing and `finish()` returns it. Padding bytes are `padding_byte` (zero unless set; RFC
/// 5769's samples pad with spaces). Lifetime: `out` must outlive the encoder.
class stun_encoder {
public:
    /// Writes the header. Errors (at `finish`): `buffer_too_small`, `stun_bad_attribute` (a
    /// `type` with either of its two top bits set).
    stun_encoder(std::span<std::byte> out, std::uint16_t type,
                 const stun_transaction_id& id) noexcept;

    /// Sets the value of padding bytes for the attributes added after this call.
    stun_encoder& padding_byte(std::byte b) noexcept {
        padding_ = b;
        return *this;
    }
    /// Any attribute, value as given. Errors: `buffer_too_small`, `stun_value_too_large`,
    /// `stun_attribute_order`.
    stun_encoder& add(std::uint16_t type, std::span<const std::byte> value) noexcept;
    /// XOR-MAPPED-ADDRESS of an IPv4 or IPv6 address. Errors: as `add`, `stun_bad_address`.
    stun_encoder& add_xor_mapped_address(const peer_address& a) noexcept;
    /// SOFTWARE (at most 763 bytes). Errors: as `add`.
    stun_encoder& add_software(std::span<const std::byte> text) noexcept;
    /// ERROR-CODE. Errors: as `add`, `stun_bad_error_code` (outside 300..699).
    stun_encoder& add_error_code(std::uint16_t code, std::span<const std::byte> reason) noexcept;
    /// MESSAGE-INTEGRITY over everything written so far, keyed with `key` (see
    /// `verify_stun_integrity`). Errors: as `add`.
    stun_encoder& add_message_integrity(std::span<const std::byte> key) noexcept;
    /// FINGERPRINT over everything written so far; must be the last attribute. Errors: as `add`.
    stun_encoder& add_fingerprint() noexcept;

    /// The size of the message written, or the first error.
    [[nodiscard]] result<std::size_t> finish() const noexcept;

private:
    bool begin(std::uint16_t type, std::size_t value_size) noexcept;
    void set_error(errc e) noexcept;

    std::span<std::byte> out_;
    std::size_t size_ = 0;
    std::byte padding_{0};
    bool after_integrity_ = false;
    bool after_fingerprint_ = false;
    std::optional<errc> error_;
};

}  // namespace neutrino::p2p
