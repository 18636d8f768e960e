#include "neutrino/p2p/probe.hpp"

#include <sodium.h>

#include <cstring>
#include <string_view>

#include "neutrino/endian.hpp"
#include "neutrino/p2p/envelope.hpp"

namespace neutrino::p2p {
namespace {

constexpr std::size_t mac_offset = probe_size - probe_mac_size;
constexpr std::string_view probe_key_label = "neutrino p2p probe key v1";

std::array<std::byte, probe_mac_size> mac_of(std::span<const std::byte> body,
                                             std::span<const std::byte, probe_key_size> key) {
    std::array<std::byte, probe_mac_size> mac{};
    crypto_generichash(reinterpret_cast<unsigned char*>(mac.data()), mac.size(),
                       reinterpret_cast<const unsigned char*>(body.data()), body.size(),
                       reinterpret_cast<const unsigned char*>(key.data()), key.size());
    return mac;
}

}  // namespace

node_id node_id_of(std::span<const std::byte> public_key) noexcept {
    std::array<std::byte, 32> h{};
    crypto_generichash(reinterpret_cast<unsigned char*>(h.data()), h.size(),
                       reinterpret_cast<const unsigned char*>(public_key.data()), public_key.size(),
                       nullptr, 0);
    node_id id{};
    std::memcpy(id.data(), h.data(), id.size());
    return id;
}

probe_key_bytes probe_key(std::span<const std::byte, 32> punch_secret,
                          std::span<const std::byte, 32> x25519_shared) noexcept {
    crypto_generichash_state st;
    crypto_generichash_init(&st, reinterpret_cast<const unsigned char*>(punch_secret.data()),
                            punch_secret.size(), probe_key_size);
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(probe_key_label.data()),
                              probe_key_label.size());
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(x25519_shared.data()),
                              x25519_shared.size());
    probe_key_bytes key{};
    crypto_generichash_final(&st, reinterpret_cast<unsigned char*>(key.data()), key.size());
    sodium_memzero(&st, sizeof st);
    return key;
}

result<std::size_t> encode_probe(const probe& p, std::span<const std::byte, probe_key_size> key,
                                 std::span<std::byte> out) noexcept {
    if (out.size() < probe_size) return fail(errc::buffer_too_small);
    std::byte* o = out.data();
    o[0] = static_cast<std::byte>(envelope_type::peer_control);
    store_le(o + 1, p.attempt_id);
    std::memcpy(o + 9, p.sender.data(), node_id_size);
    store_le(o + 25, p.nonce);
    store_le(o + 33, p.echo_nonce);
    const auto mac = mac_of(out.first(mac_offset), key);
    std::memcpy(o + mac_offset, mac.data(), mac.size());
    return probe_size;
}

result<probe> peek_probe(std::span<const std::byte> in) noexcept {
    if (in.empty()) return fail(errc::envelope_empty);
    if (in[0] != static_cast<std::byte>(envelope_type::peer_control)) {
        return fail(errc::bad_envelope_type);
    }
    if (in.size() != probe_size) return fail(errc::probe_bad_size);
    probe p;
    p.attempt_id = load_le<std::uint64_t>(in.data() + 1);
    std::memcpy(p.sender.data(), in.data() + 9, node_id_size);
    p.nonce = load_le<std::uint64_t>(in.data() + 25);
    p.echo_nonce = load_le<std::uint64_t>(in.data() + 33);
    return p;
}

result<probe> decode_probe(std::span<const std::byte> in,
                           std::span<const std::byte, probe_key_size> key) noexcept {
    auto p = peek_probe(in);
    if (!p) return p;
    const auto mac = mac_of(in.first(mac_offset), key);
    if (sodium_memcmp(mac.data(), in.data() + mac_offset, probe_mac_size) != 0) {
        return fail(errc::probe_bad_mac);
    }
    return p;
}

}  // namespace neutrino::p2p
