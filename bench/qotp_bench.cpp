// QOTP (wire W2, spec: qotp.md) against raw libsodium in the same run (issue #14, "Speed"):
//
// (a) Seal and open of a 1400-byte Data datagram through neutrino::qotp (transport payload codec
//     + packet protection) against libsodium doing the same primitive work on the same sizes:
//     ChaCha20-Poly1305-IETF over the 1369-byte payload with the 9-byte header as AAD, and
//     XChaCha20 (counter 1) over the 6-byte sequence number (spec: qotp.md §6). Before the run,
//     main() checks that the raw reference produces the very bytes qotp produces. Goal: ≤ 1.15×.
//     The paired part also seals the way connection::emit does (payload encoded into a scratch
//     buffer, then moved by seal_data), which costs one more copy of the payload.
// (b) Complete 1-RTT handshakes (InitSnd → InitRcv → Data, spec: qotp.md §7.1) between two
//     qotp::endpoints driven by one thread, once in memory and once over two UDP sockets on
//     127.0.0.1 (plain sendto/recv; the library has no Asio driver for qotp yet), stated against
//     the X25519 ceiling measured in the same run. A handshake costs four X25519 scalar
//     multiplications, two per side (spec: qotp.md §5, §7.1): the side's ephemeral public key
//     (fixed base, crypto_scalarmult_base) and S = X25519(ep, peer ep) (crypto_scalarmult).
//     Both sides run on the one core, so handshakes/s is what one core completes for both.
//
// (c) The same comparisons paired: measured and reference alternate in short batches within one
//     benchmark and the median per-batch ratio is printed. On this shared 2-core machine the
//     separate runs of (a) and (b) drift by ±10–30 % with the other work on it; the paired
//     ratios stayed within ±1 % over repeated runs here, so they are the figures to quote.
//
// Run (the ratio and handshake lines are printed after the table):
//   build/<dir>/bench/neutrino_bench_qotp
//
// "allocs/iter" counts operator new calls inside each measured loop: 0 for seal and open; a
// handshake allocates per connection (the connection, its buffers, the endpoint's map node).

#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "neutrino/qotp/endpoint.hpp"
#include "neutrino/qotp/key_source.hpp"
#include "neutrino/qotp/keys.hpp"
#include "neutrino/qotp/message.hpp"
#include "neutrino/qotp/packet_protection.hpp"
#include "neutrino/qotp/payload.hpp"
#include "neutrino/qotp/replay_window.hpp"
#include "ratio_reporter.hpp"

