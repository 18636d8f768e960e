// Fuzz target (issue #11): a reliable server fed authenticated but adversarial DATA, KEEP_ALIVE
// and REQUEST_RETRANSMISSION packets (any number, gap, acknowledgement and source address) by
// an attacker holding the session's keys, beside a genuine client exchanging messages. On every
// input, after every step:
//   - amplification: to every address that was never the session's validated address, the
//     server sent at most 3× the bytes it received from it;
//   - request budget: the server's requests stay within the floor per 10 ms (the shortest
//     epoch) plus two per datagram received, counted twice (each counts in two epochs).
// Any breach is __builtin_trap. Program: byte 0 seeds; then one operation per step:
//   0 DATA      u16 offset from the genuine next number (bit 15: below it), u8 address
//   1 KEEP_ALIVE   as DATA, then the acknowledgement: u8 mode (exact u64 / around the
//              server's next number / 0)
//   2 REQUEST   u64 number (or around the server's next number), u8 address
//   3 far       u64 packet number, u8 address
//   4 time      u8 ms (×16 when the top bit is set)
//   5 genuine   the genuine client sends a message

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "adversary.hpp"
#include "harness.hpp"
#include "neutrino/core/client.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/reliable/client.hpp"
#include "neutrino/reliable/server.hpp"

namespace {
namespace nc = neutrino::core;
namespace nr = neutrino::reliable;
namespace na = neutrino::adversary;
using neutrino::peer_address;
using neutrino::time_point;

struct key_tap : nc::null_observer {
    static inline nc::session_keys last{};
    void on_session_keys(std::uint64_t, nc::role, const nc::session_keys& k, time_point) noexcept {
        last = k;
    }
};

nc::client_config client_cfg() {
    nc::client_config c;
    c.server_key = neutrino::fuzz::server_keys().pk;
    c.server = na::server_address;
    return c;
}
nc::server_config server_cfg() {
    nc::server_config s;
    s.keys = neutrino::fuzz::server_keys();
    return s;
}

struct stack {
    using client =
        nr::basic_client<nc::basic_client<nc::wire::v2, key_tap, neutrino::seeded_random>>;
    using server = nr::basic_server<
        nc::basic_server<nc::wire::v2, nc::null_observer, neutrino::seeded_random>>;
    static client make_client(std::uint64_t seed) {
        return client(client_cfg(), nr::config{}, key_tap{}, neutrino::seeded_random(seed));
    }
    static server make_server(std::uint64_t seed) {
        return server(server_cfg(), nr::config{}, nc::null_observer{},
                      neutrino::seeded_random(seed));
    }
    static auto& core_of(client& c) { return c.next_layer(); }
    static bool is_message(const nc::event& e) { return e.kind == nc::event_kind::data; }
    static const nr::stats& reliable_stats(const server& s) { return s.stats(); }
};

const std::array<peer_address, 4> addrs{na::genuine_address, na::victim_address,
                                        peer_address::v4({127, 0, 0, 1}, 41000),
                                        peer_address::v4({127, 0, 0, 2}, 40000)};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    neutrino::fuzz::reader in(data, size);
    na::arena<stack> ar(in.u8());
    if (!ar.connect()) __builtin_trap();
    ar.freeze();
    const std::uint64_t sid = ar.genuine().session_id();
    const nc::session_keys keys = key_tap::last;
    neutrino::seeded_random rnd(7);
    std::vector<peer_address> validated{na::genuine_address};
    const std::uint64_t rx0 = ar.server().stats().requests_sent;
    const time_point t0 = ar.now();
    std::uint64_t datagrams0 = 0;
    for (const auto& [a, t] : ar.tallies()) datagrams0 += t.datagrams_received;
    std::size_t genuine_sent = 0;
    std::array<std::byte, 8> w0{}, w1{};

    auto seal_and_inject = [&](nc::packet_type type, std::uint64_t pn, nc::word_list words,
                               std::uint8_t addr) {
        std::array<std::byte, 1500> buf{};
        auto n = nc::wire::v2::seal(buf, type, sid, pn, 0, words, 0, keys.tx, rnd);
        if (!n) return;
        ar.inject(na::bytes(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n)),
                  addrs[addr % addrs.size()]);
    };
    // The genuine client's next number at the freeze: where the server's receive edge is.
    const std::uint64_t edge = ar.twin_next_pn();

    for (int step = 0; step < 128 && !in.empty(); ++step) {
        switch (in.u8() % 6) {
            case 0:
            case 1: {
                const std::uint16_t off = in.u16();
                const std::uint64_t pn = (off & 0x8000U) ? edge - (off & 0x7fffU) : edge + off;
                const std::uint8_t addr = in.u8();
                if ((step & 1) == 0 || pn < 2) {
                    const std::string text = "f" + std::to_string(pn);
                    seal_and_inject(nc::packet_type::data, pn, nc::words(text), addr);
                } else {
                    const std::uint8_t mode = in.u8();
                    const std::uint64_t ack = mode % 3 == 0   ? in.u64()
                                              : mode % 3 == 1 ? edge + in.u16() - 0x8000
                                                              : 0;
                    neutrino::store_le(w0.data(), std::uint64_t{0});
                    neutrino::store_le(w1.data(), ack);
                    const std::array<nc::word, 2> w{nc::word(w0), nc::word(w1)};
                    seal_and_inject(nc::packet_type::keep_alive, pn, w, addr);
                }
                break;
            }
            case 2: {
                const std::uint64_t pn = in.u8() & 1 ? in.u64() : edge + in.u16();
                neutrino::store_le(w0.data(), pn);
                const nc::word w(w0);
                seal_and_inject(nc::packet_type::request_retransmission, nc::packet_number_none,
                                {&w, 1}, in.u8());
                break;
            }
            case 3: {
                const std::uint64_t pn = in.u64();
                if (pn < 2) break;
                seal_and_inject(nc::packet_type::data, pn, nc::words("far"), in.u8());
                break;
            }
            case 4: {
                const std::uint8_t d = in.u8();
                ar.run_for(std::chrono::milliseconds((d & 0x80U) ? (d & 0x7fU) * 16 : d));
                break;
            }
            case 5: {
                const std::string text = "g" + std::to_string(genuine_sent++);
                (void)ar.genuine().send(nc::words(text), ar.now());
                ar.run_for(std::chrono::milliseconds(1));
                break;
            }
        }
        if (auto p = ar.server().next_layer().peer_of(sid);
            p && std::find(validated.begin(), validated.end(), *p) == validated.end()) {
            validated.push_back(*p);  // validated by a probe's acknowledgement (forgeable on v2)
        }
        if (!na::within_amplification_budget(ar, validated)) __builtin_trap();
        std::uint64_t datagrams = 0;
        for (const auto& [a, t] : ar.tallies()) datagrams += t.datagrams_received;
        const nr::config c;
        const auto epochs =
            static_cast<std::uint64_t>((ar.now() - t0) / std::chrono::milliseconds(10)) + 1;
        const std::uint64_t bound =
            epochs * c.request_floor + 2 * c.request_per_arrival * (datagrams - datagrams0 + 8);
        if (ar.server().stats().requests_sent - rx0 > bound) __builtin_trap();
    }
    return 0;
}
