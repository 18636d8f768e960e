// Fuzz target: the rendezvous control messages (p2p/rendezvous_message.hpp) and the server core
// fed arbitrary input (p2p/rendezvous_server.hpp). Input: one message, also used as a script
// for the server. Properties: what decodes re-encodes, and the re-encoding decodes to a
// message that encodes to the same bytes (the encoding is canonical after one round); every
// proper prefix of a canonical encoding is rejected; the server, given the input as a control
// message from one of four keys and as a relayed datagram, never crashes, queues only messages
// that decode, and answers requests with replies no larger than the request.
// spec: p2p.md §7.2, §7.3

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <variant>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/p2p/probe.hpp"
#include "neutrino/p2p/rendezvous_message.hpp"
#include "neutrino/p2p/rendezvous_server.hpp"
#include "neutrino/random.hpp"
#include "neutrino/time.hpp"

namespace {

using namespace neutrino::p2p;
using neutrino::peer_address;

std::vector<std::byte> encode(const rendezvous_message& m) {
    std::vector<std::byte> out(max_rendezvous_message_size);
    const auto n = encode_rendezvous(m, out);
    if (!n) return {};
    out.resize(*n);
    return out;
}

bool is_reply(const rendezvous_message& m) {
    return std::holds_alternative<registered_message>(m) ||
           std::holds_alternative<keepalive_ack_message>(m) ||
           std::holds_alternative<error_message>(m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // A copy in a buffer of exactly `size` bytes, so ASan sees any read past the end.
    std::vector<std::byte> in(size);
    if (size != 0) std::memcpy(in.data(), data, size);

    const auto decoded = decode_rendezvous(in);
    if (decoded) {
        const auto once = encode(*decoded);
        // Everything decoded is encodable, except addresses and sizes the encoder refuses;
        // the decoder accepts only what it can represent, so the encoder never refuses.
        if (once.empty()) __builtin_trap();
        const auto again = decode_rendezvous(once);
        if (!again || again->index() != decoded->index()) __builtin_trap();
        const auto twice = encode(*again);
        if (twice != once) __builtin_trap();
        for (std::size_t n = 0; n < once.size(); ++n) {
            if (decode_rendezvous(std::span(once).first(n))) __builtin_trap();
        }
    }

    // The server: four nodes' keys (key i is 32 bytes of i + 1), each at its own address. The
    // sender is the key whose node id a REGISTER names, else the one the last byte picks; an
    // input whose size is 7 mod 8 comes from the sender's second address (a NAT rebinding).
    static neutrino::seeded_random random(1);
    static basic_rendezvous_server<neutrino::seeded_random> server(
        [] {
            rendezvous_server_config cfg;
            cfg.max_registrations = 8;
            cfg.max_relays = 8;
            cfg.max_outgoing = 16;
            cfg.max_events = 16;
            return cfg;
        }(),
        random);
    static neutrino::time_point now{};
    now += std::chrono::seconds(1);
    std::array<public_key_bytes, 4> keys{};
    for (std::size_t i = 0; i < keys.size(); ++i) keys[i].fill(std::byte(i + 1));
    std::size_t who = size > 0 ? data[size - 1] % 4 : 0;
    if (decoded && std::holds_alternative<register_message>(*decoded)) {
        for (std::size_t i = 0; i < keys.size(); ++i) {
            if (std::get<register_message>(*decoded).id == node_id_of(keys[i])) who = i;
        }
    }
    const auto host = static_cast<std::uint8_t>(who + (size % 8 == 7 ? 4 : 0));
    const peer_address from = peer_address::v4({10, 0, 0, host}, 9);
    (void)server.handle_control(keys[who], from, in, now);
    while (auto out = server.poll_control()) {
        const auto m = decode_rendezvous(out->message);
        if (!m) __builtin_trap();
        // a reply goes to the sender and is no larger than its request
        if (is_reply(*m) && (out->to != node_id_of(keys[who]) || out->message.size() > size)) {
            __builtin_trap();
        }
    }
    const auto fwd = server.handle_relayed(from, in, now);
    if (fwd && (fwd->datagram.size() != size || fwd->to == from)) __builtin_trap();
    while (server.poll_event()) {
    }
    server.handle_deadline(now);
    return 0;
}
