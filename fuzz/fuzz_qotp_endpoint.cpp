// Fuzz target: the QOTP endpoint and connection machines (neutrino::qotp::endpoint) fed
// arbitrary datagrams while one live connection exists.
// Setup per input (deterministic keys): a client and a server endpoint complete a 1-RTT
// handshake and exchange a little data.
// Input: records of [flags u8][length u16 LE][datagram]; flags bit 0 picks the receiving
// endpoint (0 server, 1 client), bits 1..3 the source address (0 = the real peer), bits 4..7
// advance virtual time by that many 10 ms steps. After each record both endpoints are polled
// and what they send is delivered to the other side when addressed to it.
// Properties: nothing crashes or throws; the live connection survives with its keys (a forged
// init message never replaces them); half-open connections stay within the limit.
// spec: qotp.md §4.7, §4.8, §7, §8, §24

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "neutrino/qotp/endpoint.hpp"
#include "neutrino/qotp/key_source.hpp"

namespace {

namespace qotp = neutrino::qotp;
using namespace std::chrono_literals;

qotp::address address_of(std::uint8_t n) { return neutrino::peer_address::opaque({n}, 1); }

struct world {
    qotp::deterministic_key_source client_keys{1};
    qotp::deterministic_key_source server_keys{2};
    qotp::endpoint client;
    qotp::endpoint server;
    qotp::time_point now = qotp::time_point{} + 1h;
    std::vector<std::byte> buffer = std::vector<std::byte>(65535);
    qotp::connection_id id;

    static qotp::endpoint_config config() {
        qotp::endpoint_config c;
        c.max_half_open = 4;
        c.max_connections = 8;
        c.connection.rotation_start = 8;  // reach the key-update code with few packets
        c.connection.rotation_deadline = 4096;
        return c;
    }

    world()
        : client(config(), client_keys, client_keys.generate()),
          server(config(), server_keys, server_keys.generate()) {}

    // Delivers everything both sides want to send, a bounded number of rounds.
    void exchange() {
        for (int round = 0; round < 8; ++round) {
            bool any = false;
            while (auto d = client.poll_datagram(buffer, now)) {
                any = true;
                if (d->to == address_of(2)) {
                    const std::vector<std::byte> copy(buffer.begin(),
                                                      buffer.begin() + static_cast<long>(d->size));
                    (void)server.handle_datagram(copy, address_of(1), now);
                }
            }
            while (auto d = server.poll_datagram(buffer, now)) {
                any = true;
                if (d->to == address_of(1)) {
                    const std::vector<std::byte> copy(buffer.begin(),
                                                      buffer.begin() + static_cast<long>(d->size));
                    (void)client.handle_datagram(copy, address_of(2), now);
                }
            }
            while (server.poll_event()) {
            }
            while (client.poll_event()) {
            }
            if (!any) break;
        }
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    world w;
    w.id = *w.client.connect(address_of(2), w.now);
    const std::array<std::byte, 100> hello{};
    (void)w.client.find(w.id)->send(hello);
    w.exchange();
    auto* live = w.server.find(w.id);
    if (live == nullptr || live->phase() != qotp::phase::ready) std::abort();
    const qotp::public_key peer_key = live->peer_ephemeral();

    std::size_t pos = 0;
    while (pos + 3 <= size) {
        const std::uint8_t flags = data[pos];
        const std::size_t len = data[pos + 1] | (std::size_t{data[pos + 2]} << 8);
        pos += 3;
        const std::size_t n = std::min(len, size - pos);
        const auto datagram = std::span(reinterpret_cast<const std::byte*>(data + pos), n);
        pos += n;
        w.now += (flags >> 4) * 10ms;
        const auto from_index = static_cast<std::uint8_t>((flags >> 1) & 7);
        if ((flags & 1) == 0) {
            (void)w.server.handle_datagram(
                datagram, from_index == 0 ? address_of(1) : address_of(10 + from_index), w.now);
        } else {
            (void)w.client.handle_datagram(
                datagram, from_index == 0 ? address_of(2) : address_of(10 + from_index), w.now);
        }
        w.client.handle_deadline(w.now);
        w.server.handle_deadline(w.now);
        w.exchange();
        if (w.server.half_open() > 4) std::abort();
    }
    // At most 15 × 10 ms per record: far from the 30 s idle timeout for short inputs; only then
    // must the live connection still be there with its keys.
    if (w.now - (qotp::time_point{} + 1h) < 20s) {
        auto* c = w.server.find(w.id);
        if (c == nullptr || c->peer_ephemeral() != peer_key) std::abort();
    }
    return 0;
}
