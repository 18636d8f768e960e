#include "neutrino/monitor/describe.hpp"

#include "neutrino/core/constants.hpp"
#include "neutrino/core/v3/constants.hpp"

namespace neutrino::monitor {
namespace {

std::string_view v2_type_name(std::uint8_t t) {
    return core::to_string(static_cast<core::packet_type>(t));
}

// spec: neutrino.md §16.2 (the reference's handshake labels)
std::string_view v2_handshake_label(std::uint8_t t) {
    switch (static_cast<core::packet_type>(t)) {
        case core::packet_type::client_hello1: return "REQUEST SESSION (1/3)";
        case core::packet_type::server_hello2: return "SESSION ESTABLISHING (2/3)";
        case core::packet_type::client_hello3: return "SESSION ESTABLISHED (3/3)";
        default: return {};
    }
}

bool v2_is_clear(std::uint8_t t) { return t == static_cast<std::uint8_t>(core::packet_type::client_hello1); }

std::string_view v2_session_label(std::uint64_t sid) {
    if (sid == core::session_id_none) return "NONE";
    if (sid == core::session_id_pending) return "PENDING";
    return {};
}

bool v2_is_sequenced(std::uint64_t pn) { return pn >= core::min_initial_packet_number; }

constexpr protocol_description v2{"neutrino2",       v2_type_name,     v2_handshake_label,
                                  v2_is_clear,       v2_session_label, v2_is_sequenced};

// spec: neutrino-v3.md §5
std::string_view v3_type_name(std::uint8_t t) {
    using v3t = core::v3::packet_type;
    switch (static_cast<v3t>(t & core::v3::type_code_mask)) {
        case v3t::cookie_reply: return "COOKIE_REPLY";
        case v3t::path_challenge: return "PATH_CHALLENGE";
        case v3t::path_response: return "PATH_RESPONSE";
        default: return core::to_string(static_cast<core::packet_type>(t & core::v3::type_code_mask));
    }
}

std::string_view v3_handshake_label(std::uint8_t t) {
    using v3t = core::v3::packet_type;
    switch (static_cast<v3t>(t & core::v3::type_code_mask)) {
        case v3t::client_hello1: return "NOISE MESSAGE 1 (1/3)";
        case v3t::server_hello2: return "NOISE MESSAGE 2 (2/3)";
        case v3t::client_hello3: return "KEY CONFIRMATION (3/3)";
        case v3t::cookie_reply: return "COOKIE (retry with mac2)";
        default: return {};
    }
}

bool v3_is_clear(std::uint8_t t) {
    const auto code = static_cast<std::uint8_t>(t & core::v3::type_code_mask);
    return !core::v3::is_transport_type(code);
}

std::string_view v3_session_label(std::uint64_t sid) {
    if (sid == core::v3::session_id_none) return "NONE";
    return {};
}

bool v3_is_sequenced(std::uint64_t pn) {
    return core::v3::in_space(pn, core::v3::pn_space::numbered);
}

constexpr protocol_description v3{"neutrino3",
                                  v3_type_name,
                                  v3_handshake_label,
                                  v3_is_clear,
                                  v3_session_label,
                                  v3_is_sequenced,
                                  core::v3::unnumbered_base,
                                  core::v3::key_phase_bit};

}  // namespace

const protocol_description& neutrino_v2_description() noexcept { return v2; }

const protocol_description& neutrino_v3_description() noexcept { return v3; }

const protocol_description* neutrino_description(std::uint8_t version) noexcept {
    if (version == 2) return &v2;
    if (version == core::v3::protocol_version) return &v3;
    return nullptr;
}

}  // namespace neutrino::monitor
