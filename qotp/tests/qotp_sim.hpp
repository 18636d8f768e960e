#pragma once

// A two-endpoint in-memory harness on virtual time for the qotp connection and endpoint tests:
// a datagram pipe with a fixed latency whose filter can drop, duplicate or delay any datagram.
// Self-contained (no other module's test helpers).

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "neutrino/qotp/endpoint.hpp"
#include "neutrino/qotp/key_source.hpp"

namespace qotp_sim {

namespace qotp = neutrino::qotp;
using namespace std::chrono_literals;
using bytes = std::vector<std::byte>;

/// Host `n` of the simulated network (an opaque peer handle).
inline qotp::address address_of(std::uint8_t n) {
    return neutrino::peer_address::opaque({n}, 1);
}

/// What the filter does with one datagram.
struct action {
    enum class kind : std::uint8_t { deliver, drop, duplicate, delay } what = kind::deliver;
    std::chrono::milliseconds extra{0};  ///< for delay
};

/// One sent datagram as the filter sees it.
struct sent_info {
    bool from_client = true;
    std::size_t index = 0;  ///< 0-based, per direction
    std::size_t overall = 0;
    std::span<const std::byte> bytes;
};

struct in_flight {
    qotp::time_point at;
    bool to_server = true;
    qotp::address from;
    bytes data;
    std::uint64_t order = 0;
};

class sim {
public:
    sim(const qotp::endpoint_config& client_config, const qotp::endpoint_config& server_config,
        std::uint64_t seed = 1)
        : client_keys(seed * 2 + 1),
          server_keys(seed * 2 + 2),
          client(client_config, client_keys, client_keys.generate()),
          server(server_config, server_keys, server_keys.generate()) {}

    qotp::deterministic_key_source client_keys;
    qotp::deterministic_key_source server_keys;
    qotp::endpoint client;
    qotp::endpoint server;
    qotp::address client_address = address_of(1);
    qotp::address server_address = address_of(2);
    qotp::time_point start = qotp::time_point{} + 1h;
    qotp::time_point now = start;
    std::chrono::milliseconds latency{10};
    std::function<action(const sent_info&)> filter;
    /// Every datagram the server sent, by destination (for amplification checks).
    std::vector<std::pair<qotp::address, std::size_t>> server_sent;
    std::vector<bytes> client_log;  ///< every datagram the client sent (junk material)
    std::vector<bytes> server_log;
    std::optional<qotp::connection_id> accepted;
    std::vector<qotp::endpoint_event> server_events;
    std::vector<qotp::endpoint_event> client_events;
    std::function<void()> on_step;  ///< application logic, after every step

    [[nodiscard]] std::chrono::milliseconds elapsed() const {
        return std::chrono::duration_cast<std::chrono::milliseconds>(now - start);
    }

    /// Takes every datagram both endpoints want to send and puts it on the pipe.
    void flush() {
        for (int round = 0; round < 2; ++round) {
            while (auto d = client.poll_datagram(buffer_, now)) push(true, *d);
            while (auto d = server.poll_datagram(buffer_, now)) push(false, *d);
        }
        while (auto e = server.poll_event()) {
            if (e->what == qotp::endpoint_event::kind::accepted) accepted = e->id;
            server_events.push_back(*e);
        }
        while (auto e = client.poll_event()) client_events.push_back(*e);
    }

    /// Advances to the next delivery or deadline; false when nothing is left to do.
    bool step(qotp::time_point limit) {
        flush();
        std::optional<qotp::time_point> next;
        auto consider = [&next](std::optional<qotp::time_point> t) {
            if (t && (!next || *t < *next)) next = t;
        };
        for (const auto& f : pipe_) consider(f.at);
        consider(client.deadline());
        consider(server.deadline());
        if (!next || *next > limit) return false;
        now = std::max(now, *next);
        // Deliver everything due, in arrival order.
        std::stable_sort(pipe_.begin(), pipe_.end(), [](const in_flight& a, const in_flight& b) {
            return a.at < b.at || (a.at == b.at && a.order < b.order);
        });
        std::vector<in_flight> due;
        while (!pipe_.empty() && pipe_.front().at <= now) {
            due.push_back(std::move(pipe_.front()));
            pipe_.erase(pipe_.begin());
        }
        for (auto& f : due) {
            if (f.to_server) {
                (void)server.handle_datagram(f.data, f.from, now);  // drops: in stats()
            } else {
                (void)client.handle_datagram(f.data, f.from, now);
            }
        }
        client.handle_deadline(now);
        server.handle_deadline(now);
        flush();
        if (on_step) on_step();
        flush();
        return true;
    }

    /// Steps until `done()` or `limit` of virtual time; returns done().
    bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
        const auto end = now + limit;
        while (!done()) {
            if (!step(end)) {
                now = end;
                return done();
            }
        }
        return true;
    }

    /// Puts a datagram on the pipe towards the server (an injected one, not filtered).
    void inject_to_server(std::span<const std::byte> data, const qotp::address& from) {
        pipe_.push_back(
            in_flight{now + latency, true, from, bytes(data.begin(), data.end()), order_++});
    }

private:
    void push(bool from_client, const neutrino::transmit& d) {
        const auto data = std::span<const std::byte>(buffer_).first(d.size);
        (from_client ? client_log : server_log).emplace_back(data.begin(), data.end());
        if (!from_client) server_sent.emplace_back(d.to, d.size);
        const sent_info info{from_client, from_client ? client_sent_++ : server_sent_++, overall_++,
                             data};
        const action a = filter ? filter(info) : action{};
        const bool to_server = d.to == server_address;
        if (!to_server && !(d.to == client_address)) return;  // an address nobody listens on
        const qotp::address from = from_client ? client_address : server_address;
        auto put = [&](std::chrono::milliseconds extra) {
            pipe_.push_back(in_flight{now + latency + extra, to_server, from,
                                      bytes(data.begin(), data.end()), order_++});
        };
        switch (a.what) {
            case action::kind::deliver: put(0ms); break;
            case action::kind::drop: break;
            case action::kind::duplicate:
                put(0ms);
                put(1ms);
                break;
            case action::kind::delay: put(a.extra); break;
        }
    }

    std::vector<std::byte> buffer_ = std::vector<std::byte>(65535);
    std::vector<in_flight> pipe_;
    std::size_t client_sent_ = 0;
    std::size_t server_sent_ = 0;
    std::size_t overall_ = 0;
    std::uint64_t order_ = 0;
};

inline bytes pattern(std::size_t n, std::uint32_t seed) {
    bytes b(n);
    std::uint32_t x = seed * 2654435761U + 1;
    for (auto& c : b) {
        x = x * 1664525U + 1013904223U;
        c = static_cast<std::byte>(x >> 24);
    }
    return b;
}

/// Sends as much of `data` from `sent` on as the connection takes.
inline void pump(qotp::connection& c, const bytes& data, std::size_t& sent) {
    if (sent >= data.size()) return;
    if (auto n = c.send(std::span<const std::byte>(data).subspan(sent))) sent += *n;
}

/// Reads everything readable into `into`.
inline void drain(qotp::connection& c, bytes& into) {
    std::array<std::byte, 4096> chunk{};
    while (const std::size_t n = c.read(chunk))
        into.insert(into.end(), chunk.begin(), chunk.begin() + static_cast<long>(n));
}

}  // namespace qotp_sim
