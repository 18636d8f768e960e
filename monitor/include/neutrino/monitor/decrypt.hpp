#pragma once
/// \file
/// Decryption of captures with a key log (`neutrino-monitor decrypt`). Debian's tshark 4.0 Lua
/// has no cipher API, so the capture is decrypted first and the dissector reads the result.
///
/// Output format: every input packet is copied, on an interface like its own. Each Neutrino v2
/// datagram that opens with a session key from the key log (or from Decryption Secrets Blocks
/// of type `pcapng::secrets_neutrino_key_log` in the input) is replaced by a raw IP/UDP packet
/// with the same addresses whose payload is
///
///     clear header (14) ‖ "NTRPLAIN" (8, `decrypted_marker`) ‖ protected part (plaintext:
///     pn u64 LE, keyword u32 LE, words, padding)
///
/// on an extra LINKTYPE_RAW interface "neutrino-decrypted", with a packet comment naming the
/// key and the original size. The clear HELLO1 is copied unchanged.

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

struct decrypt_stats {
    std::uint64_t packets = 0;      ///< packet records read
    std::uint64_t neutrino = 0;     ///< of which Neutrino v2 datagrams
    std::uint64_t decrypted = 0;
    std::uint64_t clear = 0;        ///< HELLO1: nothing to decrypt
    std::uint64_t no_key = 0;       ///< session not in the key log
    std::uint64_t failed = 0;       ///< key present, authentication failed
    std::uint64_t bad_records = 0;  ///< problems reported by the reader
    std::vector<std::string> problems;  ///< one clear message per bad record (capped at 1000)
};

/// Decrypts capture `in` into `out` with `keys` (plus the secrets embedded in `in`). Never
/// throws for bad input: problems are described in the result and reading goes on.
[[nodiscard]] decrypt_stats decrypt_capture(std::span<const std::byte> in, key_log keys,
                                            pcapng_writer& out);

}  // namespace neutrino::monitor
