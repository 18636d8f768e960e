#pragma once
/// \file
/// The rendezvous control messages of p2p.md §7.3, carried as the plaintext of the encrypted
/// session between a node and the rendezvous server (the datagrams of that session go under
/// envelope type 0x03, envelope.hpp; the envelope byte is *not* part of a message here).
///
/// A message is a 1-byte type followed by TLV fields; every integer is little-endian:
///
/// | bytes | field |
/// |---|---|
/// | 1 | message type (`rendezvous_type`) |
/// | 1 | TLV tag (`rendezvous_tag`) |
/// | 2 | TLV value length L (u16 LE) |
/// | L | TLV value; then the next TLV, up to the end of the message |
///
/// TLVs may come in any order. Unknown tags (and 0x00, padding) are skipped, so fields can be
/// added later; a known tag with a value of the wrong size or content, or repeated, rejects
/// the message; a known tag that the message type does not use is skipped. Fields:
///
/// | tag | name | value |
/// |---|---|---|
/// | 0x00 | padding | any bytes, ignored (requests are padded, see anti-amplification) |
/// | 0x01 | node | node id, 16 bytes (REGISTER: own; CONNECT: target; else: the peer's) |
/// | 0x02 | realm | 0..64 bytes |
/// | 0x03 | token | 0..64 bytes (admission token) |
/// | 0x04 | candidates | 0..8 entries `kind u8 \| address`, back to back |
/// | 0x05 | capabilities | u8 bit set (`capability_ipv6` = 1, `capability_tcp_relay` = 2) |
/// | 0x06 | reflexive | one `address` |
/// | 0x07 | lease | u32, seconds |
/// | 0x08 | server time | u64, milliseconds on the server's monotonic clock |
/// | 0x09 | sequence | u64 |
/// | 0x0a | attempt id | u64 (8 bytes) |
/// | 0x0b | public key | 32 bytes (the peer's static X25519 key) |
/// | 0x0c | role | u8: 0 responder, 1 initiator |
/// | 0x0d | punch secret | 32 bytes |
/// | 0x0e | relay id | u64 (8 bytes) |
/// | 0x0f | start time | u64, server time in milliseconds |
/// | 0x10 | error code | u16 (`rendezvous_error`; unknown values are kept) |
///
/// An `address` is `family u8 (4 or 6) | 4 or 16 address bytes (network order) | port u16`,
/// 7 or 19 bytes. A candidate's kind is 0 host, 1 IPv6, 2 reflexive (`candidate_kind`;
/// peer-reflexive is never announced).
///
/// | type | message | required TLVs | optional TLVs |
/// |---|---|---|---|
/// | 0x01 | REGISTER (client → server) | 0x01 node | 0x02 realm, 0x03 token, 0x04, 0x05 |
/// | 0x02 | REGISTERED (server → client) | 0x06 reflexive, 0x07 lease, 0x08 server time | |
/// | 0x03 | KEEPALIVE (client → server) | 0x09 sequence | |
/// | 0x04 | KEEPALIVE_ACK (server → client) | 0x09 sequence, 0x06 reflexive | |
/// | 0x05 | CONNECT (client → server) | 0x01 node (target), 0x0a attempt id | |
/// | 0x06 | INTRODUCE (server → both) | 0x01, 0x0b, 0x0a, 0x0c, 0x0d, 0x0e, 0x0f | 0x04 |
/// | 0x07 | PEER_UPDATE (server → client) | 0x01 node (the peer) | 0x04 candidates |
/// | 0x08 | ERROR (server → client) | 0x10 error code | 0x0a attempt id |
/// | 0x09 | BYE (client → server) | | |
///
/// Anti-amplification (§7.2): the encoders pad REGISTER, KEEPALIVE and CONNECT with a padding
/// TLV to at least `min_request_size`, which is at least the largest reply the server sends
/// to them (REGISTERED, KEEPALIVE_ACK or ERROR; see `rendezvous_server.hpp`).
///
/// The encoders write a message's required TLVs last, so no truncation of an encoded message
/// decodes: it is cut inside a TLV (`rendezvous_truncated`) or lacks a required one
/// (`rendezvous_missing_field`). Inside the server session the AEAD protects the length anyway.
///
/// Encoders write into the caller's span and decoders return views into the input; nothing
/// allocates or throws. Decoded realm and token spans live as long as the input buffer.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <variant>