namespace {
namespace qotp = neutrino::qotp;

/// Every `operator new` of this process (see the replacement after the anonymous namespace).
std::atomic<std::uint64_t> allocations{0};

/// Counts the allocations of a measured loop: construct right before it, `report` right after;
/// the benchmark shows them per iteration as "allocs/iter".
class allocation_counter {
public:
    allocation_counter() noexcept : start_(allocations.load(std::memory_order_relaxed)) {}
    void report(benchmark::State& state) const {
        const auto n = allocations.load(std::memory_order_relaxed) - start_;
        const auto it = static_cast<double>(state.iterations());
        state.counters["allocs/iter"] =
            benchmark::Counter(it == 0 ? 0 : static_cast<double>(n) / it);
    }

private:
    std::uint64_t start_;
};

// ---- (a) seal and open of a 1400-byte Data datagram ---------------------------------------------

constexpr std::size_t datagram_size = 1400;
constexpr std::size_t aad_size = qotp::header_size(qotp::message_type::data);  // 9
constexpr std::size_t sn_offset = aad_size;
constexpr std::size_t ciphertext_offset = aad_size + qotp::sequence_number_size;  // 15
/// The transport payload (the AEAD plaintext): 1400 − 9 − 6 − 16 = 1369 bytes.
constexpr std::size_t payload_size = datagram_size - aad_size - qotp::protection_overhead;
/// Stream data filling it: flags, maxPayload, rcvWnd (4) and a stream header with a u24 offset
/// (7) come first.  spec: qotp.md §9.1, §9.3
constexpr std::size_t stream_data_size =
    payload_size - qotp::payload_fixed_size - qotp::stream_id_size - qotp::short_offset_size;
constexpr std::uint64_t stream_offset = 100 * stream_data_size;  // any u24 offset: same size
constexpr qotp::connection_id test_id{0x0123456789abcdefULL};

using datagram = std::array<std::byte, datagram_size>;

std::array<std::byte, qotp::key_size> test_key_bytes() {
    std::array<std::byte, qotp::key_size> k{};
    for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::byte>(i);
    return k;
}

const unsigned char* uc(const std::byte* p) { return reinterpret_cast<const unsigned char*>(p); }
unsigned char* uc(std::byte* p) { return reinterpret_cast<unsigned char*>(p); }

/// The payload a connection would send: stream 0 data filling the datagram.
qotp::transport_payload data_payload(std::span<const std::byte> data) {
    qotp::transport_payload p;
    p.max_payload = datagram_size;
    p.receive_window = 200;
    p.stream = qotp::stream_frame{0, false, stream_offset, false, data};
    return p;
}

/// The encoded payload bytes (the AEAD plaintext both sides of the comparison encrypt).
std::vector<std::byte> encoded_payload(std::span<const std::byte> data) {
    std::vector<std::byte> out(payload_size);
    const auto n = qotp::encode_payload(data_payload(data), out);
    if (!n || *n != payload_size) throw std::logic_error("payload is not 1369 bytes");
    return out;
}

// Raw libsodium, spec §6 written out: nonce12 = [d<<7, 0 × 5, sn as u48 LE]; the payload under
// ChaCha20-Poly1305-IETF with the header as AAD; sn XOR XChaCha20(K, first 24 ciphertext
// bytes, counter 1).
std::array<unsigned char, crypto_aead_chacha20poly1305_IETF_NPUBBYTES> raw_nonce(
    std::uint64_t sn, qotp::sender from) {
    std::array<unsigned char, crypto_aead_chacha20poly1305_IETF_NPUBBYTES> n{};
    n[0] = static_cast<unsigned char>(static_cast<unsigned>(from) << 7U);
    for (std::size_t i = 0; i < qotp::sequence_number_size; ++i) {
        n[n.size() - qotp::sequence_number_size + i] = static_cast<unsigned char>(sn >> (8 * i));
    }
    return n;
}

void raw_seal_into(datagram& out, std::span<const std::byte> plaintext, std::uint64_t sn,
                   const unsigned char* key) {
    const auto nonce = raw_nonce(sn, qotp::sender::initiator);
    unsigned char* c = uc(out.data() + ciphertext_offset);
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(
        c, c + payload_size, nullptr, uc(plaintext.data()), payload_size, uc(out.data()), aad_size,
        nullptr, nonce.data(), key);
    std::array<unsigned char, qotp::sequence_number_size> plain_sn{};
    for (std::size_t i = 0; i < plain_sn.size(); ++i)
        plain_sn[i] = static_cast<unsigned char>(sn >> (8 * i));
    crypto_stream_xchacha20_xor_ic(uc(out.data() + sn_offset), plain_sn.data(), plain_sn.size(), c,
                                   1, key);
}

/// The header both sides of the comparison carry: type byte and connection id.
void write_header(datagram& d) {
    d[0] = qotp::type_byte(qotp::message_type::data);
    test_id.write(std::span(d).subspan<1, qotp::connection_id_size>());
}

/// One datagram sealed with a fresh sn per call, by qotp or by raw libsodium.
class seal_fixture {
public:
    seal_fixture() : plaintext_(encoded_payload(data_)) { write_header(raw_out_); }

    /// Raw libsodium on the encoded payload, from its own buffer into the datagram.
    void raw() noexcept {
        raw_seal_into(raw_out_, plaintext_, raw_sn_++, uc(raw_key_.data()));
        benchmark::DoNotOptimize(raw_out_.data());
        benchmark::ClobberMemory();
    }
    /// qotp: the payload encoded where seal_data wants it (after header and sn: nothing moves),
    /// then sealed; the encoding is part of the cost, as in a connection's send path.
    [[nodiscard]] bool qotp() noexcept {
        const auto body = std::span(out_).subspan(ciphertext_offset, payload_size);
        const auto n = qotp::encode_payload(data_payload(data_), body);
        if (!n) return false;
        const auto d =
            qotp::seal_data(out_, test_id, body.first(*n), key_, sn_++, qotp::sender::initiator);
        benchmark::DoNotOptimize(out_.data());
        benchmark::ClobberMemory();
        return d && *d == datagram_size;
    }

