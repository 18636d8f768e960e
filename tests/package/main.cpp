// Compiles against the installed headers and runs: every module of the package is usable from
// outside (headers found, libraries linked, dependencies re-found by neutrinoConfig.cmake, or
// given by the pkg-config files). Needs the static libraries and libsodium at link time.
#include <array>
#include <cstddef>
#include <span>

#include <neutrino/core/crypto.hpp>
#include <neutrino/datagram_layer.hpp>
#include <neutrino/result.hpp>
#include <neutrino/extended/detail/reassembler.hpp>
#include <neutrino/inspector/impairment.hpp>
#include <neutrino/monitor/describe.hpp>
#include <neutrino/monitor/terminal_observer.hpp>
#include <neutrino/p2p/probe.hpp>
#include <neutrino/p2p/stun.hpp>
#include <neutrino/qotp/keys.hpp>
#include <neutrino/qotp/receive_window.hpp>
#include <neutrino/reliable/client.hpp>
#include <neutrino/reliable/server.hpp>

static_assert(neutrino::datagram_layer<neutrino::reliable::client>);
static_assert(neutrino::datagram_layer<neutrino::reliable::server>);

int main() {
    const neutrino::result<int> r{42};
    neutrino::inspector::impairment link({}, 1);  // a seeded, unimpaired direction
    const std::array<std::byte, 3> d{};
    link.submit(d, neutrino::time_point{});
    const bool forwarded = link.poll(neutrino::time_point{}).has_value();
    std::array<std::byte, neutrino::core::key_size> secret{};
    secret[0] = std::byte{1};
    const auto pub = neutrino::core::public_key_of(neutrino::core::secret_key{secret});  // libsodium
    const bool described = neutrino::monitor::neutrino_description(2) != nullptr;  // libneutrino_monitor
    // libneutrino_qotp
    const auto qotp_key = neutrino::qotp::private_key_from_string("my-secret-seed");
    const bool qotp_ok = neutrino::qotp::public_key_of(qotp_key) != neutrino::qotp::public_key{} &&
                         neutrino::qotp::decode_receive_window(98) == 1024 * 1024;
    // libneutrino_p2p
    std::array<std::byte, 64> stun{};
    neutrino::p2p::stun_encoder enc(stun, 0x0001, neutrino::p2p::stun_transaction_id{});
    enc.add_fingerprint();
    const auto stun_size = enc.finish();
    const bool p2p_ok = stun_size &&
                        neutrino::p2p::decode_stun(std::span(stun).first(*stun_size)) &&
                        neutrino::p2p::node_id_of(d) != neutrino::p2p::node_id{};
    return r.has_value() && *r == 42 && forwarded && pub != neutrino::core::public_key{} &&
                   described && qotp_ok && p2p_ok
               ? 0
               : 1;
}