#include "neutrino/address.hpp"
#include "neutrino/p2p/candidate.hpp"
#include "neutrino/p2p/error.hpp"
#include "neutrino/p2p/probe.hpp"

namespace neutrino::p2p {

/// The message type byte.  spec: p2p.md §7.3
enum class rendezvous_type : std::uint8_t {
    register_ = 0x01,  // NOLINT(readability-identifier-naming): `register` is a keyword
    registered = 0x02,
    keepalive = 0x03,
    keepalive_ack = 0x04,
    connect = 0x05,
    introduce = 0x06,
    peer_update = 0x07,
    error = 0x08,
    bye = 0x09,
};

/// The TLV tags (table above).
enum class rendezvous_tag : std::uint8_t {
    padding = 0x00,
    node = 0x01,  ///< a node id
    realm = 0x02,
    token = 0x03,
    candidates = 0x04,
    capabilities = 0x05,
    reflexive = 0x06,
    lease = 0x07,
    server_time = 0x08,
    sequence = 0x09,
    attempt_id = 0x0a,
    public_key = 0x0b,
    role = 0x0c,
    punch_secret = 0x0d,
    relay_id = 0x0e,
    start_time = 0x0f,
    error_code = 0x10,
};

/// The code of an ERROR message. Unknown codes decode as their number.
enum class rendezvous_error : std::uint16_t {
    not_found = 1,       ///< CONNECT: the target is not registered (in the sender's realm)
    not_allowed = 2,     ///< REGISTER refused: allow-list, token or node id mismatch
    over_quota = 3,      ///< a table, per-node limit or candidate limit is full
    not_registered = 4,  ///< KEEPALIVE or CONNECT from a node without a registration
};

inline constexpr std::size_t rendezvous_tlv_header_size = 3;  ///< tag u8, length u16
inline constexpr std::size_t max_rendezvous_candidates = 8;   ///< per message
inline constexpr std::size_t max_rendezvous_bytes_size = 64;  ///< realm, token
inline constexpr std::size_t public_key_size = 32;            ///< X25519
inline constexpr std::size_t punch_secret_size = 32;
/// Every REGISTER, KEEPALIVE and CONNECT the encoders write is at least this large: not less
/// than any reply to it (KEEPALIVE_ACK with an IPv6 address is 34 bytes, REGISTERED 41).
inline constexpr std::size_t min_request_size = 48;
/// The largest message the encoders write (REGISTER with a 64-byte realm and token and 8 IPv6
/// candidates is 321 bytes): an output buffer of this size always suffices.
inline constexpr std::size_t max_rendezvous_message_size = 512;

inline constexpr std::uint8_t capability_ipv6 = 1;
inline constexpr std::uint8_t capability_tcp_relay = 2;

using public_key_bytes = std::array<std::byte, public_key_size>;
using punch_secret_bytes = std::array<std::byte, punch_secret_size>;

/// At most 8 candidates, stored in place (no allocation).
class candidate_list {
public:
    candidate_list() = default;
    /// Appends; returns false (and appends nothing) when 8 are held.
    bool push_back(const candidate& c) noexcept {
        if (size_ == items_.size()) return false;
        items_[size_++] = c;
        return true;
    }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] std::span<const candidate> view() const noexcept {
        return {items_.data(), size_};
    }
    [[nodiscard]] const candidate* begin() const noexcept { return items_.data(); }
    [[nodiscard]] const candidate* end() const noexcept { return items_.data() + size_; }
    const candidate& operator[](std::size_t i) const noexcept { return items_[i]; }
    void clear() noexcept { size_ = 0; }

