#pragma once
// Shared fixtures for the core tests: a client and a server joined by a memory link.

#include <string>
#include <vector>

#include "neutrino/core/client.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/memory_link.hpp"

namespace neutrino::test {

inline core::keypair test_server_keys() {
    return *core::keypair_from_hex(core::example_public_key_hex, core::example_secret_key_hex);
}

inline std::vector<std::string> to_strings(const core::words_view& w) {
    std::vector<std::string> out;
    for (core::word x : w) out.emplace_back(core::as_string(x));
    return out;
}

inline const peer_address client_address = peer_address::v4({127, 0, 0, 1}, 40000);
inline const peer_address server_address = peer_address::v4({127, 0, 0, 1}, 22753);

// The observer a layer is built with in tests: its own observer type, else the null observer
// (for wrapper layers that forward their constructor arguments).
template <class L>
auto default_observer() {
    if constexpr (requires { typename L::observer_type; }) {
        return typename L::observer_type{};
    } else if constexpr (requires { typename L::next_layer_type; }) {
        return default_observer<typename L::next_layer_type>();
    } else {
        return core::null_observer{};
    }
}

template <class Client = core::basic_client<core::wire::v2, core::null_observer, seeded_random>,
          class Server = core::basic_server<core::wire::v2, core::null_observer, seeded_random>>
struct basic_pair {
    static core::client_config client_cfg() {
        core::client_config c;
        c.server_key = test_server_keys().pk;
        c.server = server_address;
        return c;
    }
    static core::server_config server_cfg() {
        core::server_config s;
        s.keys = test_server_keys();
        return s;
    }

    explicit basic_pair(std::uint64_t seed = 1)
        : client(client_cfg(), default_observer<Client>(), seeded_random(seed)),
          server(server_cfg(), default_observer<Server>(), seeded_random(seed + 1000)),
          link(client, client_address, server, server_address) {
        link.on_a_event = [this](const core::event& e) {
            client_events.push_back(e.kind);
            if (e.kind == core::event_kind::data) client_data.push_back(to_strings(e.words));
        };
        link.on_b_event = [this](const core::event& e) {
            server_events.push_back(e.kind);
            if (e.kind == core::event_kind::data) server_data.push_back(to_strings(e.words));
        };
    }

    bool connect() {
        if (!client.connect(link.now())) return false;
        return link.run_until([this] { return client.established() && server.session_count() == 1 &&
                                              server.state_of(client.session_id()) ==
                                                  core::session_state::established; },
                              std::chrono::seconds(10));
    }

    Client client;
    Server server;
    memory_link<Client, Server> link;
    std::vector<core::event_kind> client_events, server_events;
    std::vector<std::vector<std::string>> client_data, server_data;
};

using pair = basic_pair<>;

}  // namespace neutrino::test
