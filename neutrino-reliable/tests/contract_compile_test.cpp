// Compile-time test of the layer-to-layer contract (neutrino/core/connection_layer.hpp): the
// reliable client and server, explicitly instantiated (every member, not only those a test
// calls) over the weakest models of core::client_connection / core::server_connection, use
// nothing of the core beyond the concepts.

#include <gtest/gtest.h>

#include "connection_archetype.hpp"
#include "neutrino/core/dual_server.hpp"
#include "neutrino/core/v3/client.hpp"
#include "neutrino/core/v3/server.hpp"
#include "neutrino/reliable/client.hpp"
#include "neutrino/reliable/server.hpp"

template class neutrino::reliable::basic_client<neutrino::test::client_connection_archetype>;
template class neutrino::reliable::basic_server<neutrino::test::server_connection_archetype>;

namespace {

namespace nc = neutrino::core;
namespace nr = neutrino::reliable;
using neutrino::test::client_connection_archetype;
using neutrino::test::server_connection_archetype;

// Every core machine a reliable layer runs on models the contract (each header asserts it too).
static_assert(nc::client_connection<nc::client>);
static_assert(nc::client_connection<nc::v3::client>);
static_assert(nc::server_connection<nc::server>);
static_assert(nc::server_connection<nc::v3::server>);
static_assert(nc::server_connection<nc::dual_server>);

// The reliable layers over the archetypes are layers in their own right.
static_assert(neutrino::datagram_layer<nr::basic_client<client_connection_archetype>>);
static_assert(neutrino::datagram_layer<nr::basic_server<server_connection_archetype>>);

// A datagram layer alone is not enough: a client is not a server, nor the reverse.
static_assert(!nc::server_connection<client_connection_archetype>);
static_assert(!nc::client_connection<server_connection_archetype>);

TEST(contract, archetypes_model_the_concepts) {
    EXPECT_TRUE(nc::client_connection<client_connection_archetype>);
    EXPECT_TRUE(nc::server_connection<server_connection_archetype>);
}

}  // namespace
