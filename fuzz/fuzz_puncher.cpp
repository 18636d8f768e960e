// Fuzz target: the puncher (p2p/puncher.hpp) as a machine. The input is a script: raw
// datagrams, authentic requests, replies echoing nonces the puncher sent, authentic PROBEs with
// one byte flipped, and time steps, each from one of four sources (two announced, two not).
// Invariants after every step:
//  - every datagram out is a 57-byte PROBE of ours that verifies under the key; a reply asks
//    nothing back (nonce 0);
//  - a rejected datagram changes nothing visible: one more drop counted, no datagram, no event;
//  - an accepted request gives exactly one reply, to its source, echoing its nonce (plus one
//    request to that source when it was just learned); an accepted reply gives no datagram;
//  - after handle_deadline(now), the deadline is later than now or none;
//  - at most one pair_selected (initiator only) or one punch_failed, never both.
// spec: p2p.md §7.2, §7.4

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/p2p/probe.hpp"
#include "neutrino/p2p/puncher.hpp"
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    reader r({data, size});
    const std::uint8_t setup = r.byte();
    const bool initiator = (setup & 1) != 0;
    const node_id self = filled_id(initiator ? 1 : 2);
    const node_id peer = filled_id(initiator ? 2 : 1);
    probe_key_bytes key{};
    key.fill(std::byte{0x42});
    const std::array<peer_address, 4> sources{
        peer_address::v4({10, 0, 2, 2}, 40000), peer_address::v4({198, 51, 100, 1}, 40000),
        peer_address::v4({198, 51, 100, 1}, 41000), peer_address::v4({203, 0, 113, 9}, 5)};
    const std::array<candidate, 2> candidates{candidate{sources[0], candidate_kind::host},
                                              candidate{sources[1], candidate_kind::reflexive}};
    puncher_config cfg;
    cfg.self = self;
    cfg.peer = peer;
    cfg.attempt_id = attempt;
    cfg.key = key;
    cfg.candidates = candidates;
    basic_puncher<neutrino::seeded_random> p(cfg, neutrino::seeded_random(setup));
    time_point now{};
    if ((setup & 2) != 0) p.start(now);

    std::vector<std::uint64_t> sent_nonces;  // requests of ours (the last 256)
    int selected = 0;
    int failed = 0;
    std::array<std::byte, 1500> out{};
    std::vector<std::byte> in;

    struct drained {
        std::size_t datagrams = 0;
        std::size_t events = 0;
        std::size_t replies = 0;
        peer_address last_reply_to{};
        std::uint64_t last_echo = 0;
    };
    auto drain = [&] {
        drained d;
        while (auto t = p.poll_datagram(out, now)) {
            ++d.datagrams;
            NEUTRINO_FUZZ_CHECK(t->size == probe_size);
            const auto pr = decode_probe(std::span(out).first(t->size), key);
            NEUTRINO_FUZZ_CHECK(pr && pr->sender == self && pr->attempt_id == attempt);
            if (pr->echo_nonce != 0) {
                NEUTRINO_FUZZ_CHECK(pr->nonce == 0);
                ++d.replies;
                d.last_reply_to = t->to;
                d.last_echo = pr->echo_nonce;
            } else {
                NEUTRINO_FUZZ_CHECK(pr->nonce != 0);
                if (sent_nonces.size() == 256) sent_nonces.erase(sent_nonces.begin());
                sent_nonces.push_back(pr->nonce);
            }
        }
        while (auto e = p.poll_event()) {
            ++d.events;
            if (std::holds_alternative<pair_selected>(*e)) ++selected;
            if (std::holds_alternative<punch_failed>(*e)) ++failed;
        }
        NEUTRINO_FUZZ_CHECK(selected + failed <= 1);
        NEUTRINO_FUZZ_CHECK(initiator || selected == 0);
        return d;
    };
    (void)drain();

    auto feed = [&](std::span<const std::byte> dgram, const peer_address& from,
                    std::uint64_t request_nonce) {
        const auto dropped_before = p.stats().dropped();
        const auto learned_before = p.candidate_count();
        const auto res = p.handle_datagram(dgram, from, now);
        const auto d = drain();
        if (!res) {
            NEUTRINO_FUZZ_CHECK(p.stats().dropped() == dropped_before + 1);
            NEUTRINO_FUZZ_CHECK(d.datagrams == 0 && d.events == 0);
            return;
        }
        NEUTRINO_FUZZ_CHECK(p.stats().dropped() == dropped_before);
        if (request_nonce != 0) {  // an authentic request
            const bool learned = p.candidate_count() > learned_before;
            NEUTRINO_FUZZ_CHECK(d.replies == 1 && d.last_reply_to == from &&
                                d.last_echo == request_nonce);
            NEUTRINO_FUZZ_CHECK(d.datagrams <= (learned ? 2U : 1U));
        } else {
            NEUTRINO_FUZZ_CHECK(d.replies == 0);
        }
    };

    while (!r.done()) {
        const std::uint8_t op = r.byte() % 5;
        const peer_address& from = sources[r.byte() % sources.size()];
        switch (op) {
            case 0: {  // a raw datagram
                in.assign(r.byte() % 80, std::byte{0});
                for (auto& b : in) b = std::byte{r.byte()};
                const auto authentic = decode_probe(in, key);
                const bool request = authentic && authentic->sender == peer &&
                                     authentic->attempt_id == attempt && authentic->echo_nonce == 0;
                // an authentic request may also be a replay: then it is rejected, fine
                feed(in, from, request ? authentic->nonce : 0);
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
                    const auto res = p.handle_datagram(buf, from, now);
                    // every flipped bit is caught: by the type, size or MAC checks
                    NEUTRINO_FUZZ_CHECK(!res);
                    NEUTRINO_FUZZ_CHECK(drain().datagrams == 0);
                    break;
                }
                feed(buf, from, op == 1 ? pr.nonce : 0);
                break;
            }
            default: {  // time passes
                now += std::chrono::milliseconds(r.byte()) * (1 + (r.byte() % 8));
                if (auto t = p.deadline(); t && *t <= now) p.handle_deadline(now);
                const auto t = p.deadline();
                NEUTRINO_FUZZ_CHECK(!t || *t > now);
                (void)drain();
                break;
            }
        }
    }
    return 0;
}
