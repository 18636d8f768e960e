// Fuzz target: the path manager (p2p/path_manager.hpp) as a machine. The input is a setup byte
// (bit 0: start with a direct path) then a script: raw datagrams, authentic requests, replies
// echoing nonces the manager sent, authentic PROBEs with one byte flipped, peer data (direct or
// relayed), payloads to send, and time steps, each from one of four sources (the peer's direct
// address, another address of the peer, a stranger, the server). Invariants after every step:
//  - every datagram out is a 57-byte PROBE of ours that verifies under the key, or the last
//    payload sent framed for the current path: `0x01 | payload` to the direct address while
//    direct is current, else `0x04 | relay id | 0x01 | payload` to the server;
//  - a rejected datagram changes nothing visible: one more drop counted, no datagram, no event,
//    nothing received; an accepted data datagram hands up exactly its payload;
//  - an accepted request gives exactly one reply, to its source, echoing its nonce (plus at
//    most one validation request to that source);
//  - `path_switched` events alternate and agree with `direct_is_current()`;
//  - after handle_deadline(now), the deadline is later than now or none.
// spec: p2p.md §7.5, §7.6

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/p2p/envelope.hpp"
#include "neutrino/p2p/path_manager.hpp"
#include "neutrino/p2p/probe.hpp"
#include "neutrino/random.hpp"
#include "neutrino/time.hpp"
#include "script_reader.hpp"

namespace {

using namespace neutrino::p2p;
using neutrino::peer_address;
using neutrino::time_point;

using neutrino::fuzz::filled_id;
using neutrino::fuzz::reader;

constexpr std::uint64_t attempt = 7;
constexpr std::uint64_t relay = 0x1122334455667788ULL;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using manager = basic_path_manager<neutrino::seeded_random>;
    reader r({data, size});
    const std::uint8_t setup = r.byte();
    const node_id self = filled_id(1);
    const node_id peer = filled_id(2);
    probe_key_bytes key{};
    key.fill(std::byte{0x42});
    const peer_address server = peer_address::v4({192, 0, 2, 10}, 3478);
    const std::array<peer_address, 4> sources{peer_address::v4({198, 51, 100, 1}, 40000),
                                              peer_address::v4({198, 51, 100, 1}, 41000),
                                              peer_address::v4({203, 0, 113, 9}, 5), server};
    path_config cfg;
    cfg.self = self;
    cfg.peer = peer;
    cfg.attempt_id = attempt;
    cfg.key = key;
    cfg.server = server;
    cfg.relay_id = relay;
    if ((setup & 1) != 0) cfg.direct = sources[0];
    cfg.timers.keepalive = std::chrono::milliseconds(200);
    cfg.timers.liveness = std::chrono::milliseconds(500);
    cfg.timers.reprobe = std::chrono::milliseconds(300);
    time_point now{};
    manager m(cfg, now, neutrino::seeded_random(setup));

    std::vector<std::uint64_t> sent_nonces;  // requests of ours (the last 64)
    std::vector<std::byte> last_payload;     // what send() was last given
    std::optional<path_kind> last_switch;
    std::array<std::byte, 1500> out{};
    std::array<std::byte, manager::max_payload_size> got{};
    std::vector<std::byte> in;

    struct drained {
        std::size_t datagrams = 0;
        std::size_t events = 0;
        std::size_t replies = 0;
        std::size_t requests = 0;
        peer_address last_reply_to{};
        std::uint64_t last_echo = 0;
    };
    auto drain = [&] {
        drained d;
        while (auto t = m.poll_datagram(out, now)) {
            ++d.datagrams;
            const auto bytes = std::span(out).first(t->size);
            NEUTRINO_FUZZ_CHECK(!bytes.empty());
            if (bytes[0] == std::byte{0x02}) {
                NEUTRINO_FUZZ_CHECK(t->size == probe_size);
                const auto pr = decode_probe(bytes, key);
                NEUTRINO_FUZZ_CHECK(pr && pr->sender == self && pr->attempt_id == attempt);
                if (pr->echo_nonce != 0) {
                    NEUTRINO_FUZZ_CHECK(pr->nonce == 0);
                    ++d.replies;
                    d.last_reply_to = t->to;
                    d.last_echo = pr->echo_nonce;
                } else {
                    NEUTRINO_FUZZ_CHECK(pr->nonce != 0);
                    ++d.requests;
                    if (sent_nonces.size() == 64) sent_nonces.erase(sent_nonces.begin());
                    sent_nonces.push_back(pr->nonce);
                }
                continue;
            }
            std::span<const std::byte> payload;
            if (m.direct_is_current()) {
                NEUTRINO_FUZZ_CHECK(bytes[0] == std::byte{0x01} && t->to == *m.direct_address());
                payload = bytes.subspan(1);
            } else {
                NEUTRINO_FUZZ_CHECK(t->to == server);
                const auto rd = decode_relayed(bytes);
                NEUTRINO_FUZZ_CHECK(rd && rd->relay_id == relay && !rd->payload.empty() &&
                                    rd->payload[0] == std::byte{0x01});
                payload = rd->payload.subspan(1);
            }
            NEUTRINO_FUZZ_CHECK(std::ranges::equal(payload, last_payload));
        }
        while (auto e = m.poll_event()) {
            ++d.events;
            if (const auto* s = std::get_if<path_switched>(&*e)) {
                NEUTRINO_FUZZ_CHECK(!last_switch || *last_switch != s->to);
                last_switch = s->to;
            }
        }
        if (last_switch) {
            NEUTRINO_FUZZ_CHECK(m.direct_is_current() == (*last_switch == path_kind::direct));
        }
        return d;
    };
    (void)drain();

