#include "neutrino/core/error.hpp"

namespace neutrino::core {
namespace {

condition condition_of(errc e) noexcept {
    switch (e) {
        case errc::datagram_too_short:
        case errc::bad_protocol_identifier:
        case errc::bad_version:
        case errc::bad_packet_type:
        case errc::bad_session_id:
        case errc::malformed_payload:
        case errc::bad_hello:
        case errc::bad_shape: return condition::malformed;
        case errc::datagram_too_large:
        case errc::payload_too_large:
        case errc::too_many_words:
        case errc::word_too_large: return condition::too_large;
        case errc::decryption_failed:
        case errc::unknown_session:
        case errc::wrong_peer:
        case errc::low_order_key: return condition::unauthenticated;
        case errc::replayed: return condition::replayed;
        case errc::unexpected_packet:
        case errc::protocol_violation: return condition::protocol_violation;
        case errc::outside_window: return condition::too_large;
        case errc::rate_limited:
        case errc::session_limit:
        case errc::refused: return condition::refused;
        case errc::timed_out:
        case errc::path_not_validated: return condition::timed_out;
        case errc::amplification_limited: return condition::refused;
        case errc::bad_key:
        case errc::not_connected:
        case errc::draining:
        case errc::would_block:
        case errc::closed: return condition::misuse;
    }
    return condition::malformed;
}

class core_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "neutrino.core"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::datagram_too_short: return "datagram too short";
            case errc::datagram_too_large: return "datagram larger than 1280 bytes";
            case errc::bad_protocol_identifier: return "wrong protocol identifier";
            case errc::bad_version: return "unsupported protocol version";
            case errc::bad_packet_type: return "unknown packet type";
            case errc::bad_session_id: return "invalid session id";
            case errc::malformed_payload: return "malformed word list";
            case errc::bad_hello: return "malformed CLIENT_HELLO1";
            case errc::bad_shape: return "payload shape not allowed for this packet type";
            case errc::decryption_failed: return "decryption failed";
            case errc::unknown_session: return "unknown session";
            case errc::wrong_peer: return "datagram from an unexpected address";
            case errc::low_order_key: return "key exchange failed (low-order key)";
            case errc::replayed: return "replayed or too old packet number";
            case errc::unexpected_packet: return "packet type not allowed in this state";
            case errc::rate_limited: return "handshake rate limit reached";
            case errc::session_limit: return "session limit reached";
            case errc::refused: return "session refused by the application";
            case errc::payload_too_large: return "payload larger than 1214 bytes";
            case errc::too_many_words: return "more than 255 words";
            case errc::word_too_large: return "word longer than 65535 bytes";
            case errc::bad_key: return "malformed key (expected 64 hex characters)";
            case errc::not_connected: return "no established session";
            case errc::draining: return "the server shut down";
            case errc::would_block: return "send queue full";
            case errc::timed_out: return "peer timed out";
            case errc::closed: return "session closed";
            case errc::protocol_violation: return "protocol violation";
            case errc::amplification_limited:
                return "refused: the address is not validated and its 3x budget is spent";
            case errc::path_not_validated:
                return "the peer moved to an address it did not validate, and its validated address fell silent";
            case errc::outside_window: return "packet number beyond the receive window";
        }
        return "unknown neutrino.core error";
    }
    std::error_condition default_error_condition(int ev) const noexcept override {
        return make_error_condition(condition_of(static_cast<errc>(ev)));
    }
};

}  // namespace

const std::error_category& error_category() noexcept {
    static const core_category c;
    return c;
}

}  // namespace neutrino::core