    /// qotp as connection::emit does it today: the payload encoded into a scratch buffer, which
    /// seal_data then moves behind the header (one more copy of the payload, no allocation).
    [[nodiscard]] bool qotp_from_scratch() noexcept {
        const auto n = qotp::encode_payload(data_payload(data_), scratch_);
        if (!n) return false;
        const auto d = qotp::seal_data(out_, test_id, std::span(scratch_).first(*n), key_, sn_++,
                                       qotp::sender::initiator);
        benchmark::DoNotOptimize(out_.data());
        benchmark::ClobberMemory();
        return d && *d == datagram_size;
    }

private:
    std::vector<std::byte> data_ = std::vector<std::byte>(stream_data_size, std::byte{0x5a});
    std::vector<std::byte> plaintext_;
    std::vector<std::byte> scratch_ = std::vector<std::byte>(payload_size);
    std::array<std::byte, qotp::key_size> raw_key_ = test_key_bytes();
    qotp::shared_secret key_{test_key_bytes()};
    datagram raw_out_{};
    datagram out_{};
    std::uint64_t raw_sn_ = 1;
    std::uint64_t sn_ = 1;
};

/// One sealed datagram (sn 5000) for the open benchmarks.
datagram sealed_datagram() {
    const std::vector<std::byte> data(stream_data_size, std::byte{0x5a});
    const qotp::shared_secret key(test_key_bytes());
    datagram d{};
    const auto plaintext = encoded_payload(data);
    const auto n = qotp::seal_data(d, test_id, plaintext, key, 5000, qotp::sender::initiator);
    if (!n || *n != datagram_size) throw std::logic_error("seal failed");
    return d;
}

/// One received datagram opened per call. Both ways first copy it into a work buffer, as the
/// connection does (into its receive scratch) and as they must to open the same bytes again.
class open_fixture {
public:
    open_fixture() { window_.mark(4000); }  // a realistic window: the sn is fresh and inside it

    /// Raw libsodium: the sn layer, then the AEAD verified and decrypted in place.
    [[nodiscard]] bool raw() noexcept {
        work_ = received_;
        const unsigned char* k = uc(raw_key_.data());
        unsigned char* c = uc(work_.data() + ciphertext_offset);
        std::array<unsigned char, qotp::sequence_number_size> sn_bytes{};
        crypto_stream_xchacha20_xor_ic(sn_bytes.data(), uc(work_.data() + sn_offset),
                                       sn_bytes.size(), c, 1, k);
        std::uint64_t sn = 0;
        for (std::size_t i = 0; i < sn_bytes.size(); ++i) {
            sn |= std::uint64_t{sn_bytes[i]} << (8 * i);
        }
        const auto nonce = raw_nonce(sn, qotp::sender::initiator);
        const int rc = crypto_aead_chacha20poly1305_ietf_decrypt_detached(
            c, nullptr, c, payload_size, c + payload_size, uc(work_.data()), aad_size, nonce.data(),
            k);
        benchmark::DoNotOptimize(work_.data());
        benchmark::ClobberMemory();
        return rc == 0;
    }
    /// qotp: type byte and size rules, open with the current secret, the replay check and the
    /// payload decoding; the window is not marked so that the same datagram stays fresh.
    [[nodiscard]] bool qotp() noexcept {
        work_ = received_;
        const auto o = qotp::open_message(work_, key_, qotp::sender::initiator);
        if (!o || !window_.fresh(o->sequence_number)) return false;
        const auto p = qotp::decode_payload(o->payload);
        benchmark::DoNotOptimize(p);
        return p && p->stream && p->stream->data.size() == stream_data_size;
    }

private:
    datagram received_ = sealed_datagram();
    datagram work_{};
    std::array<std::byte, qotp::key_size> raw_key_ = test_key_bytes();
    qotp::shared_secret key_{test_key_bytes()};
    qotp::replay_window window_;
};

void set_datagram_bytes(benchmark::State& state) {
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(datagram_size));
}

