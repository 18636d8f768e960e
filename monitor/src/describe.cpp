#include "neutrino/monitor/describe.hpp"

#include "neutrino/core/constants.hpp"

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

}  // namespace

const protocol_description& neutrino_v2_description() noexcept { return v2; }

}  // namespace neutrino::monitor
