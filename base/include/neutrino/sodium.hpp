#pragma once
/// \file
/// `ensure_sodium()`: libsodium's one-time initialisation, shared by every module that calls it.

namespace neutrino {

/// Initialises libsodium once per process (thread-safe; later calls are free). Throws
/// `std::runtime_error` only if libsodium cannot initialise at all (no entropy source), which
/// happens before any machine runs: constructors of keys and random sources call it.
void ensure_sodium();

}  // namespace neutrino
