#pragma once
/// \file
/// Error codes of neutrino-p2p's codecs (STUN, envelope, relay header, PROBE) and the shared
/// conditions they belong to (neutrino/condition.hpp).

#include <system_error>
#include <type_traits>

#include "neutrino/condition.hpp"
#include "neutrino/result.hpp"

namespace neutrino::p2p {

/// Every way a p2p codec rejects input or refuses a call. Nothing here throws.
enum class errc {
    // malformed input (drop, count)
    stun_too_short = 1,         ///< fewer than the 20 bytes of a STUN header (RFC 5389 §6)
    not_stun,                   ///< top two bits not zero or magic cookie wrong (RFC 5389 §6)
    stun_bad_length,            ///< length not a multiple of 4 or not the datagram's size less 20
    stun_attribute_truncated,   ///< an attribute's value (with padding) runs past the message
    stun_bad_attribute,         ///< a known attribute with a value of the wrong size or content
    stun_fingerprint_not_last,  ///< an attribute follows FINGERPRINT (RFC 5389 §15.5)
    envelope_empty,             ///< a zero-length datagram (§7.1)
    relay_truncated,            ///< relayed data shorter than its 9-byte header (§7.3)
    bad_envelope_type,          ///< the first byte is not the envelope type the decoder expects
    probe_bad_size,             ///< a PROBE that is not exactly 57 bytes (§7.4)
    // unauthenticated input
    stun_bad_fingerprint,     ///< FINGERPRINT does not match the CRC-32 of the message
    stun_integrity_missing,   ///< no MESSAGE-INTEGRITY to verify
    stun_integrity_mismatch,  ///< MESSAGE-INTEGRITY does not match the key
    probe_bad_mac,            ///< the PROBE's MAC does not match the key (§7.4)
    // API misuse
    buffer_too_small,      ///< the output span cannot hold the encoding
    stun_value_too_large,  ///< an attribute value above 65535 bytes (SOFTWARE: 763)
    stun_bad_address,      ///< an address to encode that is neither IPv4 nor IPv6
    stun_bad_error_code,   ///< an ERROR-CODE outside 300..699
    stun_attribute_order,  ///< an attribute after MESSAGE-INTEGRITY (other than FINGERPRINT)
                           ///< or after FINGERPRINT
    // the puncher (§7.4); appended so that the codes above keep their values
    probe_no_nonce,           ///< malformed: a PROBE with neither a nonce nor an echo nonce
    probe_wrong_attempt,      ///< unauthenticated: a PROBE of another punch attempt
    probe_wrong_sender,       ///< unauthenticated: a PROBE not from the introduced peer's node id
    probe_unknown_echo,       ///< unauthenticated: echoes no nonce among the ones we sent lately
    probe_echo_wrong_source,  ///< unauthenticated: an echo from another address than its nonce
                              ///< went to (the pair is not symmetric)
    probe_replayed,           ///< replayed: a PROBE nonce already answered within the interval
    puncher_queue_full,       ///< refused: the queue of replies to send is full
    punch_timed_out,          ///< timed out: no pair validated by the punch deadline
    // rendezvous control messages (rendezvous_message.hpp, §7.3); appended likewise
    rendezvous_truncated,            ///< malformed: empty, or a TLV header or value past the end
    rendezvous_unknown_type,         ///< malformed: a message type byte this version does not know
    rendezvous_bad_field,            ///< malformed: a known TLV of the wrong length or content
    rendezvous_duplicate_field,      ///< malformed: a non-repeatable TLV twice
    rendezvous_missing_field,        ///< malformed: a TLV the message type requires is absent
    rendezvous_too_many_candidates,  ///< too large: more than 8 candidates (or, to encode, 8)
    rendezvous_field_too_large,      ///< too large: a realm or token above 64 bytes
    rendezvous_bad_address,          ///< misuse: an address to encode that is not IPv4/IPv6
    // the rendezvous server (rendezvous_server.hpp, §7.3)
    rendezvous_node_id_mismatch,    ///< unauthenticated: REGISTER names another key's node id
    rendezvous_not_allowed,         ///< refused: not on the allow-list, or no valid token
    rendezvous_not_registered,      ///< refused: a request from a node without a registration
    rendezvous_not_found,           ///< unauthenticated: the target is not registered (in realm)
    rendezvous_over_quota,          ///< refused: a table or per-node limit is full
    rendezvous_unexpected_message,  ///< protocol violation: a server-to-client message sent to
                                    ///< the server (client: a client-to-server message, or a
                                    ///< reply to nothing it sent)
    rendezvous_queue_full,          ///< refused: the outgoing control queue has no room
    rendezvous_reply_too_large,     ///< refused: the reply would be larger than its request
    relay_unknown,                  ///< unauthenticated: no live relay has this relay id
    relay_wrong_source,             ///< unauthenticated: not from either endpoint of the relay
    relay_rate_limited,             ///< refused: the relay's token bucket is empty
    // the rendezvous client (rendezvous_client.hpp, §7.3, §7.5, §7.6); appended likewise
    rendezvous_peer_key_mismatch,  ///< unauthenticated: an INTRODUCE whose public key does not
                                   ///< hash to its node id (the server cannot forge a peer)
    rendezvous_role_mismatch,      ///< protocol violation: an INTRODUCE whose role contradicts
                                   ///< the node-id order (§7.4.4)
    rendezvous_too_many_attempts,  ///< refused: every pending CONNECT slot is in use
    rendezvous_weak_peer_key,      ///< unauthenticated: X25519 with the peer's key is all zero
    rendezvous_client_closed,      ///< misuse: a call after `close`, or before `start`
    rendezvous_lost,               ///< timed out: no REGISTERED or KEEPALIVE_ACK in time
    // the path manager (path_manager.hpp, §7.5, §7.6); appended likewise
    path_unknown_source,     ///< unauthenticated: peer data from neither the peer's direct
                             ///< address (or one being validated) nor the relay's server
    path_payload_too_large,  ///< too large: a payload above the path manager's maximum
    path_queue_full,         ///< refused: a send, receive or PROBE queue of the path manager
                             ///< is full
};

/// Coarse groups of `errc`: the conditions every module shares.
using neutrino::condition;

[[nodiscard]] const std::error_category& error_category() noexcept;

[[nodiscard]] inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

/// `result<T>` and `fail(errc)` are the shared ones (neutrino/result.hpp).
using neutrino::fail;
using neutrino::result;

}  // namespace neutrino::p2p

template <>
struct std::is_error_code_enum<neutrino::p2p::errc> : std::true_type {};
