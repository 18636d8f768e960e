#pragma once
// The seed of every randomized test, in one place: NEUTRINO_TEST_SEED=<n> (decimal, or hex
// with 0x) replays a run. Each test binary prints the seed it used once.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string_view>

namespace neutrino::test {

/// NEUTRINO_TEST_SEED, when set and a number.
inline std::optional<std::uint64_t> env_seed() {
    const char* s = std::getenv("NEUTRINO_TEST_SEED");
    if (s == nullptr || *s == '\0') return std::nullopt;
    const std::string_view v(s);
    const int base = v.starts_with("0x") || v.starts_with("0X") ? 16 : 10;
    char* end = nullptr;
    const std::uint64_t n = std::strtoull(s, &end, base);
    if (end == s || *end != '\0') return std::nullopt;
    return n;
}

/// NEUTRINO_TEST_SEED, else `fallback` (a fixed seed: the same run every time); printed once
/// per call site's `what`.
inline std::uint64_t env_seed_or(std::uint64_t fallback, const char* what) {
    const std::uint64_t seed = env_seed().value_or(fallback);
    std::printf("%s: NEUTRINO_TEST_SEED=%llu\n", what, static_cast<unsigned long long>(seed));
    return seed;
}

/// NEUTRINO_TEST_SEED, else a fresh random seed (a different run every time, printed so a
/// failure can be replayed).
inline std::uint64_t env_seed_or_random(const char* what) {
    std::random_device rd;
    const std::uint64_t seed = env_seed().value_or((std::uint64_t{rd()} << 32) | rd());
    std::printf("%s: NEUTRINO_TEST_SEED=%llu (set it to replay)\n", what, static_cast<unsigned long long>(seed));
    return seed;
}

/// The binary's base seed: NEUTRINO_TEST_SEED or 20240601.
inline std::uint64_t base_seed() {
    static const std::uint64_t seed = env_seed().value_or(20240601);
    return seed;
}

/// The run's seed plus `offset`, so that tests do not share one stream.
inline std::uint64_t test_seed(std::uint64_t offset = 0) { return base_seed() + offset; }

namespace detail {
struct seed_reporter : ::testing::Environment {
    void SetUp() override {
        std::printf("NEUTRINO_TEST_SEED=%llu\n", static_cast<unsigned long long>(base_seed()));
    }
};
inline ::testing::Environment* const seed_environment =
    ::testing::AddGlobalTestEnvironment(new seed_reporter);
}  // namespace detail

}  // namespace neutrino::test
