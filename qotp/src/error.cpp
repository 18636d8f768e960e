#include "neutrino/qotp/error.hpp"

namespace neutrino::qotp {
namespace {

condition condition_of(errc e) noexcept {
    switch (e) {
        case errc::datagram_too_short:
        case errc::bad_version:
        case errc::bad_message_type:
        case errc::unexpected_message:
        case errc::bad_filler:
        case errc::payload_too_short:
        case errc::payload_truncated:
        case errc::trailing_bytes:
        case errc::bad_key_log_line: return condition::malformed;
        case errc::decryption_failed:
        case errc::low_order_key: return condition::unauthenticated;
        case errc::payload_too_large:
        case errc::offset_too_large: return condition::too_large;
        case errc::buffer_too_small:
        case errc::bad_key:
        case errc::bad_stream_id:
        case errc::missing_stream_header:
        case errc::sequence_exhausted:
        case errc::connection_closed: return condition::misuse;
        case errc::replayed: return condition::replayed;
        case errc::handshake_timeout:
        case errc::retransmission_timeout:
        case errc::key_update_timeout:
        case errc::idle_timeout: return condition::timed_out;
        case errc::rotation_not_completed:
        case errc::connection_exists: return condition::protocol_violation;
        case errc::unknown_connection: return condition::malformed;
        case errc::connection_limit: return condition::too_large;
    }
    return condition::malformed;
}

class qotp_category final : public std::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "neutrino.qotp"; }
    [[nodiscard]] std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::datagram_too_short: return "datagram too short for its message type";
            case errc::bad_version: return "type byte version is not 0";
            case errc::bad_message_type: return "unknown message type";
            case errc::unexpected_message: return "not the expected message type";
            case errc::bad_filler: return "InitCryptoSnd filler longer than its plaintext";
            case errc::payload_too_short: return "transport payload shorter than 4 bytes";
            case errc::payload_truncated: return "transport payload block truncated";
            case errc::trailing_bytes: return "trailing bytes after a payload without stream data";
            case errc::bad_key_log_line: return "malformed key log line";
            case errc::decryption_failed: return "decryption failed";
            case errc::low_order_key: return "key exchange failed (low-order public key)";
            case errc::payload_too_large: return "payload too large for the message";
            case errc::offset_too_large: return "offset above 2^48 - 1";
            case errc::buffer_too_small: return "output buffer too small";
            case errc::bad_key: return "malformed key (expected 64 hex characters, optional 0x)";
            case errc::bad_stream_id: return "stream id above 2^31 - 1";
            case errc::missing_stream_header: return "payload needs a stream header";
            case errc::sequence_exhausted: return "48-bit sequence number space exhausted";
            case errc::replayed: return "packet already received";
            case errc::handshake_timeout: return "handshake: max retry";
            case errc::retransmission_timeout: return "max retry";
            case errc::key_update_timeout: return "key update not answered";
            case errc::rotation_not_completed: return "key rotation not completed";
            case errc::idle_timeout: return "connection idle";
            case errc::unknown_connection: return "unknown connection id";
            case errc::connection_exists:
                return "init message for a live connection with other keys";
            case errc::connection_limit: return "connection limit reached";
            case errc::connection_closed: return "connection closed";
        }
        return "unknown neutrino.qotp error";
    }
    [[nodiscard]] std::error_condition default_error_condition(int ev) const noexcept override {
        return make_error_condition(condition_of(static_cast<errc>(ev)));
    }
};

}  // namespace

const std::error_category& error_category() noexcept {
    static const qotp_category c;
    return c;
}

}  // namespace neutrino::qotp
