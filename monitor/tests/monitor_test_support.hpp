#pragma once
// Shared fixtures for the monitor tests: a client and a server with a given observer type on a
// memory link, and small file helpers.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "neutrino/core/client.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/memory_link.hpp"
#include "neutrino/random.hpp"

namespace neutrino::monitor::test {

inline const peer_address client_address = peer_address::v4({127, 0, 0, 1}, 40000);
inline const peer_address server_address = peer_address::v4({127, 0, 0, 1}, 22753);

inline core::keypair server_keys() {
    return *core::keypair_from_hex(core::example_public_key_hex, core::example_secret_key_hex);
}

template <class ClientObserver, class ServerObserver = ClientObserver>
struct observed_pair {
    using client_type = core::basic_client<core::wire::v2, ClientObserver, seeded_random>;
    using server_type = core::basic_server<core::wire::v2, ServerObserver, seeded_random>;

    static core::client_config client_cfg() {
        core::client_config c;
        c.server_key = server_keys().pk;
        c.server = server_address;
        return c;
    }
    static core::server_config server_cfg() {
        core::server_config s;
        s.keys = server_keys();
        return s;
    }

    observed_pair(ClientObserver c, ServerObserver s, std::uint64_t seed = 1)
        : client(client_cfg(), std::move(c), seeded_random(seed)),
          server(server_cfg(), std::move(s), seeded_random(seed + 1000)),
          link(client, client_address, server, server_address) {}

    bool connect() {
        if (!client.connect(link.now())) return false;
        return link.run_until([this] { return client.established() && server.session_count() == 1 &&
                                              server.state_of(client.session_id()) ==
                                                  core::session_state::established; },
                              std::chrono::seconds(10));
    }

    /// `n` rounds: the server sends a request, the client answers.
    void exchange(int n) {
        for (int i = 0; i < n; ++i) {
            const std::string k = std::to_string(i);
            (void)server.send(client.session_id(), core::words("374", k, "3.5"), link.now());
            link.run_for(std::chrono::milliseconds(5));
            (void)client.send(core::words("630", k), link.now());
            link.run_for(std::chrono::milliseconds(5));
        }
    }

    client_type client;
    server_type server;
    memory_link<client_type, server_type> link;
};

inline std::filesystem::path temp_path(const std::string& name) {
    return std::filesystem::temp_directory_path() /
           ("neutrino_monitor_" + std::to_string(::getpid()) + "_" + name);
}

inline std::vector<std::byte> read_bytes(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return std::vector<std::byte>(reinterpret_cast<const std::byte*>(c.data()),
                                  reinterpret_cast<const std::byte*>(c.data()) + c.size());
}

inline std::string read_text(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {(std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()};
}

}  // namespace neutrino::monitor::test
