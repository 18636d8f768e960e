#include "neutrino/datagram_layer.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <optional>
#include <span>

#include "neutrino/core/client.hpp"
#include "neutrino/core/server.hpp"
#include "test_support.hpp"

namespace {

// The weakest model of the concept (an archetype): generic code that compiles against it uses
// nothing beyond the concept.
struct archetype_layer {
    struct event_type {};
    neutrino::result<void> handle_datagram(std::span<const std::byte>, const neutrino::peer_address&,
                                           neutrino::time_point) {
        return {};
    }
    std::optional<neutrino::transmit> poll_datagram(std::span<std::byte>, neutrino::time_point) {
        return std::nullopt;
    }
    std::optional<event_type> poll_event() { return std::nullopt; }
    [[nodiscard]] std::optional<neutrino::time_point> deadline() const { return std::nullopt; }
    void handle_deadline(neutrino::time_point) {}
};
static_assert(neutrino::datagram_layer<archetype_layer>);

// An upper layer is a template over the layer below that owns it and hands it out through
// next_layer(); this one counts what crosses it in each direction and forwards everything.
template <neutrino::datagram_layer Next>
class counting_layer {
public:
    using event_type = typename Next::event_type;

    template <class... Args>
    explicit counting_layer(Args&&... args) : next_(std::forward<Args>(args)...) {}

    Next& next_layer() noexcept { return next_; }

    neutrino::result<void> handle_datagram(std::span<const std::byte> in,
                                           const neutrino::peer_address& from, neutrino::time_point now) {
        ++in_;
        return next_.handle_datagram(in, from, now);
    }
    std::optional<neutrino::transmit> poll_datagram(std::span<std::byte> out, neutrino::time_point now) {
        auto t = next_.poll_datagram(out, now);
        if (t) ++out_;
        return t;
    }
    std::optional<event_type> poll_event() { return next_.poll_event(); }
    [[nodiscard]] std::optional<neutrino::time_point> deadline() const { return next_.deadline(); }
    void handle_deadline(neutrino::time_point now) { next_.handle_deadline(now); }

    std::size_t in_ = 0;
    std::size_t out_ = 0;

private:
    Next next_;
};

// Generic code written against the concept alone accepts the archetype and every real stack.
template <neutrino::datagram_layer L>
std::size_t drain(L& layer, neutrino::time_point now) {
    std::array<std::byte, neutrino::core::max_datagram_size> buf{};
    std::size_t n = 0;
    while (layer.poll_datagram(buf, now)) ++n;
    while (layer.poll_event()) {
    }
    return n;
}

namespace nc = neutrino::core;
using seeded_client = nc::basic_client<nc::wire::v2, nc::null_observer, neutrino::seeded_random>;
using seeded_server = nc::basic_server<nc::wire::v2, nc::null_observer, neutrino::seeded_random>;

// Stacks chosen at compile time.
static_assert(neutrino::datagram_layer<nc::client>);
static_assert(neutrino::datagram_layer<nc::server>);
static_assert(neutrino::datagram_layer<counting_layer<seeded_client>>);
static_assert(neutrino::datagram_layer<counting_layer<counting_layer<nc::server>>>);

}  // namespace

TEST(datagram_layer, archetype_works_with_generic_code) {
    archetype_layer a;
    EXPECT_EQ(drain(a, neutrino::time_point{}), 0U);
}

TEST(datagram_layer, stacked_layers_talk_over_the_memory_link) {
    using client_stack = counting_layer<seeded_client>;
    using server_stack = counting_layer<seeded_server>;
    using pair = neutrino::test::basic_pair<client_stack, server_stack>;
    pair p;
    ASSERT_TRUE(p.client.next_layer().connect(p.link.now()));
    ASSERT_TRUE(p.link.run_until([&] { return p.client.next_layer().established(); },
                                 std::chrono::seconds(1)));
    p.link.run_for(std::chrono::milliseconds(10));  // HELLO3 arrives
    EXPECT_EQ(p.server.next_layer().session_count(), 1U);
    EXPECT_EQ(p.client.out_, 2U);  // HELLO1, HELLO3
    EXPECT_EQ(p.server.in_, 2U);
    EXPECT_EQ(p.server.out_, 1U);  // HELLO2
}
