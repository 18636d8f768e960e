#include "neutrino/core/connection_layer.hpp"

#include <gtest/gtest.h>

#include "connection_archetype.hpp"
#include "neutrino/core/client.hpp"
#include "neutrino/core/dual_server.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/core/v3/client.hpp"
#include "neutrino/core/v3/server.hpp"

namespace {

namespace nc = neutrino::core;
using neutrino::test::client_connection_archetype;
using neutrino::test::server_connection_archetype;

// Every machine a layer above runs on, with any policies, models its role's contract.
static_assert(nc::client_connection<nc::client>);
static_assert(nc::client_connection<nc::v3::client>);
static_assert(nc::client_connection<
              nc::basic_client<nc::wire::v2, nc::null_observer, neutrino::seeded_random>>);
static_assert(nc::server_connection<nc::server>);
static_assert(nc::server_connection<nc::v3::server>);
static_assert(nc::server_connection<nc::dual_server>);

// A role's contract is not the other's.
static_assert(!nc::client_connection<nc::server>);
static_assert(!nc::server_connection<nc::client>);

// Each requirement counts: one member less, and the type no longer models the concept.
struct client_without_receive_limit : client_connection_archetype {
    void set_receive_limit() = delete;  // hides the archetype's member
};
static_assert(!nc::client_connection<client_without_receive_limit>);

struct server_with_a_throwing_query : server_connection_archetype {
    [[nodiscard]] nc::session_state state_of(std::uint64_t) const {
        return nc::session_state::none;
    }
};
static_assert(!nc::server_connection<server_with_a_throwing_query>);

TEST(connection_layer, archetypes_model_the_concepts) {
    EXPECT_TRUE(nc::client_connection<client_connection_archetype>);
    EXPECT_TRUE(nc::server_connection<server_connection_archetype>);
}

}  // namespace
