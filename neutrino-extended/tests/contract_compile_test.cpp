// Compile-time test of the layer-to-layer contract one level up
// (neutrino/reliable/connection_layer.hpp): the extended client and server, explicitly
// instantiated (every member) over the weakest models of reliable::client_connection /
// reliable::server_connection, use nothing of the reliable layer beyond the concepts; and the
// reliable layer over the core's archetypes models them.

#include <gtest/gtest.h>

#include "connection_archetype.hpp"
#include "neutrino/core/dual_server.hpp"
#include "neutrino/core/v3/client.hpp"
#include "neutrino/core/v3/server.hpp"
#include "neutrino/extended/client.hpp"
#include "neutrino/extended/server.hpp"
#include "reliable_connection_archetype.hpp"

template class neutrino::extended::basic_client<neutrino::test::reliable_client_archetype>;
template class neutrino::extended::basic_server<neutrino::test::reliable_server_archetype>;

namespace {

namespace nc = neutrino::core;
namespace nr = neutrino::reliable;
namespace ne = neutrino::extended;
using neutrino::test::reliable_client_archetype;
using neutrino::test::reliable_server_archetype;

// The reliable layer models the contract over every core machine.
static_assert(nr::client_connection<nr::basic_client<nc::client>>);
static_assert(nr::client_connection<nr::basic_client<nc::v3::client>>);
static_assert(nr::server_connection<nr::basic_server<nc::server>>);
static_assert(nr::server_connection<nr::basic_server<nc::v3::server>>);
static_assert(nr::server_connection<nr::basic_server<nc::dual_server>>);

// The extended layers over the archetypes are layers in their own right.
static_assert(neutrino::datagram_layer<ne::basic_client<reliable_client_archetype>>);
static_assert(neutrino::datagram_layer<ne::basic_server<reliable_server_archetype>>);

static_assert(!nr::server_connection<reliable_client_archetype>);
static_assert(!nr::client_connection<reliable_server_archetype>);

TEST(contract, extended_over_reliable_archetypes) {
    // The archetypes are constructible, so the extended layers over them are too.
    ne::basic_client<reliable_client_archetype> c{nc::client_config{}};
    ne::basic_server<reliable_server_archetype> s{nc::server_config{}};
    EXPECT_FALSE(c.established());
    EXPECT_EQ(s.session_count(), 0U);
}

}  // namespace
