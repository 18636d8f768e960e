#include "neutrino/p2p/error.hpp"

#include <string>

namespace neutrino::p2p {
namespace {

condition condition_of(errc e) noexcept {
    switch (e) {
        case errc::stun_too_short:
        case errc::not_stun:
        case errc::stun_bad_length:
        case errc::stun_attribute_truncated:
        case errc::stun_bad_attribute:
        case errc::stun_fingerprint_not_last:
        case errc::envelope_empty:
        case errc::relay_truncated:
        case errc::bad_envelope_type:
        case errc::probe_bad_size:
        case errc::probe_no_nonce:
        case errc::rendezvous_truncated:
        case errc::rendezvous_unknown_type:
        case errc::rendezvous_bad_field:
        case errc::rendezvous_duplicate_field:
        case errc::rendezvous_missing_field: return condition::malformed;
        case errc::rendezvous_too_many_candidates:
        case errc::rendezvous_field_too_large: return condition::too_large;
        case errc::rendezvous_bad_address: return condition::misuse;
        case errc::rendezvous_node_id_mismatch:
        case errc::rendezvous_not_found:
        case errc::relay_unknown:
        case errc::relay_wrong_source: return condition::unauthenticated;
        case errc::rendezvous_not_allowed:
        case errc::rendezvous_not_registered:
        case errc::rendezvous_over_quota:
        case errc::rendezvous_queue_full:
        case errc::rendezvous_reply_too_large:
        case errc::relay_rate_limited: return condition::refused;
        case errc::path_unknown_source: return condition::unauthenticated;
        case errc::path_payload_too_large: return condition::too_large;
        case errc::path_queue_full: return condition::refused;
        case errc::rendezvous_unexpected_message: return condition::protocol_violation;
        case errc::rendezvous_peer_key_mismatch:
        case errc::rendezvous_weak_peer_key: return condition::unauthenticated;
        case errc::rendezvous_role_mismatch: return condition::protocol_violation;
        case errc::rendezvous_too_many_attempts: return condition::refused;
        case errc::rendezvous_client_closed: return condition::misuse;
        case errc::rendezvous_lost: return condition::timed_out;
        case errc::stun_bad_fingerprint:
        case errc::stun_integrity_missing:
        case errc::stun_integrity_mismatch:
        case errc::probe_bad_mac:
        case errc::probe_wrong_attempt:
        case errc::probe_wrong_sender:
        case errc::probe_unknown_echo:
        case errc::probe_echo_wrong_source: return condition::unauthenticated;
        case errc::probe_replayed: return condition::replayed;
        case errc::puncher_queue_full: return condition::refused;
        case errc::punch_timed_out: return condition::timed_out;
        case errc::stun_value_too_large: return condition::too_large;
        case errc::buffer_too_small:
        case errc::stun_bad_address:
        case errc::stun_bad_error_code:
        case errc::stun_attribute_order: return condition::misuse;
    }
    return condition::malformed;
}

class p2p_category final : public std::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "neutrino.p2p"; }
    [[nodiscard]] std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::stun_too_short: return "shorter than a STUN header";
            case errc::not_stun: return "not a STUN message (leading bits or magic cookie)";
            case errc::stun_bad_length: return "STUN length field does not match the datagram";
            case errc::stun_attribute_truncated: return "STUN attribute runs past the message";
            case errc::stun_bad_attribute: return "malformed STUN attribute value";
            case errc::stun_fingerprint_not_last: return "STUN attribute after FINGERPRINT";
            case errc::envelope_empty: return "empty datagram";
            case errc::relay_truncated: return "relayed data shorter than its header";
            case errc::bad_envelope_type: return "unexpected envelope type";
            case errc::probe_bad_size: return "PROBE is not 57 bytes";
            case errc::stun_bad_fingerprint: return "STUN FINGERPRINT mismatch";
            case errc::stun_integrity_missing: return "no STUN MESSAGE-INTEGRITY";
            case errc::stun_integrity_mismatch: return "STUN MESSAGE-INTEGRITY mismatch";
            case errc::probe_bad_mac: return "PROBE MAC mismatch";
            case errc::buffer_too_small: return "output buffer too small";
            case errc::stun_value_too_large: return "STUN attribute value too large";
            case errc::stun_bad_address: return "address is neither IPv4 nor IPv6";
            case errc::stun_bad_error_code: return "STUN error code outside 300..699";
            case errc::stun_attribute_order:
                return "STUN attribute after MESSAGE-INTEGRITY or FINGERPRINT";
            case errc::probe_no_nonce: return "PROBE with neither nonce nor echo nonce";
            case errc::probe_wrong_attempt: return "PROBE of another punch attempt";
            case errc::probe_wrong_sender: return "PROBE from another node id than the peer's";
            case errc::probe_unknown_echo: return "PROBE echoes no recent nonce of ours";
            case errc::probe_echo_wrong_source:
                return "PROBE echo from another address than its nonce went to";
            case errc::probe_replayed: return "PROBE nonce already answered in this interval";
            case errc::puncher_queue_full: return "puncher reply queue full";
            case errc::punch_timed_out: return "no pair validated by the punch deadline";
            case errc::rendezvous_truncated: return "rendezvous message truncated";
            case errc::rendezvous_unknown_type: return "unknown rendezvous message type";
            case errc::rendezvous_bad_field: return "rendezvous field of wrong length or content";
            case errc::rendezvous_duplicate_field: return "rendezvous field repeated";
            case errc::rendezvous_missing_field: return "required rendezvous field missing";
            case errc::rendezvous_too_many_candidates: return "more than 8 candidates";
            case errc::rendezvous_field_too_large: return "realm or token above 64 bytes";
            case errc::rendezvous_bad_address: return "candidate address is neither IPv4 nor IPv6";
            case errc::rendezvous_node_id_mismatch:
                return "REGISTER node id is not the node id of the session's key";
            case errc::rendezvous_not_allowed: return "node not admitted (allow-list or token)";
            case errc::rendezvous_not_registered: return "request from an unregistered node";
            case errc::rendezvous_not_found: return "target node not registered in this realm";
            case errc::rendezvous_over_quota: return "rendezvous table or per-node limit full";
            case errc::rendezvous_unexpected_message:
                return "rendezvous message of the wrong direction or answering nothing";
            case errc::rendezvous_queue_full: return "rendezvous outgoing queue full";
            case errc::rendezvous_reply_too_large: return "reply larger than its request";
            case errc::relay_unknown: return "unknown relay id";
            case errc::relay_wrong_source: return "relayed datagram from neither endpoint";
            case errc::relay_rate_limited: return "relay rate limit exceeded";
            case errc::rendezvous_peer_key_mismatch:
                return "INTRODUCE public key does not hash to its node id";
            case errc::rendezvous_role_mismatch:
                return "INTRODUCE role contradicts the node-id order";
            case errc::rendezvous_too_many_attempts: return "too many pending CONNECTs";
            case errc::rendezvous_weak_peer_key: return "X25519 with the peer's key is all zero";
            case errc::rendezvous_client_closed: return "rendezvous client not started or closed";
            case errc::rendezvous_lost: return "rendezvous server stopped answering";
            case errc::path_unknown_source: return "peer data from an address not the peer's";
            case errc::path_payload_too_large: return "payload above the path manager's maximum";
            case errc::path_queue_full: return "path manager queue full";
        }
        return "unknown neutrino.p2p error";
    }
    [[nodiscard]] std::error_condition default_error_condition(int ev) const noexcept override {
        return make_error_condition(condition_of(static_cast<errc>(ev)));
    }
};

}  // namespace

const std::error_category& error_category() noexcept {
    static const p2p_category c;
    return c;
}

}  // namespace neutrino::p2p
