#pragma once
/// \file
/// `core::basic_dual_server<V2, V3>`: one server endpoint speaking wire v2 and wire v3 on the
/// same socket, choosing by the version byte of each datagram (byte 4 of the clear header,
/// which both versions place identically).  spec: neutrino-v3.md §2.3
///
/// It offers the server machines' API, so the layers above (reliable, extended) run on it
/// unchanged: every call naming a session goes to the machine that owns the id. Both machines
/// draw session ids at random from 2^64; an id both hold at once is astronomically unlikely,
/// and v3 wins it. A client never falls back from v3 to v2 by itself: that is the client's
/// choice of type.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>

#include "neutrino/core/connection_layer.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/core/v3/server.hpp"
#include "neutrino/datagram_layer.hpp"

namespace neutrino::core {

template <class V2 = basic_server<>, class V3 = v3::basic_server<>>
class basic_dual_server {
public:
    using event_type = event;
    using config = server_config;
    using v2_type = V2;
    using v3_type = V3;

    /// Both machines get `cfg` (one key pair, one dialect); v3 also gets `opt`. `r2` and `r3`
    /// must be independent (two seeded_randoms with different seeds in tests).
    template <class Observer = null_observer, class Random = system_random>
    explicit basic_dual_server(const config& cfg, v3::server_options opt = {}, Observer observer = {},
                               Random r2 = {}, Random r3 = {})
        : v2_(cfg, observer, std::move(r2)), v3_(cfg, std::move(opt), std::move(observer), std::move(r3)) {}

    V2& v2() noexcept { return v2_; }
    V3& v3() noexcept { return v3_; }
    const V2& v2() const noexcept { return v2_; }
    const V3& v3() const noexcept { return v3_; }

    /// Calls `f(v2())`, then `f(v3())`. Each machine holds its own copy of the observer given
    /// to the constructor; this reaches both, e.g. to give each a view of its own wire version.
    template <class F>
    void for_each_machine(F&& f) {
        f(v2_);
        f(v3_);
    }
    template <class F>
    void for_each_machine(F&& f) const {
        f(v2_);
        f(v3_);
    }

    /// The wire version of session `id`: 2, 3, or 0 when neither machine knows it.
    [[nodiscard]] int version_of(std::uint64_t id) const noexcept {
        if (v3_.state_of(id) != session_state::none) return 3;
        if (v2_.state_of(id) != session_state::none) return 2;
        return 0;
    }

    // --- the server machines' API, routed by session id ------------------------------------