void raw_seal(benchmark::State& state) {
    seal_fixture f;
    const allocation_counter allocs;
    for (auto _ : state) f.raw();
    allocs.report(state);
    set_datagram_bytes(state);
}
BENCHMARK(raw_seal);

void qotp_seal(benchmark::State& state) {
    seal_fixture f;
    const allocation_counter allocs;
    for (auto _ : state) {
        if (!f.qotp()) {
            state.SkipWithError("qotp seal failed");
            break;
        }
    }
    allocs.report(state);
    set_datagram_bytes(state);
}
BENCHMARK(qotp_seal);

void raw_open(benchmark::State& state) {
    open_fixture f;
    const allocation_counter allocs;
    for (auto _ : state) {
        if (!f.raw()) {
            state.SkipWithError("raw open failed");
            break;
        }
    }
    allocs.report(state);
    set_datagram_bytes(state);
}
BENCHMARK(raw_open);

void qotp_open(benchmark::State& state) {
    open_fixture f;
    const allocation_counter allocs;
    for (auto _ : state) {
        if (!f.qotp()) {
            state.SkipWithError("qotp open failed");
            break;
        }
    }
    allocs.report(state);
    set_datagram_bytes(state);
}
BENCHMARK(qotp_open);

/// The raw reference must be the same work: it reproduces qotp's datagram byte for byte.
bool raw_matches_qotp() {
    const std::vector<std::byte> data(stream_data_size, std::byte{0x5a});
    const auto plaintext = encoded_payload(data);
    const auto key = test_key_bytes();
    datagram raw{};
    write_header(raw);
    raw_seal_into(raw, plaintext, 5000, uc(key.data()));
    return raw == sealed_datagram();
}

// ---- (b) the X25519 ceiling ---------------------------------------------------------------------

