#pragma once
// The seed of the inspector's randomized tests: printed once per run, replayed with
// NEUTRINO_TEST_SEED=<n>.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace neutrino::test {

inline std::uint64_t base_seed() {
    static const std::uint64_t seed = [] {
        const char* s = std::getenv("NEUTRINO_TEST_SEED");
        return s != nullptr ? std::strtoull(s, nullptr, 10) : std::uint64_t{20240601};
    }();
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