    result<void> send(std::uint64_t id, word_list words, time_point now) {
        return route(id, [&](auto& m) { return m.send(id, words, now); });
    }
    std::size_t send_to_all(word_list words, time_point now) {
        return v2_.send_to_all(words, now) + v3_.send_to_all(words, now);
    }
    void drop_session(std::uint64_t id, time_point now) {
        (void)route(id, [&](auto& m) {
            m.drop_session(id, now);
            return result<void>{};
        });
    }
    void shutdown(time_point now) {
        v2_.shutdown(now);
        v3_.shutdown(now);
    }
    result<std::uint64_t> send_packet(std::uint64_t id, packet_type type, word_list words, time_point now) {
        return route(id, [&](auto& m) { return m.send_packet(id, type, words, now); });
    }
    result<std::uint64_t> send_encoded(std::uint64_t id, std::uint32_t keyword, std::span<const std::byte> payload,
                                       time_point now) {
        return route(id, [&](auto& m) { return m.send_encoded(id, keyword, payload, now); });
    }
    result<void> reseal(std::uint64_t id, std::uint64_t pn, packet_type type, word_list words, time_point now,
                        bool to_candidate = false) {
        return route(id, [&](auto& m) { return m.reseal(id, pn, type, words, now, to_candidate); });
    }
    result<std::uint64_t> send_probe(std::uint64_t id, packet_type type, word_list words, time_point now) {
        return route(id, [&](auto& m) { return m.send_probe(id, type, words, now); });
    }
    result<void> validate_path(std::uint64_t id, time_point now) {
        return route(id, [&](auto& m) { return m.validate_path(id, now); });
    }
    void report_refusal(std::uint64_t id, refusal what, time_point now) {
        (void)route(id, [&](auto& m) {
            m.report_refusal(id, what, now);
            return result<void>{};
        });
    }
    result<void> send_request(std::uint64_t id, std::uint64_t pn, time_point now) {
        return route(id, [&](auto& m) { return m.send_request(id, pn, now); });
    }
    result<void> resend(std::uint64_t id, std::span<const std::byte> datagram, std::uint64_t pn, time_point now,
                        bool to_candidate = false) {
        return route(id, [&](auto& m) { return m.resend(id, datagram, pn, now, to_candidate); });
    }
    void report_rtt(std::uint64_t id, duration rtt, time_point now) {
        (void)route(id, [&](auto& m) {
            m.report_rtt(id, rtt, now);
            return result<void>{};
        });
    }
    void report_congestion(std::uint64_t id, const congestion_info& info, time_point now) {
        (void)route(id, [&](auto& m) {
            m.report_congestion(id, info, now);
            return result<void>{};
        });
    }
    void set_receive_limit(std::uint64_t id, std::uint64_t max_pn) noexcept {
        if (version_of(id) == 3) {
            v3_.set_receive_limit(id, max_pn);
        } else {
            v2_.set_receive_limit(id, max_pn);
        }
    }
    template <class F>
    void for_each_session(F&& f) const {
        v2_.for_each_session(f);
        v3_.for_each_session(f);
    }
    [[nodiscard]] std::size_t session_count() const noexcept { return v2_.session_count() + v3_.session_count(); }
    [[nodiscard]] session_state state_of(std::uint64_t id) const noexcept {
        const auto s = v3_.state_of(id);
        return s != session_state::none ? s : v2_.state_of(id);
    }
    [[nodiscard]] std::optional<peer_address> peer_of(std::uint64_t id) const noexcept {
        return version_of(id) == 3 ? v3_.peer_of(id) : v2_.peer_of(id);
    }
    [[nodiscard]] const config& configuration() const noexcept { return v2_.configuration(); }

    // --- datagram_layer ----------------------------------------------------------------------

    /// Version 3 to the v3 machine, anything else to v2 (which counts and drops what is not
    /// its own, as it always did).
    result<void> handle_datagram(std::span<const std::byte> in, const peer_address& from, time_point now) {
        if (in.size() > 4 && std::to_integer<std::uint8_t>(in[4]) == 3) return v3_.handle_datagram(in, from, now);
        return v2_.handle_datagram(in, from, now);
    }
    std::optional<transmit> poll_datagram(std::span<std::byte> out, time_point now) {
        // alternate, so neither version can starve the other
        prefer_v3_ = !prefer_v3_;
        if (prefer_v3_) {
            if (auto t = v3_.poll_datagram(out, now)) return t;
            return v2_.poll_datagram(out, now);
        }
        if (auto t = v2_.poll_datagram(out, now)) return t;
        return v3_.poll_datagram(out, now);
    }
    std::optional<event_type> poll_event() {
        if (auto e = v3_.poll_event()) return e;
        return v2_.poll_event();
    }
    [[nodiscard]] std::optional<time_point> deadline() const noexcept {
        auto a = v2_.deadline();
        auto b = v3_.deadline();
        if (!a) return b;
        if (!b) return a;
        return std::min(*a, *b);
    }
    void handle_deadline(time_point now) {
        if (auto d = v2_.deadline(); d && *d <= now) v2_.handle_deadline(now);
        if (auto d = v3_.deadline(); d && *d <= now) v3_.handle_deadline(now);
    }

private:
    template <class F>
    auto route(std::uint64_t id, F&& f) -> decltype(f(std::declval<V2&>())) {
        switch (version_of(id)) {
            case 3: return f(v3_);
            case 2: return f(v2_);
            default: return fail(errc::unknown_session);
        }
    }

    V2 v2_;
    V3 v3_;
    bool prefer_v3_ = false;
};

using dual_server = basic_dual_server<>;
static_assert(datagram_layer<dual_server>);
static_assert(server_connection<dual_server>);

}  // namespace neutrino::core
