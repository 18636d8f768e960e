// The reliable server fed authenticated but arbitrary packets: the fuzzer picks type, packet
// number, keyword and words, and the harness seals them with the genuine session key (taken
// from the client's observer), so the ordering, request and acknowledgement logic behind the
// AEAD is what gets fuzzed. Invariants: DATA delivered in strictly increasing packet-number
// order and never twice; buffers within their configured bounds; no datagram over 1280 bytes.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "neutrino/core/client.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/reliable/server.hpp"

namespace {
namespace nc = neutrino::core;
namespace nr = neutrino::reliable;

struct key_tap : nc::null_observer {
    std::optional<nc::secret_key> tx;
    void on_session_keys(std::uint64_t, nc::role, const nc::session_keys& k, neutrino::time_point) {
        tx = k.tx;
    }
};

using client_t = nc::basic_client<nc::wire::v2, key_tap, neutrino::seeded_random>;
using server_t = nr::basic_server<nc::basic_server<nc::wire::v2, nc::null_observer, neutrino::seeded_random>>;

struct reader {
    const std::uint8_t* p;
    std::size_t n;
    std::uint8_t u8() {
        if (n == 0) return 0;
        --n;
        return *p++;
    }
    std::uint64_t u64() {
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v = (v << 8) | u8();
        return v;
    }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto keys = *nc::keypair_from_hex(nc::example_public_key_hex, nc::example_secret_key_hex);
    const auto ca = neutrino::peer_address::v4({127, 0, 0, 1}, 40000);
    const auto sa = neutrino::peer_address::v4({127, 0, 0, 1}, 22753);
    nc::client_config cc;
    cc.server_key = keys.pk;
    cc.server = sa;
    cc.dialect = neutrino::reliable::wire_dialect;
    nc::server_config sc;
    sc.keys = keys;
    nr::config rc;
    rc.send_window = 16;
    rc.receive_window = 32;
    client_t client(cc, key_tap{}, neutrino::seeded_random(1));
    server_t server(sc, rc, nc::null_observer{}, neutrino::seeded_random(2));
    neutrino::time_point now{};
    std::array<std::byte, nc::max_datagram_size> buf{};
    std::vector<std::uint64_t> delivered;
    auto drain = [&] {
        while (auto t = client.poll_datagram(buf, now)) (void)server.handle_datagram({buf.data(), t->size}, ca, now);
        while (auto t = server.poll_datagram(buf, now)) {
            if (t->size > nc::max_datagram_size) __builtin_trap();
            (void)client.handle_datagram({buf.data(), t->size}, sa, now);
        }
        while (auto e = server.poll_event()) {
            if (e->kind == nc::event_kind::data) {
                if (!delivered.empty() && e->packet_number <= delivered.back()) __builtin_trap();
                delivered.push_back(e->packet_number);
            }
        }
        while (client.poll_event()) {
        }
    };
    (void)client.connect(now);
    for (int i = 0; i < 4; ++i) drain();
    if (!client.established() || !client.observer().tx) __builtin_trap();
    const std::uint64_t sid = client.session_id();
    // The client's next number: what it sent so far is HELLO3 only.
    std::uint64_t base = 0;
    {
        // Send one genuine DATA to learn the client's numbering from the server's delivery.
        (void)client.send_packet(nc::packet_type::data, nc::words("x"), now);
        while (client.poll_event()) {
        }
        drain();
        if (delivered.empty()) __builtin_trap();
        base = delivered.back() + 1;
    }

    reader r{data, size};
    neutrino::seeded_random rnd(3);
    while (r.n > 0) {
        const std::uint8_t op = r.u8();
        if (op % 8 == 7) {  // time passes, timers run
            now += std::chrono::milliseconds(r.u8() * 4);
            if (auto d = server.deadline(); d && *d <= now) server.handle_deadline(now);
            drain();
            continue;
        }
        static constexpr nc::packet_type types[] = {nc::packet_type::data, nc::packet_type::keep_alive,
                                                    nc::packet_type::request_retransmission,
                                                    nc::packet_type::data};
        const nc::packet_type type = types[op % 4];
        std::uint64_t pn = base + (r.u8() % 64);
        if (op & 0x10) pn = r.u64();
        if (type == nc::packet_type::request_retransmission) pn = nc::packet_number_none;
        std::array<std::byte, 8> w0{}, w1{};
        neutrino::store_le(w0.data(), r.u64());
        neutrino::store_le(w1.data(), (op & 0x20) ? r.u64() : base + r.u8());
        std::array<nc::word, 2> ws{nc::word(w0), nc::word(w1)};
        const std::size_t count = type == nc::packet_type::keep_alive ? 2 : 1;
        auto n = nc::wire::v2::seal(buf, type, sid, pn, 0, {ws.data(), count}, 0, *client.observer().tx, rnd);
        if (!n) continue;
        (void)server.handle_datagram({buf.data(), *n}, ca, now);
        if (server.unacknowledged(sid) > rc.send_window + 16) __builtin_trap();
        while (auto t = server.poll_datagram(buf, now)) {
            if (t->size > nc::max_datagram_size) __builtin_trap();
        }
        while (auto e = server.poll_event()) {
            if (e->kind == nc::event_kind::data) {
                if (!delivered.empty() && e->packet_number <= delivered.back()) __builtin_trap();
                delivered.push_back(e->packet_number);
            }
        }
    }
    return 0;
}
