// Fuzz target: the rendezvous client (p2p/rendezvous_client.hpp) fed arbitrary control bytes
// and timer steps. Input: a script of operations, each an opcode byte then its operands:
//   0 len data[len]  one control message from the server (len: 1 byte)
//   1 step           time advances by step * 100 ms, then handle_deadline
//   2                connect to the fixed peer
//   3 attempt(8) b   a well-formed INTRODUCE from the fixed peer (attempt id, role from b)
//   4 n              set_host_candidates with n % 9 host candidates
//   other            close
// Properties: nothing crashes; every queued message decodes and is a client-to-server one
// (REGISTER, KEEPALIVE, CONNECT, BYE) no larger than the encoder's maximum; every
// introduction reported carries a key that hashes to its node id and a role consistent with
// the node-id order; the deadline is never in the past after handle_deadline.
// spec: p2p.md §7.2, §7.3, §7.5, §7.6

#include <sodium.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <variant>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/p2p/candidate.hpp"
#include "neutrino/p2p/probe.hpp"
#include "neutrino/p2p/rendezvous_client.hpp"
#include "neutrino/p2p/rendezvous_message.hpp"
#include "neutrino/random.hpp"
#include "neutrino/time.hpp"

namespace {

using namespace neutrino::p2p;
using neutrino::peer_address;

struct keys {
    public_key_bytes pk{};
    secret_key_bytes sk{};
};

keys make_keys(std::byte fill) {
    keys k;
    k.sk.fill(fill);
    if (crypto_scalarmult_base(reinterpret_cast<unsigned char*>(k.pk.data()),
                               reinterpret_cast<const unsigned char*>(k.sk.data())) != 0) {
        __builtin_trap();
    }
    return k;
}

bool client_to_server(const rendezvous_message& m) {
    return std::holds_alternative<register_message>(m) ||
           std::holds_alternative<keepalive_message>(m) ||
           std::holds_alternative<connect_message>(m) || std::holds_alternative<bye_message>(m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const keys me = make_keys(std::byte{1});
    static const keys peer = make_keys(std::byte{2});
    static const node_id me_id = node_id_of(me.pk);
    static const node_id peer_id = node_id_of(peer.pk);

    rendezvous_client_config cfg;
    cfg.public_key = me.pk;
    cfg.secret_key = me.sk;
    cfg.timers.keepalive = std::chrono::seconds(2);
    cfg.timers.loss_timeout = std::chrono::seconds(6);
    cfg.timers.backoff_max = std::chrono::seconds(8);
    cfg.timers.connect_timeout = std::chrono::seconds(5);
    cfg.max_attempts = 4;
    cfg.max_outgoing = 4;
    cfg.max_events = 8;
    basic_rendezvous_client<neutrino::seeded_random> client(cfg, neutrino::seeded_random(1));
    neutrino::time_point now{};
    (void)client.start(now);

    auto check_outputs = [&] {
        while (auto bytes = client.poll_control()) {
            const auto m = decode_rendezvous(*bytes);
            if (!m || !client_to_server(*m) || bytes->size() > max_rendezvous_message_size) {
                __builtin_trap();
            }
        }
        while (auto e = client.poll_event()) {
            if (const auto* i = std::get_if<introduction>(&*e)) {
                const bool we_initiate = std::lexicographical_compare(
                    me_id.begin(), me_id.end(), i->peer.begin(), i->peer.end());
                if (node_id_of(i->peer_key) != i->peer || i->initiator != we_initiate ||
                    i->peer == me_id) {
                    __builtin_trap();
                }
                if (!client.puncher_config_for(*i)) __builtin_trap();  // a real key: never weak
            }
        }
    };

    std::size_t at = 0;
    auto next = [&]() -> std::uint8_t { return at < size ? data[at++] : 0; };
    while (at < size) {
        const std::uint8_t op = next();
        switch (op % 6) {
            case 0: {
                const std::size_t len = std::min<std::size_t>(next(), size - at);
                // a copy of exactly `len` bytes, so ASan sees any read past the end
                std::vector<std::byte> msg(len);
                if (len != 0) std::memcpy(msg.data(), data + at, len);
                at += len;
                (void)client.handle_control(msg, now);
                break;
            }
            case 1: {
                now += std::chrono::milliseconds(100) * next();
                client.handle_deadline(now);
                const auto d = client.deadline();
                if (d && *d <= now) __builtin_trap();
                break;
            }
            case 2: (void)client.connect(peer_id, now); break;
            case 3: {
                introduce_message m;
                m.peer = peer_id;
                m.peer_key = peer.pk;
                for (int i = 0; i < 8; ++i) m.attempt_id = (m.attempt_id << 8) | next();
                m.initiator = (next() & 1) != 0;
                m.relay_id = 7;
                m.candidates.push_back(
                    candidate{peer_address::v4({192, 0, 2, 1}, 4000), candidate_kind::reflexive});
                std::array<std::byte, max_rendezvous_message_size> buf{};
                const auto n = encode_rendezvous(m, buf);
                if (!n) __builtin_trap();
                (void)client.handle_control(std::span(buf).first(*n), now);
                break;
            }
            case 4: {
                std::vector<candidate> cs(next() % 9);
                for (std::size_t i = 0; i < cs.size(); ++i) {
                    cs[i] = candidate{peer_address::v4({10, 0, 0, static_cast<std::uint8_t>(i)},
                                                       static_cast<std::uint16_t>(4000 + i)),
                                      candidate_kind::host};
                }
                (void)client.set_host_candidates(cs, now);
                break;
            }
            default: (void)client.close(now); break;
        }
        check_outputs();
    }
    return 0;
}
