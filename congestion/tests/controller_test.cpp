#include "neutrino/congestion/controller.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <type_traits>

#include "neutrino/congestion/bbr.hpp"
#include "neutrino/congestion/cubic.hpp"
#include "neutrino/congestion/fixed_window.hpp"

namespace {

using neutrino::time_point;
using neutrino::congestion::ack_sample;
using neutrino::congestion::congestion_controller;
using neutrino::congestion::loss_sample;
using std::chrono::milliseconds;

// The weakest model of the concept (an archetype): generic code that compiles against it uses
// nothing beyond the concept. Inputs return nothing, outputs are const.
struct congestion_controller_archetype {
    void on_sent(std::size_t, time_point) noexcept {}
    void on_acknowledged(const ack_sample&) noexcept {}
    void on_lost(const loss_sample&) noexcept {}
    void on_persistent_congestion(time_point) noexcept {}
    void on_idle_restart(time_point) noexcept {}
    [[nodiscard]] std::size_t window() const noexcept { return 0; }
    [[nodiscard]] double pacing_rate() const noexcept { return 0.0; }
    [[nodiscard]] bool can_send(std::size_t, time_point) const noexcept { return false; }
};
static_assert(congestion_controller<congestion_controller_archetype>);

// Every model.
static_assert(congestion_controller<neutrino::congestion::fixed_window>);

// What the concept rejects: a throwing input, an output of the wrong type, a non-const output.
struct throwing_on_lost : congestion_controller_archetype {
    void on_lost(const loss_sample&) {}
};
static_assert(!congestion_controller<throwing_on_lost>);
struct int_window : congestion_controller_archetype {
    [[nodiscard]] int window() const noexcept { return 0; }
};
static_assert(!congestion_controller<int_window>);
struct mutable_can_send : congestion_controller_archetype {
    bool can_send(std::size_t, time_point) noexcept { return true; }
};
static_assert(!congestion_controller<mutable_can_send>);
struct no_idle_restart {
    void on_sent(std::size_t, time_point) noexcept {}
    void on_acknowledged(const ack_sample&) noexcept {}
    void on_lost(const loss_sample&) noexcept {}
    void on_persistent_congestion(time_point) noexcept {}
    [[nodiscard]] std::size_t window() const noexcept { return 0; }
    [[nodiscard]] double pacing_rate() const noexcept { return 0.0; }
    [[nodiscard]] bool can_send(std::size_t, time_point) const noexcept { return false; }
};
static_assert(!congestion_controller<no_idle_restart>);

// A sender's loop written against the concept alone: sends datagrams of `size` bytes while the
// controller allows (at most 1000), then has them all acknowledged. Returns how many were sent.
template <congestion_controller C>
std::size_t send_round(C& c, std::size_t size, time_point now) {
    constexpr std::size_t limit = 1000;
    std::size_t in_flight = 0;
    std::size_t sent = 0;
    while (sent < limit && c.can_send(in_flight, now)) {
        c.on_sent(size, now);
        in_flight += size;
        ++sent;
    }
    c.on_acknowledged(ack_sample{.bytes = in_flight, .rtt = milliseconds{20}, .now = now});
    return sent;
}

constexpr time_point t0 = time_point{} + std::chrono::seconds{100};

}  // namespace

TEST(congestion_controller, generic_sender_accepts_archetype_and_models) {
    congestion_controller_archetype a;
    EXPECT_EQ(send_round(a, 1280, t0), 0U);
    auto w = neutrino::congestion::fixed_window::packets(8, 1280);
    EXPECT_EQ(send_round(w, 1280, t0), 8U);
    EXPECT_EQ(send_round(w, 1280, t0 + milliseconds{20}), 8U);  // the window is reusable
}

TEST(congestion_controller, ack_sample_defaults_mean_unknown) {
    ack_sample s;
    EXPECT_EQ(s.bytes, 0U);
    EXPECT_EQ(s.rtt, neutrino::duration::zero());
    EXPECT_EQ(s.delivery_rate_bytes_per_s, 0.0);
    EXPECT_FALSE(s.app_limited);
    EXPECT_EQ(s.now, time_point{});
    EXPECT_EQ(s.bytes_in_flight, 0U);
}

// One construction convention: every model takes the sender's limits (a sender builds any
// controller the same way), each reading what applies to it.
TEST(congestion_controller, every_model_is_built_from_the_senders_limits) {
    using namespace neutrino::congestion;
    const sender_limits limits{.max_datagram_size = 1000, .maximum_window = 50'000};
    static_assert(std::is_constructible_v<fixed_window, sender_limits>);
    static_assert(std::is_constructible_v<cubic, sender_limits>);
    static_assert(std::is_constructible_v<bbr, sender_limits>);
    static_assert(!std::is_constructible_v<congestion_controller_archetype, sender_limits>);
    EXPECT_EQ(fixed_window(limits).window(), 50'000U);       // the whole buffer
    EXPECT_EQ(cubic(limits).window(), 10U * 1000U);          // RFC 9002's 10 datagrams
    EXPECT_EQ(bbr(limits).window(), 10U * 1000U);            // the draft's InitialCwnd
    // cubic never grows past the sender's buffer: slow start on acknowledgements of everything
    cubic c(limits);
    const time_point t0{};
    for (int i = 0; i < 200; ++i) {
        ack_sample s;
        s.bytes = 1000;
        s.rtt = milliseconds(10);
        s.now = t0 + milliseconds(i);
        s.sent = s.now - milliseconds(10);
        s.bytes_in_flight = c.window();  // window-limited, so it may grow
        c.on_acknowledged(s);
    }
    EXPECT_EQ(c.window(), 50'000U);
    // a buffer smaller than the initial window does not shrink it below that
    EXPECT_EQ(cubic(sender_limits{.max_datagram_size = 1000, .maximum_window = 2000}).window(), 10U * 1000U);
}
