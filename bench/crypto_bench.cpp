// Seal and open of a 1280-byte datagram through neutrino-core against raw libsodium
// XChaCha20-Poly1305 on the same bytes, in the same run.  Issue #2 goal: ≤ 1.15× raw.

#include <benchmark/benchmark.h>
#include <sodium.h>

#include <array>
#include <cstddef>
#include <vector>

#include "neutrino/core/client.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/core/wire_v2.hpp"
#include "ratio_reporter.hpp"

namespace {
namespace nc = neutrino::core;

// One word whose encoding fills the payload: 1 + 2 + 1211 = 1214 bytes → a 1280-byte datagram.
constexpr std::size_t word_size = nc::max_payload_size - 3;
constexpr std::size_t plain_size = nc::max_datagram_size - nc::clear_header_size - nc::wire::v2::overhead;

nc::secret_key test_key() {
    std::array<std::byte, 32> k{};
    for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::byte>(i);
    return nc::secret_key(k);
}

void raw_seal(benchmark::State& state) {
    std::vector<unsigned char> msg(plain_size, 0x5a), out(plain_size + 16);
    std::array<unsigned char, 24> nonce{};
    const auto key = test_key();
    // The strict reference: the AEAD call alone (the nonce only changes, as it must).
    for (auto _ : state) {
        ++nonce[0];
        crypto_aead_xchacha20poly1305_ietf_encrypt(
            out.data(), nullptr, msg.data(), msg.size(), nullptr, 0, nullptr, nonce.data(),
            reinterpret_cast<const unsigned char*>(key.bytes().data()));
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(nc::max_datagram_size));
}
BENCHMARK(raw_seal);

void raw_open(benchmark::State& state) {
    std::vector<unsigned char> msg(plain_size, 0x5a), c(plain_size + 16), m(plain_size);
    std::array<unsigned char, 24> nonce{};
    const auto key = test_key();
    const auto* k = reinterpret_cast<const unsigned char*>(key.bytes().data());
    crypto_aead_xchacha20poly1305_ietf_encrypt(c.data(), nullptr, msg.data(), msg.size(), nullptr,
                                               0, nullptr, nonce.data(), k);
    for (auto _ : state) {
        const int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
            m.data(), nullptr, nullptr, c.data(), c.size(), nullptr, 0, nonce.data(), k);
        benchmark::DoNotOptimize(rc);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(nc::max_datagram_size));
}
BENCHMARK(raw_open);

void core_seal(benchmark::State& state) {
    std::vector<std::byte> payload(word_size, std::byte{0x5a});
    const nc::word w(payload);
    std::array<std::byte, nc::max_datagram_size> out{};
    const auto key = test_key();
    neutrino::system_random rnd;
    std::uint64_t pn = 64;
    for (auto _ : state) {
        auto n = nc::wire::v2::seal(out, nc::packet_type::data, 1234567, pn++, 0, {&w, 1}, 0, key, rnd);
        benchmark::DoNotOptimize(n);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(nc::max_datagram_size));
}
BENCHMARK(core_seal);

void core_open(benchmark::State& state) {
    std::vector<std::byte> payload(word_size, std::byte{0x5a});
    const nc::word w(payload);
    std::array<std::byte, nc::max_datagram_size> d{}, scratch{};
    const auto key = test_key();
    neutrino::system_random rnd;
    const auto n = *nc::wire::v2::seal(d, nc::packet_type::data, 1234567, 64, 0, {&w, 1}, 0, key, rnd);
    const auto h = *nc::clear_header::parse({d.data(), n});
    for (auto _ : state) {
        auto p = nc::wire::v2::open({d.data(), n}, h, key, scratch);
        auto words = nc::words_view::parse(p->payload);
        benchmark::DoNotOptimize(words);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(nc::max_datagram_size));
}
BENCHMARK(core_open);

// The whole machine path: client.send → poll_datagram → server.handle_datagram → poll_event.
void core_machines_round(benchmark::State& state) {
    using client_t = nc::basic_client<nc::wire::v2, nc::null_observer, neutrino::seeded_random>;
    using server_t = nc::basic_server<nc::wire::v2, nc::null_observer, neutrino::seeded_random>;
    const auto keys = *nc::keypair_from_hex(nc::example_public_key_hex, nc::example_secret_key_hex);
    const auto ca = neutrino::peer_address::v4({127, 0, 0, 1}, 40000);
    const auto sa = neutrino::peer_address::v4({127, 0, 0, 1}, 22753);
    nc::client_config cc;
    cc.server_key = keys.pk;
    cc.server = sa;
    nc::server_config sc;
    sc.keys = keys;
    client_t c(cc, {}, neutrino::seeded_random(1));
    server_t s(sc, {}, neutrino::seeded_random(2));
    std::array<std::byte, nc::max_datagram_size> buf{};
    neutrino::time_point now{};
    auto pump = [&] {
        while (auto t = c.poll_datagram(buf, now)) (void)s.handle_datagram({buf.data(), t->size}, ca, now);
        while (auto t = s.poll_datagram(buf, now)) (void)c.handle_datagram({buf.data(), t->size}, sa, now);
        while (c.poll_event()) {}
        while (s.poll_event()) {}
    };
    (void)c.connect(now);
    pump();
    pump();
    std::vector<std::byte> payload(word_size, std::byte{0x5a});
    const nc::word w(payload);
    if (!c.established()) state.SkipWithError("no session");
    for (auto _ : state) {
        if (!c.send({&w, 1}, now)) state.SkipWithError("send failed");
        auto t = c.poll_datagram(buf, now);
        if (!t || !s.handle_datagram({buf.data(), t->size}, ca, now)) state.SkipWithError("not accepted");
        auto e = s.poll_event();
        if (!e || e->kind != nc::event_kind::data) state.SkipWithError("no data event");
        benchmark::DoNotOptimize(e);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(nc::max_datagram_size));
}
BENCHMARK(core_machines_round);

// Raw reference for the machine path: seal + open with no protocol.
void raw_seal_open(benchmark::State& state) {
    std::vector<unsigned char> msg(plain_size, 0x5a), c(plain_size + 16), m(plain_size);
    std::array<unsigned char, 24> nonce{};
    const auto key = test_key();
    const auto* k = reinterpret_cast<const unsigned char*>(key.bytes().data());
    for (auto _ : state) {
        ++nonce[0];
        crypto_aead_xchacha20poly1305_ietf_encrypt(c.data(), nullptr, msg.data(), msg.size(),
                                                   nullptr, 0, nullptr, nonce.data(), k);
        const int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
            m.data(), nullptr, nullptr, c.data(), c.size(), nullptr, 0, nonce.data(), k);
        benchmark::DoNotOptimize(rc);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(nc::max_datagram_size));
}
BENCHMARK(raw_seal_open);

}  // namespace

int main(int argc, char** argv) {
    if (sodium_init() < 0) return 1;
    benchmark::Initialize(&argc, argv);
    neutrino::bench::ratio_reporter reporter({{"core_seal", "raw_seal"},
                                              {"core_open", "raw_open"},
                                              {"core_machines_round", "raw_seal_open"}});
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    return 0;
}
