#pragma once
// Dialects for tests and fuzz targets that drive the core machines' layered paths with no layer
// above: the declarations reliable::wire_dialect and extended::wire_dialect make, repeated so
// that core's tests need no upper module. reliable's and extended's tests check that these
// copies equal the originals.

#include "neutrino/core/dialect.hpp"

namespace neutrino::test {

/// As reliable::wire_dialect: KEEP_ALIVE = two u64 words, answered above; retransmissions.
inline constexpr core::dialect layered_dialect{.id = 1, .layered = true, .keep_alive_u64_words = 2};
/// As extended::wire_dialect: layered_dialect with DATA payloads passed up raw.
inline constexpr core::dialect raw_dialect{
    .id = 2, .layered = true, .keep_alive_u64_words = 2, .raw_data = true};

}  // namespace neutrino::test
