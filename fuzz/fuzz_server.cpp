// Fuzz target: basic_server<wire::v2, null_observer, seeded_random> fed datagrams.
//
// Each input is a program. Byte 0 picks padding and limits (see harness.hpp). A genuine
// handshake with a real basic_client then establishes one session, so the fuzz datagrams also
// reach the established-session code behind the AEAD. Then, until the input ends, one
// operation per step:
//   0 raw datagram      u16 length (≤ 1400), bytes, u8 address → server
//   1 client DATA       words; then mutate (0–3 edits) and deliver from an address
//   2 replay            a recorded genuine client datagram, mutated, from an address
//   3 HELLO1            a fresh 32-byte key from the input, mutated, from an address
//   4 time              u8 delay (ms, or ×64 ms when the top bit is set), timers run
//   5 client close      GOOD_BYE through the router; 6 client connect (a new handshake)
//   7 server → client   server.send(words) to the client's session, or send_to_all
//   8 drop/shutdown     server.drop_session (or rarely shutdown)
//   9 router            toggle delivery client→server / server→client
//  10 migrate           the client's genuine datagrams now come from another address
// Every server call is checked by the harness invariants; any breach is __builtin_trap.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "harness.hpp"

using namespace neutrino::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    reader in(data, size);
    world w(in.u8());
    w.handshake();
    std::vector<bytes> store;
    for (int step = 0; step < 256 && !in.empty(); ++step) {
        const std::uint8_t op = in.u8();
        switch (op % 11) {
            case 0: {
                const std::size_t n = in.u16() % 1401;
                const bytes d = in.take(n);
                w.feed_server(d, addrs[in.u8() % 4]);
                break;
            }
            case 1: {
                const auto words = words_from(in, store);
                (void)w.client().send(words, w.now());
                for (bytes d : w.take_client_output()) {
                    mutate(d, in);
                    w.feed_server(d, addrs[in.u8() % 4]);
                }
                break;
            }
            case 2: {
                if (w.c2s_history.empty()) break;
                bytes d = w.c2s_history[in.u8() % w.c2s_history.size()];
                mutate(d, in);
                w.feed_server(d, addrs[in.u8() % 4]);
                break;
            }
            case 3: {
                public_key pk{};
                const bytes k = in.take(key_size);
                std::copy(k.begin(), k.end(), pk.begin());
                bytes d(max_datagram_size);
                (void)wire::v2::write_hello1(d, pk);
                mutate(d, in);
                w.feed_server(d, addrs[in.u8() % 4]);
                break;
            }
            case 4: w.advance(delay_from(in.u8())); break;
            case 5: w.client().close(w.now()); break;
            case 6: (void)w.client().connect(w.now()); break;
            case 7: {
                const auto words = words_from(in, store);
                if (op & 0x80) {
                    (void)w.server().send_to_all(words, w.now());
                } else {
                    (void)w.server().send(w.client().session_id(), words, w.now());
                }
                break;
            }
            case 8:
                if (op >= 0xF0) {
                    w.server().shutdown(w.now());
                } else {
                    w.server().drop_session(w.client().session_id(), w.now());
                }
                break;
            case 9:
                if (op & 0x80) {
                    w.deliver_c2s = !w.deliver_c2s;
                } else {
                    w.deliver_s2c = !w.deliver_s2c;
                }
                break;
            case 10: w.client_addr = addrs[in.u8() % 4]; break;
            default: break;
        }
        w.pump();
    }
    return 0;
}
