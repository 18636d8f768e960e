#pragma once
// Shared pieces of the reliable layer's tests: the machine types, their configurations, the
// run's seed (printed once, replayed with NEUTRINO_TEST_SEED=<n>), and message generation.

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "neutrino/core/client.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/reliable/client.hpp"
#include "neutrino/reliable/server.hpp"
#include "test_seed.hpp"
#include "test_support.hpp"

namespace neutrino::reliable_test {

namespace nc = neutrino::core;
namespace nr = neutrino::reliable;

using core_client = nc::basic_client<nc::wire::v2, nc::null_observer, seeded_random>;
using core_server = nc::basic_server<nc::wire::v2, nc::null_observer, seeded_random>;
using client_t = nr::basic_client<core_client>;
using server_t = nr::basic_server<core_server>;

inline nc::client_config client_cfg() { return test::basic_pair<>::client_cfg(); }
inline nc::server_config server_cfg() { return test::basic_pair<>::server_cfg(); }

// The run's seed (tests/support/test_seed.hpp): NEUTRINO_TEST_SEED=<n> replays it.
using test::base_seed;
using test::test_seed;

/// SplitMix64 step: small, seedable, the same everywhere.
inline std::uint64_t mix(std::uint64_t& s) {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/// Message `i` of a stream: one word of `size` bytes whose content depends on (stream, i), so
/// a receiver can check it without a copy.  One word of n bytes encodes to n + 3 bytes, so a
/// word of up to 1211 bytes fills a DATA packet (1214 encoded bytes, spec: neutrino.md §6.6).
inline void fill_message(std::vector<std::byte>& out, std::uint64_t stream, std::uint64_t i,
                         std::size_t size) {
    out.resize(size);
    std::uint64_t s = stream * 0x100000001b3ULL + i;
    std::uint64_t v = 0;
    for (std::size_t k = 0; k < size; ++k) {
        if (k % 8 == 0) v = mix(s);
        out[k] = static_cast<std::byte>(v >> (8 * (k % 8)));
    }
}

inline constexpr std::size_t max_word = 1211;

}  // namespace neutrino::reliable_test
