#pragma once
// Shared pieces of the extended layer's tests: the stack types over the v2 core with seeded
// randomness, a two-peer harness on the inspector's simulator (virtual time), and message
// content derived from (stream, index) so receivers check bytes without keeping copies.

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <system_error>
#include <vector>

#include "neutrino/extended/client.hpp"
#include "neutrino/extended/server.hpp"
#include "neutrino/inspector/simulator.hpp"
#include "reliable_support.hpp"

namespace neutrino::extended_test {

namespace nc = neutrino::core;
namespace nr = neutrino::reliable;
namespace ne = neutrino::extended;
namespace ni = neutrino::inspector;
using reliable_test::client_cfg;
using reliable_test::fill_message;
using reliable_test::mix;
using reliable_test::server_cfg;
using reliable_test::test_seed;

using client_t = ne::basic_client<reliable_test::client_t>;
using server_t = ne::basic_server<reliable_test::server_t>;

/// Checks the messages one side receives against the stream it expects, in order.
struct message_check {
    message_check(std::uint64_t s, std::vector<std::size_t> z) : stream(s), sizes(std::move(z)) {}
    std::uint64_t stream = 0;
    std::vector<std::size_t> sizes;  // one word of this size per message
    std::size_t received = 0;
    std::size_t mismatches = 0;
    std::size_t failures = 0;  // message_failed events
    std::optional<std::error_code> closed;
    std::vector<std::byte> expect;

    void on_event(const ne::event& e) {
        if (e.kind == ne::event_kind::message_failed) {
            ++failures;
            ADD_FAILURE() << "stream " << stream << ": message_failed " << e.reason.message();
        }
        if (e.kind == ne::event_kind::closed && !closed) closed = e.reason;
        if (e.kind != ne::event_kind::message) return;
        if (received >= sizes.size()) {
            ++mismatches;
            return;
        }
        fill_message(expect, stream, received, sizes[received]);
        const bool ok = e.words.size() == 1 && (*e.words.begin()).size() == expect.size() &&
                        std::equal((*e.words.begin()).begin(), (*e.words.begin()).end(), expect.begin());
        if (!ok && mismatches++ < 5) ADD_FAILURE() << "stream " << stream << ": message " << received << " differs";
        ++received;
    }
    [[nodiscard]] bool done() const noexcept { return received == sizes.size(); }
};

/// A client and a server on the simulator, established.
struct pair {
    explicit pair(ni::simulator_config sc = {}, ne::config ecfg = {}, nr::config rcfg = {},
                  std::uint64_t seed = test_seed(500))
        : client(client_cfg(), ecfg, rcfg, nc::null_observer{}, neutrino::seeded_random(seed + 1)),
          server(server_cfg(), ecfg, rcfg, nc::null_observer{}, neutrino::seeded_random(seed + 2)),
          sim(client, neutrino::test::client_address, server, neutrino::test::server_address, std::move(sc)) {
        sim.on_a_event = [this](const ne::event& e) {
            if (on_client) on_client(e);
        };
        sim.on_b_event = [this](const ne::event& e) {
            if (on_server) on_server(e);
        };
        EXPECT_TRUE(client.connect(sim.now()));
        established = sim.run_until([&] { return client.established() && server.state_of(client.session_id()) ==
                                                                                nc::session_state::established; },
                                    std::chrono::seconds(60));
    }
    client_t client;
    server_t server;
    ni::simulator<client_t, server_t> sim;
    std::function<void(const ne::event&)> on_client, on_server;
    bool established = false;
};

/// Sends messages of `sizes` (stream `stream`) through `send(words) → result<void>` as fast as
/// the layer takes them; call `pump` after each simulator step.
struct message_source {
    message_source(std::uint64_t s, std::vector<std::size_t> z) : stream(s), sizes(std::move(z)) {}
    std::uint64_t stream = 0;
    std::vector<std::size_t> sizes;
    std::size_t next = 0;
    std::vector<std::byte> buf;

    template <class Send>
    void pump(Send&& send) {
        while (next < sizes.size()) {
            fill_message(buf, stream, next, sizes[next]);
            const nc::word w(buf);
            auto r = send(nc::word_list(&w, 1));
            if (!r) {
                if (r.error() != make_error_code(nc::errc::would_block)) {
                    ADD_FAILURE() << "send: " << r.error().message();
                    next = sizes.size();
                }
                return;
            }
            ++next;
        }
    }
};

}  // namespace neutrino::extended_test