    friend bool operator==(const candidate_list& a, const candidate_list& b) noexcept {
        if (a.size_ != b.size_) return false;
        for (std::size_t i = 0; i < a.size_; ++i) {
            if (!(a.items_[i] == b.items_[i])) return false;
        }
        return true;
    }

private:
    std::array<candidate, max_rendezvous_candidates> items_{};
    std::size_t size_ = 0;
};

/// REGISTER: `id` must be the node id of the session's static key (the server checks).
struct register_message {
    node_id id{};
    std::span<const std::byte> realm;  ///< 0..64 bytes; empty = the default realm
    std::span<const std::byte> token;  ///< 0..64 bytes; empty = none
    candidate_list candidates;         ///< host (and IPv6) candidates: local addresses + port
    std::uint8_t capabilities = 0;
};
/// REGISTERED: the reflexive address the server saw, the lease and the server's clock.
struct registered_message {
    peer_address reflexive;
    std::uint32_t lease_seconds = 0;
    std::uint64_t server_time_ms = 0;
};
struct keepalive_message {
    std::uint64_t sequence = 0;
};
/// KEEPALIVE_ACK: echoes the sequence and the reflexive address currently observed (§7.6).
struct keepalive_ack_message {
    std::uint64_t sequence = 0;
    peer_address reflexive;
};
/// CONNECT: ask the server to introduce us to `target`.
struct connect_message {
    node_id target{};
    std::uint64_t attempt_id = 0;
};
/// INTRODUCE: sent to both peers; everything one puncher needs (puncher.hpp).
struct introduce_message {
    node_id peer{};
    public_key_bytes peer_key{};
    candidate_list candidates;  ///< the peer's host candidates and reflexive address
    std::uint64_t attempt_id = 0;
    bool initiator = false;  ///< true for the receiver with the smaller node id (§7.4.4)
    punch_secret_bytes punch_secret{};
    std::uint64_t relay_id = 0;
    std::uint64_t start_time_ms = 0;  ///< server time
};
/// PEER_UPDATE: a peer introduced to us has new candidates (§7.6).
struct peer_update_message {
    node_id peer{};
    candidate_list candidates;
};
struct error_message {
    rendezvous_error code = rendezvous_error::not_found;
    std::uint64_t attempt_id = 0;  ///< the CONNECT's attempt id, 0 when none
};
struct bye_message {};

/// A decoded message; views point into the decoded buffer.
using rendezvous_message = std::variant<register_message, registered_message, keepalive_message,
                                        keepalive_ack_message, connect_message, introduce_message,
                                        peer_update_message, error_message, bye_message>;

/// The type byte of a message.
[[nodiscard]] rendezvous_type type_of(const rendezvous_message& m) noexcept;

/// Writes `m` into `out`; returns the size written (REGISTER, KEEPALIVE and CONNECT padded to
/// `min_request_size`). Errors: `buffer_too_small` (nothing useful is left in `out`),
/// `rendezvous_field_too_large` (realm or token above 64 bytes), `rendezvous_bad_address` (a
/// candidate or reflexive address that is not IPv4/IPv6, or a `peer_reflexive` candidate).
[[nodiscard]] result<std::size_t> encode_rendezvous(const rendezvous_message& m,
                                                    std::span<std::byte> out) noexcept;

/// Reads one message (the whole of `in`). Errors: `rendezvous_truncated` (empty, or a TLV
/// header or value past the end), `rendezvous_unknown_type`, `rendezvous_bad_field` (wrong
/// length, an address family other than 4/6, a candidate kind above 2, a role above 1),
/// `rendezvous_duplicate_field`, `rendezvous_missing_field`, `rendezvous_too_many_candidates`,
/// `rendezvous_field_too_large` (realm or token above 64 bytes).
[[nodiscard]] result<rendezvous_message> decode_rendezvous(std::span<const std::byte> in) noexcept;

}  // namespace neutrino::p2p