    // `payload`: what an accepted data datagram must hand up; `request_nonce`: nonzero for an
    // authentic request.
    auto feed = [&](std::span<const std::byte> dgram, const peer_address& from,
                    std::uint64_t request_nonce,
                    std::optional<std::span<const std::byte>> payload) {
        const auto dropped_before = m.stats().dropped();
        const auto res = m.handle_datagram(dgram, from, now);
        const auto n = m.poll_received(got);
        const auto d = drain();
        if (!res) {
            NEUTRINO_FUZZ_CHECK(m.stats().dropped() == dropped_before + 1);
            NEUTRINO_FUZZ_CHECK(d.datagrams == 0 && d.events == 0 && !n);
            return;
        }
        NEUTRINO_FUZZ_CHECK(m.stats().dropped() == dropped_before);
        if (n) {
            NEUTRINO_FUZZ_CHECK(payload && std::ranges::equal(*payload, std::span(got).first(*n)));
            NEUTRINO_FUZZ_CHECK(d.datagrams == 0);
        }
        if (request_nonce != 0) {
            NEUTRINO_FUZZ_CHECK(d.replies == 1 && d.last_reply_to == from &&
                                d.last_echo == request_nonce && d.requests <= 1);
        } else {
            NEUTRINO_FUZZ_CHECK(d.replies == 0 && d.requests == 0);
        }
    };

    while (!r.done()) {
        const std::uint8_t op = r.byte() % 8;
        const peer_address& from = sources[r.byte() % sources.size()];
        switch (op) {
            case 0: {  // a raw datagram
                in.assign(r.byte() % 80, std::byte{0});
                for (auto& b : in) b = std::byte{r.byte()};
                const auto authentic = decode_probe(in, key);
                const bool request = authentic && authentic->sender == peer &&
                                     authentic->attempt_id == attempt && authentic->echo_nonce == 0;
                std::optional<std::span<const std::byte>> payload;
                if (!in.empty() && in[0] == std::byte{0x01}) payload = std::span(in).subspan(1);
                if (const auto rd = decode_relayed(in); rd && !rd->payload.empty()) {
                    payload = rd->payload.subspan(1);
                }
                feed(in, from, request ? authentic->nonce : 0, payload);
                break;
            }
            case 1:    // an authentic request
            case 2:    // an authentic reply to one of our requests
            case 3: {  // an authentic PROBE with one byte flipped
                probe pr{attempt, peer, 0, 0};
                if (op == 1) pr.nonce = r.u64();
                if (op == 2 || op == 3) {
                    pr.echo_nonce =
                        sent_nonces.empty() ? r.u64() : sent_nonces[r.byte() % sent_nonces.size()];
                }
                std::array<std::byte, probe_size> buf{};
                NEUTRINO_FUZZ_CHECK(encode_probe(pr, key, buf));
                if (op == 3) {
                    const std::size_t at = r.byte() % probe_size;
                    buf[at] ^= std::byte{static_cast<std::uint8_t>(r.byte() | 1)};
                    const auto res = m.handle_datagram(buf, from, now);
                    // a flipped byte 0 may make it peer data (0x01..0x03 ^ …): then it is data
                    if (buf[0] == std::byte{0x02}) NEUTRINO_FUZZ_CHECK(!res);
                    (void)m.poll_received(got);
                    NEUTRINO_FUZZ_CHECK(drain().replies == 0);
                    break;
                }
                feed(buf, from, op == 1 ? pr.nonce : 0, std::nullopt);
                break;
            }
            case 4:    // peer data, direct
            case 5: {  // peer data, relayed
                std::vector<std::byte> payload(r.byte() % 64);
                for (auto& b : payload) b = std::byte{r.byte()};
                in.assign(1, std::byte{0x01});
                in.insert(in.end(), payload.begin(), payload.end());
                if (op == 5) {
                    std::vector<std::byte> framed(relay_header_size + in.size());
                    NEUTRINO_FUZZ_CHECK(
                        encode_relayed((r.byte() & 1) != 0 ? relay : relay + 1, in, framed));
                    in = framed;
                }
                feed(in, from, 0, std::span<const std::byte>(payload));
                break;
            }
            case 6: {  // the upper layer sends
                last_payload.assign(r.byte() % 64, std::byte{0});
                for (auto& b : last_payload) b = std::byte{r.byte()};
                NEUTRINO_FUZZ_CHECK(m.send(last_payload, now));
                NEUTRINO_FUZZ_CHECK(drain().datagrams >= 1);
                break;
            }
            default: {  // time passes
                now += std::chrono::milliseconds(r.byte()) * (1 + (r.byte() % 8));
                if (auto t = m.deadline(); t && *t <= now) m.handle_deadline(now);
                const auto t = m.deadline();
                NEUTRINO_FUZZ_CHECK(!t || *t > now);
                (void)drain();
                break;
            }
        }
    }
    return 0;
}
