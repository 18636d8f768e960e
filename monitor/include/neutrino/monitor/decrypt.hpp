#pragma once
/// \file
/// Decryption of captures with a key log (`neutrino-monitor decrypt`). Debian's tshark 4.0 Lua
/// has no cipher API, so the capture is decrypted first and the dissector reads the result.
///
/// Output format: every input packet is copied, on an interface like its own. Each Neutrino v2
/// or v3 transport datagram that opens with a session key from the key log (or from Decryption
/// Secrets Blocks of type `pcapng::secrets_neutrino_key_log` in the input) is replaced by a raw
/// IP/UDP packet with the same addresses whose payload is
///
///     clear header (14) ‖ "NTRPLAIN" (8, `decrypted_marker`) ‖ pn u64 LE ‖ keyword u32 LE ‖
///     words ‖ padding
///
/// (v2: the protected part as sealed; v3: the clear pn field, then the plaintext; the v3 type
/// byte keeps its key-phase bit) on an extra LINKTYPE_RAW interface "neutrino-decrypted", with
/// a packet comment naming the key (v3: and its phase) and the original size. Handshake
/// datagrams are copied unchanged: the v2 HELLO1 (clear) and the v3 HELLO1, HELLO2 and
/// COOKIE_REPLY (their payloads need the Noise handshake's state, not the transport keys).
///
/// v3 key phases (neutrino-v3.md §11): the key log holds phase 0; `k[p+1] = REKEY(k[p])` per
/// direction. Per session and direction the decryptor follows the phases as a receiver does
/// (the phase bit selects current or next, then previous) and looks two phases further ahead,
/// so captures taken on either side, across any number of key updates, decrypt.
///
/// QOTP (qotp.md §3–§6, §19), told apart by its type byte (low 5 bits zero, type 0–4; never
/// Neutrino's first byte 0x0c) and the sizes of §4.6: a datagram whose connection id has
/// secrets in the key log (`QOTP_SHARED_SECRET` S, `QOTP_SHARED_SECRET_ID` S0) and opens with
/// them becomes, on the same decrypted interface,
///
///     clear header (the AAD as sent: 73 InitRcv, 65 InitCryptoSnd, 41 InitCryptoRcv, 9 Data)
///     ‖ "QOTPLAIN" (8, `qotp_decrypted_marker`) ‖ sn u48 LE (6, decrypted)
///     ‖ transport payload (§9, plaintext; InitCryptoSnd: without fillLen and filler)
///
/// with a comment naming the secret, the direction and the original size. As §19's decryptor:
/// InitRcv, InitCryptoRcv under S (sent by the responder), InitCryptoSnd under S0 (initiator),
/// Data under S in either direction. InitSnd is clear and copied. Rotated keys (§8) are not in
/// key logs, so Data after a key rotation cannot be opened: it counts as failed.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "neutrino/monitor/key_log.hpp"
#include "neutrino/monitor/pcapng_writer.hpp"

namespace neutrino::monitor {

inline constexpr std::string_view decrypted_marker = "NTRPLAIN";
inline constexpr std::string_view qotp_decrypted_marker = "QOTPLAIN";

struct decrypt_stats {
    std::uint64_t packets = 0;      ///< packet records read
    std::uint64_t neutrino = 0;     ///< of which Neutrino datagrams (v2 or v3)
    std::uint64_t v3 = 0;           ///< of those, wire v3
    std::uint64_t decrypted = 0;
    std::uint64_t clear = 0;        ///< handshake datagrams: not decrypted (see above)
    std::uint64_t max_phase = 0;    ///< v3: the highest key phase that opened a packet
    std::uint64_t no_key = 0;       ///< session not in the key log
    std::uint64_t failed = 0;       ///< key present, authentication failed
    std::uint64_t bad_records = 0;  ///< problems reported by the reader
    std::uint64_t qotp = 0;         ///< not Neutrino, but a QOTP type byte and size
    std::uint64_t qotp_decrypted = 0;
    std::uint64_t qotp_clear = 0;       ///< InitSnd: nothing to decrypt
    std::uint64_t qotp_no_key = 0;      ///< connection id not in the key log
    std::uint64_t qotp_failed = 0;      ///< secrets present, none opens it (e.g. rotated keys)
    std::vector<std::string> problems;  ///< one clear message per bad record (capped at 1000)
};

/// Decrypts capture `in` into `out` with `keys` (plus the secrets embedded in `in`). Never
/// throws for bad input: problems are described in the result and reading goes on.
[[nodiscard]] decrypt_stats decrypt_capture(std::span<const std::byte> in, key_log keys,
                                            pcapng_writer& out);

}  // namespace neutrino::monitor
