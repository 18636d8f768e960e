// bbr on the paths of issue 13 (the one-flow bottleneck model of path_model.hpp, drop-tail
// buffer of one BDP, 60 simulated seconds, measured after the first 5): utilisation, standing
// queue, and random loss.
#include "neutrino/congestion/bbr.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "path_model.hpp"

namespace {

using neutrino::time_point;
using neutrino::congestion::bbr;
using neutrino::congestion::bbr_config;
using std::chrono::milliseconds;
using std::chrono::seconds;
namespace pm = neutrino::congestion::test;

constexpr time_point t0 = time_point{} + seconds{100};

struct path_case {
    double mbps;
    int rtt_ms;
    double loss;
    double min_utilisation;
    double max_rtt_ratio;  ///< mean RTT / base RTT
};

class bbr_path : public ::testing::TestWithParam<path_case> {};

}  // namespace

TEST_P(bbr_path, fills_the_bottleneck_without_a_standing_queue) {
    const auto pc = GetParam();
    const pm::path p = pm::one_bdp_path(pc.mbps, milliseconds{pc.rtt_ms}, pc.loss, 7);
    bbr c(bbr_config{}, t0);
    pm::path_model<bbr> m(c, p);
    const auto st = m.run(t0, t0 + seconds{60}, t0 + seconds{5});
    const double utilisation = static_cast<double>(st.delivered_bytes) / 55.0 / p.rate_bytes_per_s;
    const double rtt_ratio = st.mean_rtt_s() * 1000.0 / pc.rtt_ms;
    std::printf("bbr %g Mbit/s x %d ms, %.0f%% loss: utilisation %.3f, mean RTT %.2f x base, lost %llu\n",
                pc.mbps, pc.rtt_ms, pc.loss * 100, utilisation, rtt_ratio,
                static_cast<unsigned long long>(st.lost));
    EXPECT_GE(utilisation, pc.min_utilisation);
    EXPECT_LE(utilisation, 1.0001);
    EXPECT_LE(rtt_ratio, pc.max_rtt_ratio);
}

INSTANTIATE_TEST_SUITE_P(issue13, bbr_path,
                         ::testing::Values(path_case{100, 40, 0.0, 0.90, 1.25}, path_case{20, 40, 0.0, 0.90, 1.25},
                                           path_case{100, 200, 0.0, 0.90, 1.25},
                                           // Issue 13 asks ≥ 80% at 1% random loss. With the
                                           // draft's loss response (bw_lo and inflight_lo cut on
                                           // any lossy round) 0.64 at 100 Mbit/s; cut only while
                                           // the ~4-round loss rate is above LossThresh
                                           // (bbr.hpp's deviation) 0.87.
                                           path_case{100, 40, 0.01, 0.80, 1.25},
                                           path_case{20, 40, 0.01, 0.80, 1.25}));
