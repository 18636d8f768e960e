// Fuzz target: an established basic_client<wire::v2, null_observer, seeded_random>.
//
// Byte 0 picks padding and limits (see harness.hpp); a genuine handshake with a real
// basic_server establishes the session. Then one operation per step until the input ends:
//   0 raw datagram      u16 length (≤ 1400), bytes, u8 source: the server's address or one
//                       of the four others → client
//   1 server DATA       server.send(words) to the session; mutate; deliver from a source
//   2 replay            a recorded genuine server datagram (HELLO2, KEEP_ALIVE, DATA, …),
//                       mutated, from a source
//   3 time              u8 delay (ms, or ×64 ms when the top bit is set), timers run
//   4 client DATA       client.send(words) through the router
//   5 client close      6 client connect (a new handshake: a held HELLO2 makes it pend)
//   7 server drop       drop_session (the client times out and redials) or rarely shutdown
//   8 router            toggle delivery client→server / server→client
// Every client call is checked by the harness invariants; any breach is __builtin_trap.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "harness.hpp"

using namespace neutrino::fuzz;

namespace {
const neutrino::peer_address& source(std::uint8_t b) {
    // half the time the server's own address, so the datagram gets past the peer check
    return (b & 1) ? server_addr : addrs[(b >> 1) % 4];
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    reader in(data, size);
    world w(in.u8());
    w.handshake();
    std::vector<bytes> store;
    for (int step = 0; step < 256 && !in.empty(); ++step) {
        const std::uint8_t op = in.u8();
        switch (op % 9) {
            case 0: {
                const std::size_t n = in.u16() % 1401;
                const bytes d = in.take(n);
                w.feed_client(d, source(in.u8()));
                break;
            }
            case 1: {
                const auto words = words_from(in, store);
                (void)w.server().send(w.client().session_id(), words, w.now());
                for (bytes d : w.take_server_output()) {
                    mutate(d, in);
                    w.feed_client(d, source(in.u8()));
                }
                break;
            }
            case 2: {
                if (w.s2c_history.empty()) break;
                bytes d = w.s2c_history[in.u8() % w.s2c_history.size()];
                mutate(d, in);
                w.feed_client(d, source(in.u8()));
                break;
            }
            case 3: w.advance(delay_from(in.u8())); break;
            case 4: {
                const auto words = words_from(in, store);
                (void)w.client().send(words, w.now());
                break;
            }
            case 5: w.client().close(w.now()); break;
            case 6: (void)w.client().connect(w.now()); break;
            case 7:
                if (op >= 0xF0) {
                    w.server().shutdown(w.now());
                } else {
                    w.server().drop_session(w.client().session_id(), w.now());
                }
                break;
            case 8:
                if (op & 0x80) {
                    w.deliver_c2s = !w.deliver_c2s;
                } else {
                    w.deliver_s2c = !w.deliver_s2c;
                }
                break;
            default: break;
        }
        w.pump();
    }
    return 0;
}