void x25519_dh(benchmark::State& state) {
    std::array<unsigned char, crypto_scalarmult_SCALARBYTES> own{}, peer_secret{};
    std::array<unsigned char, crypto_scalarmult_BYTES> peer{}, shared{};
    randombytes_buf(own.data(), own.size());
    randombytes_buf(peer_secret.data(), peer_secret.size());
    crypto_scalarmult_base(peer.data(), peer_secret.data());
    const allocation_counter allocs;
    for (auto _ : state) {
        if (crypto_scalarmult(shared.data(), own.data(), peer.data()) != 0) {
            state.SkipWithError("low-order key");
            break;
        }
        benchmark::DoNotOptimize(shared.data());
    }
    allocs.report(state);
    state.counters["DH/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(x25519_dh)->Unit(benchmark::kMicrosecond);

void x25519_base(benchmark::State& state) {
    std::array<unsigned char, crypto_scalarmult_SCALARBYTES> own{};
    std::array<unsigned char, crypto_scalarmult_BYTES> pub{};
    randombytes_buf(own.data(), own.size());
    const allocation_counter allocs;
    for (auto _ : state) {
        crypto_scalarmult_base(pub.data(), own.data());
        benchmark::DoNotOptimize(pub.data());
    }
    allocs.report(state);
    state.counters["base/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(x25519_base)->Unit(benchmark::kMicrosecond);

// ---- (b) 1-RTT handshakes through two endpoints -------------------------------------------------

/// The largest datagram either endpoint sends (the 1232-byte InitSnd), with room to spare so
/// that a received datagram is never cut short.
using io_buffer = std::array<std::byte, 2048>;

qotp::endpoint_config client_config() {
    qotp::endpoint_config c;
    c.accept = false;  // a dialer only
    return c;
}

bool server_ready(qotp::endpoint& server, qotp::connection_id id) {
    const auto* c = server.find(id);
    return c != nullptr && c->phase() == qotp::phase::ready;
}

/// A dialer and a listener, each with its own identity, sharing one key source.
struct endpoint_pair {
    qotp::random_key_source keys;
    qotp::endpoint client{client_config(), keys, qotp::generate_private_key()};
    qotp::endpoint server{qotp::endpoint_config{}, keys, qotp::generate_private_key()};
    io_buffer buf{};
    std::uint64_t datagrams = 0;  ///< handed from one endpoint to the other

    /// Closes `id` on both endpoints (QOTP has no close message, §17: a local end) and lets each
    /// remove it. False if either table is not empty afterwards.
    bool close_both(qotp::connection_id id, qotp::time_point now) {
        for (auto* ep : {&client, &server}) {
            if (auto* c = ep->find(id)) c->close();
            while (ep->poll_datagram(buf, now)) {
            }
            while (ep->poll_event()) {
            }
        }
        return client.size() == 0 && server.size() == 0;
    }
    /// Datagrams either endpoint dropped (0: every datagram of every handshake was taken).
    [[nodiscard]] std::uint64_t drops() const {
        return client.stats().total_drops() + server.stats().total_drops();
    }
};

/// In memory: the datagrams go straight from one endpoint's poll_datagram into the other's
/// handle_datagram, until both are quiet. Virtual time, 1 ms per handshake.
class memory_handshakes {
public:
    memory_handshakes() {
        client_addr_ = neutrino::peer_address::opaque({1}, 1);
        server_addr_ = neutrino::peer_address::opaque({2}, 1);
    }

    /// One complete 1-RTT handshake, then both connections closed and removed.
    [[nodiscard]] bool handshake() {
        auto& p = pair_;
        const auto id = p.client.connect(server_addr_, now_);
        if (!id) return false;
        bool quiet = false;
        for (int round = 0; round < 16 && !quiet; ++round) {
            quiet = true;
            while (auto d = p.client.poll_datagram(p.buf, now_)) {
                quiet = false;
                ++p.datagrams;
                (void)p.server.handle_datagram(std::span(p.buf).first(d->size), client_addr_, now_);
            }
            while (auto d = p.server.poll_datagram(p.buf, now_)) {
                quiet = false;
                ++p.datagrams;
                (void)p.client.handle_datagram(std::span(p.buf).first(d->size), server_addr_, now_);
            }
        }
        const bool done = quiet && server_ready(p.server, *id);
        now_ += std::chrono::milliseconds(1);
        return p.close_both(*id, now_) && done;
    }
    [[nodiscard]] const endpoint_pair& pair() const noexcept { return pair_; }

private:
    endpoint_pair pair_;
    qotp::address client_addr_;
    qotp::address server_addr_;
    qotp::time_point now_ = qotp::time_point{} + std::chrono::hours(1);
};

/// A UDP socket bound to 127.0.0.1 on a free port.
class loopback_socket {
public:
    loopback_socket() : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0)) {
        if (fd_ < 0) throw std::runtime_error("socket failed");
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
            ::close(fd_);
            throw std::runtime_error("bind failed");
        }
        local_ = a;
    }
    loopback_socket(const loopback_socket&) = delete;
    loopback_socket& operator=(const loopback_socket&) = delete;
    ~loopback_socket() { ::close(fd_); }

    [[nodiscard]] int fd() const noexcept { return fd_; }
    [[nodiscard]] const sockaddr_in& local() const noexcept { return local_; }

private:
    int fd_;
    sockaddr_in local_{};
};

qotp::address address_of(const sockaddr_in& a) {
    std::array<std::uint8_t, 4> ip{};
    std::memcpy(ip.data(), &a.sin_addr, ip.size());
    return neutrino::peer_address::v4(ip, ntohs(a.sin_port));
}

sockaddr_in sockaddr_of(const qotp::address& a) {
    sockaddr_in out{};
    out.sin_family = AF_INET;
    std::memcpy(&out.sin_addr, a.bytes.data(), 4);
    out.sin_port = htons(a.port);
    return out;
}

/// Over two UDP sockets on 127.0.0.1 (plain sendto/recvfrom), both endpoints in this thread,
/// real time: each round sends what both endpoints have, waits (poll, ≤ 100 ms) for a socket to
/// be readable and hands over what arrived, until the server's connection is ready and nothing
/// more is in flight.
class loopback_handshakes {
public:
    /// One complete 1-RTT handshake (given up after 2 s), then both connections closed.
    [[nodiscard]] bool handshake() {
        auto& p = pair_;
        auto now = qotp::clock::now();
        const auto id = p.client.connect(server_addr_, now);
        if (!id) return false;
        const auto give_up = now + std::chrono::seconds(2);
        std::uint64_t in_flight = 0;  // sent, not yet received
        for (;;) {
            now = qotp::clock::now();
            for (auto* ep : {&p.client, &p.server}) {
                if (const auto t = ep->deadline(); t && *t <= now) ep->handle_deadline(now);
            }
            in_flight += send_all(p.client, client_socket_, now);
            in_flight += send_all(p.server, server_socket_, now);
            if ((in_flight == 0 && server_ready(p.server, *id)) || now > give_up) break;
            std::array<pollfd, 2> fds{
                {{client_socket_.fd(), POLLIN, 0}, {server_socket_.fd(), POLLIN, 0}}};
            if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
            const std::uint64_t got = receive_all(p.server, server_socket_, now) +
                                      receive_all(p.client, client_socket_, now);
            p.datagrams += got;
            in_flight -= std::min(in_flight, got);
        }
        const bool done = server_ready(p.server, *id);
        return p.close_both(*id, now) && done;
    }
    [[nodiscard]] const endpoint_pair& pair() const noexcept { return pair_; }

private:
    /// Sends everything `ep` has to send from `s`; returns how many datagrams.
    std::uint64_t send_all(qotp::endpoint& ep, const loopback_socket& s, qotp::time_point now) {
        std::uint64_t n = 0;
        while (auto d = ep.poll_datagram(pair_.buf, now)) {
            const sockaddr_in to = sockaddr_of(d->to);
            if (::sendto(s.fd(), pair_.buf.data(), d->size, 0,
                         reinterpret_cast<const sockaddr*>(&to),
                         sizeof to) == static_cast<ssize_t>(d->size)) {
                ++n;
            }
        }
        return n;
    }
    /// Hands every datagram waiting on `s` to `ep`; returns how many.
    std::uint64_t receive_all(qotp::endpoint& ep, const loopback_socket& s, qotp::time_point now) {
        std::uint64_t n = 0;
        for (;;) {
            sockaddr_in from{};
            socklen_t len = sizeof from;
            const ssize_t got = ::recvfrom(s.fd(), pair_.buf.data(), pair_.buf.size(), 0,
                                           reinterpret_cast<sockaddr*>(&from), &len);
            if (got < 0) return n;
            (void)ep.handle_datagram(std::span(pair_.buf).first(static_cast<std::size_t>(got)),
                               address_of(from), now);
            ++n;
        }
    }

    endpoint_pair pair_;
    loopback_socket client_socket_;
    loopback_socket server_socket_;
    qotp::address server_addr_ = address_of(server_socket_.local());
};

template <class Handshakes>
void run_handshakes(benchmark::State& state) {
    Handshakes h;
    const allocation_counter allocs;
    for (auto _ : state) {
        if (!h.handshake()) {
            state.SkipWithError("handshake did not complete");
            break;
        }
    }
    allocs.report(state);
    const auto n = static_cast<double>(state.iterations());
    state.counters["handshakes/s"] = benchmark::Counter(n, benchmark::Counter::kIsRate);
    state.counters["dgrams/hs"] =
        benchmark::Counter(n == 0 ? 0 : static_cast<double>(h.pair().datagrams) / n);
    state.counters["drops"] = benchmark::Counter(static_cast<double>(h.pair().drops()));
}

void qotp_handshake_memory(benchmark::State& state) { run_handshakes<memory_handshakes>(state); }
BENCHMARK(qotp_handshake_memory)->Unit(benchmark::kMicrosecond);

void qotp_handshake_loopback(benchmark::State& state) {
    run_handshakes<loopback_handshakes>(state);
}
BENCHMARK(qotp_handshake_loopback)->Unit(benchmark::kMicrosecond)->UseRealTime();

// ---- paired: measured and reference alternately, for a machine shared with other work --------

/// Runs `reference` and `measured` alternately, `batch` calls each per iteration (the order
/// swapped every iteration), and reports the median over iterations of the time ratio
/// measured / reference as the counter "ratio". Load from other processes that comes and goes
/// slows both sides of one sample alike, and the median drops the samples it hit unevenly.
template <class Reference, class Measured>
void run_paired(benchmark::State& state, int batch, Reference&& reference, Measured&& measured) {
    constexpr std::size_t max_samples = 1 << 16;
    std::vector<double> ratios;
    ratios.reserve(max_samples);
    auto time_of = [batch](auto& f) -> std::optional<double> {
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < batch; ++i) {
            if (!f()) return std::nullopt;
        }
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    bool measured_first = false;
    for (auto _ : state) {
        std::optional<double> m;
        std::optional<double> r;
        if (measured_first) {
            m = time_of(measured);
            r = time_of(reference);
        } else {
            r = time_of(reference);
            m = time_of(measured);
        }
        if (!m || !r) {
            state.SkipWithError("an operation failed");
            return;
        }
        if (ratios.size() < max_samples && *r > 0) ratios.push_back(*m / *r);
        measured_first = !measured_first;
    }
    if (ratios.empty()) return;
    const auto mid = ratios.begin() + static_cast<std::ptrdiff_t>(ratios.size() / 2);
    std::nth_element(ratios.begin(), mid, ratios.end());
    state.counters["ratio"] = benchmark::Counter(*mid);
    state.counters["samples"] = benchmark::Counter(static_cast<double>(ratios.size()));
}

constexpr int packets_per_sample = 32;  // ≈ 60 µs per side

void paired_seal(benchmark::State& state) {
    seal_fixture f;
    run_paired(
        state, packets_per_sample,
        [&f] {
            f.raw();
            return true;
        },
        [&f] { return f.qotp(); });
}
BENCHMARK(paired_seal)->Unit(benchmark::kMicrosecond);

void paired_seal_from_scratch(benchmark::State& state) {
    seal_fixture f;
    run_paired(
        state, packets_per_sample,
        [&f] {
            f.raw();
            return true;
        },
        [&f] { return f.qotp_from_scratch(); });
}
BENCHMARK(paired_seal_from_scratch)->Unit(benchmark::kMicrosecond);

void paired_open(benchmark::State& state) {
    open_fixture f;
    run_paired(
        state, packets_per_sample, [&f] { return f.raw(); }, [&f] { return f.qotp(); });
}
BENCHMARK(paired_open)->Unit(benchmark::kMicrosecond);

/// The X25519 work of one 1-RTT handshake, both sides: 2 × fixed-base + 2 × DH (see the top).
class handshake_x25519 {
public:
    handshake_x25519() {
        randombytes_buf(own_.data(), own_.size());
        std::array<unsigned char, crypto_scalarmult_SCALARBYTES> peer_secret{};
        randombytes_buf(peer_secret.data(), peer_secret.size());
        crypto_scalarmult_base(peer_.data(), peer_secret.data());
    }
    [[nodiscard]] bool operator()() noexcept {
        bool ok = true;
        for (int side = 0; side < 2; ++side) {
            crypto_scalarmult_base(out_.data(), own_.data());
            ok = crypto_scalarmult(out_.data(), own_.data(), peer_.data()) == 0 && ok;
            benchmark::DoNotOptimize(out_.data());
        }
        return ok;
    }

private:
    std::array<unsigned char, crypto_scalarmult_SCALARBYTES> own_{};
    std::array<unsigned char, crypto_scalarmult_BYTES> peer_{};
    std::array<unsigned char, crypto_scalarmult_BYTES> out_{};
};

template <class Handshakes>
void run_paired_handshakes(benchmark::State& state) {
    handshake_x25519 x25519;
    Handshakes h;
    run_paired(state, 1, x25519, [&h] { return h.handshake(); });
}

void paired_handshake_memory(benchmark::State& state) {
    run_paired_handshakes<memory_handshakes>(state);
}
BENCHMARK(paired_handshake_memory)->Unit(benchmark::kMicrosecond);

void paired_handshake_loopback(benchmark::State& state) {
    run_paired_handshakes<loopback_handshakes>(state);
}
BENCHMARK(paired_handshake_loopback)->Unit(benchmark::kMicrosecond)->UseRealTime();

// ---- report -------------------------------------------------------------------------------------

/// The seal/open ratios of ratio_reporter (separate runs), the paired ratios, then the handshake
/// rates against the X25519 ceiling.
class qotp_reporter : public neutrino::bench::ratio_reporter {
public:
    qotp_reporter() : ratio_reporter({{"qotp_seal", "raw_seal"}, {"qotp_open", "raw_open"}}) {}

    void ReportRuns(const std::vector<Run>& runs) override {
        for (const Run& r : runs) {
            if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
            const std::string& name = r.run_name.function_name;
            seconds_[name] =
                r.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(r.time_unit);
            if (const auto c = r.counters.find("ratio"); c != r.counters.end()) {
                paired_[name] = c->second.value;
            }
        }
        ratio_reporter::ReportRuns(runs);
    }

    void Finalize() override {
        ratio_reporter::Finalize();
        std::printf("\npaired (alternating batches, median of the per-batch time ratios):\n");
        print_paired("paired_seal", "qotp seal / raw seal");
        print_paired("paired_seal_from_scratch", "qotp seal, payload encoded apart / raw");
        print_paired("paired_open", "qotp open / raw open");
        print_paired("paired_handshake_memory", "handshake in memory / its X25519 work");
        print_paired("paired_handshake_loopback", "handshake on loopback / its X25519 work");

        const double dh = seconds_of("x25519_dh");
        const double base = seconds_of("x25519_base");
        if (dh <= 0 || base <= 0) return;
        // spec: qotp.md §5, §7.1 — per side: the ephemeral public key (fixed base) and S.
        constexpr double dh_per_handshake = 4;
        const double ceiling = 1 / (2 * dh + 2 * base);
        std::printf("\n1-RTT handshakes, both sides on one core, against X25519 (separate runs)\n");
        std::printf("  X25519 crypto_scalarmult (DH)        %8.0f /s\n", 1 / dh);
        std::printf("  X25519 crypto_scalarmult_base        %8.0f /s\n", 1 / base);
        std::printf(
            "  X25519 per handshake: 4, per side 1 fixed-base (ephemeral key) + 1 DH (S)\n");
        std::printf("  ceiling 1 / (2 DH + 2 fixed-base)    %8.0f handshakes/s\n", ceiling);
        for (const char* name : {"qotp_handshake_memory", "qotp_handshake_loopback"}) {
            const double t = seconds_of(name);
            if (t <= 0) continue;
            std::printf("  %-24s %8.0f handshakes/s; x 4 / DH/s = %.3f; of the ceiling = %.3f\n",
                        name, 1 / t, dh_per_handshake * dh / t, 1 / (ceiling * t));
        }
    }

private:
    [[nodiscard]] double seconds_of(const std::string& name) const {
        const auto it = seconds_.find(name);
        return it == seconds_.end() ? 0 : it->second;
    }
    void print_paired(const std::string& name, const char* what) const {
        const auto it = paired_.find(name);
        if (it == paired_.end()) return;
        std::printf("  %-42s = %.3f\n", what, it->second);
    }

    std::map<std::string, double> seconds_;
    std::map<std::string, double> paired_;
};

}  // namespace

// Counting replacements of the global allocation functions (new[] and the nothrow forms call
// these in libstdc++; the aligned forms are not counted). All stay out of line: inlined,
// g++ pairs their free() with `operator new` and warns (-Wmismatched-new-delete).
[[gnu::noinline]] void* operator new(std::size_t size) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

int main(int argc, char** argv) {
    if (sodium_init() < 0) return 1;
    try {
        if (!raw_matches_qotp()) {
            std::fprintf(stderr, "the raw reference does not reproduce qotp's datagram\n");
            return 1;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    benchmark::Initialize(&argc, argv);
    qotp_reporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    return 0;
}
