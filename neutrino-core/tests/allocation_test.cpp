// Proves the per-datagram paths of the core machines do not touch the heap
// (shared/style.md §3: "no per-packet allocation").
//
// This file replaces the global allocation functions for the whole test binary (every form:
// plain, array, nothrow, aligned, sized). They forward to malloc/free and count each call with
// one thread-local and one relaxed atomic increment. Other test files that need the count use
// `neutrino::test::heap_allocation_count()` instead of replacing operator new themselves: the
// program can have only one replacement (a second one fails to link).
#include "neutrino/core/client.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string_view>

#include "neutrino/core/server.hpp"
#include "test_support.hpp"

namespace {

constinit thread_local std::size_t allocations = 0;  // on this thread
std::atomic<std::uint64_t> all_allocations{0};        // on every thread

void count() noexcept {
    ++allocations;
    all_allocations.fetch_add(1, std::memory_order_relaxed);
}
void* allocate(std::size_t size) noexcept {
    count();
    return std::malloc(size == 0 ? 1 : size);
}
void* allocate_aligned(std::size_t size, std::align_val_t align) noexcept {
    count();
    const auto a = static_cast<std::size_t>(align);
    void* p = nullptr;
    if (posix_memalign(&p, a < sizeof(void*) ? sizeof(void*) : a, size == 0 ? 1 : size) != 0) {
        return nullptr;
    }
    return p;
}
void* allocate_or_throw(std::size_t size) {
    void* p = allocate(size);
    if (p == nullptr) throw std::bad_alloc();
    return p;
}
void* allocate_aligned_or_throw(std::size_t size, std::align_val_t align) {
    void* p = allocate_aligned(size, align);
    if (p == nullptr) throw std::bad_alloc();
    return p;
}

}  // namespace

namespace neutrino::test {
/// Heap allocations through operator new on every thread since start (for other test files).
std::uint64_t heap_allocation_count() noexcept {
    return all_allocations.load(std::memory_order_relaxed);
}
}  // namespace neutrino::test

// noinline: g++ 12 otherwise may flag an inlined malloc/free pair as mismatched.
// NOLINTBEGIN(misc-new-delete-overloads)
#define NEUTRINO_REPLACE [[gnu::noinline]]
NEUTRINO_REPLACE void* operator new(std::size_t n) { return allocate_or_throw(n); }
NEUTRINO_REPLACE void* operator new[](std::size_t n) { return allocate_or_throw(n); }
NEUTRINO_REPLACE void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    return allocate(n);
}
NEUTRINO_REPLACE void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    return allocate(n);
}
NEUTRINO_REPLACE void* operator new(std::size_t n, std::align_val_t a) {
    return allocate_aligned_or_throw(n, a);
}
NEUTRINO_REPLACE void* operator new[](std::size_t n, std::align_val_t a) {
    return allocate_aligned_or_throw(n, a);
}
NEUTRINO_REPLACE void* operator new(std::size_t n, std::align_val_t a,
                                    const std::nothrow_t&) noexcept {
    return allocate_aligned(n, a);
}
NEUTRINO_REPLACE void* operator new[](std::size_t n, std::align_val_t a,
                                      const std::nothrow_t&) noexcept {
    return allocate_aligned(n, a);
}
NEUTRINO_REPLACE void operator delete(void* p) noexcept { std::free(p); }
NEUTRINO_REPLACE void operator delete[](void* p) noexcept { std::free(p); }
NEUTRINO_REPLACE void operator delete(void* p, std::size_t) noexcept { std::free(p); }
NEUTRINO_REPLACE void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
NEUTRINO_REPLACE void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
NEUTRINO_REPLACE void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
NEUTRINO_REPLACE void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
NEUTRINO_REPLACE void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
NEUTRINO_REPLACE void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}
NEUTRINO_REPLACE void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}
NEUTRINO_REPLACE void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    std::free(p);
}
NEUTRINO_REPLACE void operator delete[](void* p, std::align_val_t,
                                        const std::nothrow_t&) noexcept {
    std::free(p);
}
#undef NEUTRINO_REPLACE
// NOLINTEND(misc-new-delete-overloads)

namespace {

/// True when every allocation form this file replaces is the one the program uses.
bool counting_active() {
    const std::size_t before = allocations;
    void* a = ::operator new(16);
    void* b = ::operator new[](16);
    void* c = ::operator new(16, std::nothrow);
    void* d = ::operator new(64, std::align_val_t{64});
    void* e = ::operator new[](64, std::align_val_t{128}, std::nothrow);
    const bool all = allocations - before == 5;
    ::operator delete(a);
    ::operator delete[](b);
    ::operator delete(c, std::nothrow);
    ::operator delete(d, std::align_val_t{64});
    ::operator delete[](e, std::align_val_t{128}, std::nothrow);
    return all;
}

#define NEUTRINO_REQUIRE_COUNTING()                                                        \
    do {                                                                                   \
        if (!counting_active()) {                                                          \
            FAIL() << "this file's operator new is not the active one: another "           \
                      "translation unit replaces it; use heap_allocation_count() there";   \
        }                                                                                  \
    } while (false)

}  // namespace

namespace nc = neutrino::core;
using neutrino::time_point;
using namespace std::chrono_literals;

namespace {

/// The production types: v2 wire, no observer, OS randomness.
using client_type = nc::client;
using server_type = nc::server;

struct machines {
    machines()
        : client(neutrino::test::pair::client_cfg()), server(neutrino::test::pair::server_cfg()) {}

    /// Moves every queued datagram to the other side and drains the events (the words of a
    /// DATA event are checked in place: they view the machine's buffer). Returns false on any
    /// unexpected outcome. Uses only stack buffers.
    bool exchange(std::size_t& client_data, std::size_t& server_data) {
        bool ok = true;
        for (bool more = true; more;) {
            more = false;
            while (auto t = client.poll_datagram(buf, now)) {
                more = true;
                ok &= t->to == neutrino::test::server_address;
                ok &= static_cast<bool>(
                    server.handle_datagram({buf.data(), t->size}, neutrino::test::client_address, now));
                while (auto e = server.poll_event()) {
                    if (e->kind == nc::event_kind::data) {
                        ++server_data;
                        ok &= e->words.size() == 2 && nc::as_string(e->words[0]) == "ping";
                        // answer with the number it carried: a round trip
                        ok &= static_cast<bool>(server.send(e->session_id,
                                                            nc::words("pong", nc::as_string(e->words[1])),
                                                            now));
                    }
                }
            }
            while (auto t = server.poll_datagram(buf, now)) {
                more = true;
                ok &= t->to == neutrino::test::client_address;
                ok &= static_cast<bool>(
                    client.handle_datagram({buf.data(), t->size}, neutrino::test::server_address, now));
                while (auto e = client.poll_event()) {
                    if (e->kind == nc::event_kind::data) {
                        ++client_data;
                        ok &= e->words.size() == 2 && nc::as_string(e->words[0]) == "pong";
                    }
                }
            }
        }
        return ok;
    }

    void timers() {
        if (auto t = client.deadline(); t && *t <= now) client.handle_deadline(now);
        if (auto t = server.deadline(); t && *t <= now) server.handle_deadline(now);
    }

    client_type client;
    server_type server;
    time_point now{std::chrono::hours(1)};
    std::array<std::byte, nc::max_datagram_size> buf{};
};

}  // namespace

TEST(allocation, counter_sees_every_form) {
    NEUTRINO_REQUIRE_COUNTING();
    void* d = ::operator new(64, std::align_val_t{64});
    void* e = ::operator new[](64, std::align_val_t{128}, std::nothrow);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(d) % 64, 0U);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(e) % 128, 0U);
    ::operator delete(d, std::align_val_t{64});
    ::operator delete[](e, std::align_val_t{128}, std::nothrow);
    const std::uint64_t before = neutrino::test::heap_allocation_count();
    void* p = ::operator new(8);
    ::operator delete(p);
    EXPECT_GE(neutrino::test::heap_allocation_count() - before, 1U);
}

TEST(allocation, ten_thousand_data_round_trips_allocate_nothing) {
    NEUTRINO_REQUIRE_COUNTING();
    machines m;
    std::size_t client_data = 0, server_data = 0;
    // warm-up: handshake and the first packets both ways
    ASSERT_TRUE(m.client.connect(m.now));
    ASSERT_TRUE(m.exchange(client_data, server_data));
    ASSERT_TRUE(m.client.established());
    ASSERT_EQ(m.server.session_count(), 1U);
    for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(m.client.send(nc::words("ping", "warm"), m.now));
        ASSERT_TRUE(m.exchange(client_data, server_data));
    }
    ASSERT_EQ(client_data, 4U);

    client_data = server_data = 0;
    bool ok = true;
    const std::size_t before = allocations;
    for (int i = 0; i < 10000; ++i) {
        m.now += 1ms;  // 10 s of virtual time: expiry scans and timers run too
        m.timers();
        std::array<char, 8> digits{};
        std::size_t len = 0;
        for (int v = i; len == 0 || v > 0; v /= 10) digits[len++] = static_cast<char>('0' + v % 10);
        ok &= static_cast<bool>(
            m.client.send(nc::words("ping", std::string_view(digits.data(), len)), m.now));
        ok &= m.exchange(client_data, server_data);
    }
    const std::size_t used = allocations - before;
    EXPECT_TRUE(ok);
    EXPECT_EQ(server_data, 10000U);
    EXPECT_EQ(client_data, 10000U);
    EXPECT_EQ(used, 0U) << "heap allocations in 10 000 round trips";
    EXPECT_TRUE(m.client.established());
    EXPECT_EQ(m.server.session_count(), 1U);
}

TEST(allocation, idle_keep_alives_and_drops_allocate_nothing) {
    NEUTRINO_REQUIRE_COUNTING();
    machines m;
    std::size_t client_data = 0, server_data = 0;
    ASSERT_TRUE(m.client.connect(m.now));
    ASSERT_TRUE(m.exchange(client_data, server_data));
    ASSERT_TRUE(m.client.established());
    // warm-up: one keep-alive cycle and one scan
    for (int i = 0; i < 600; ++i) {
        m.now += 1ms;
        m.timers();
        ASSERT_TRUE(m.exchange(client_data, server_data));
    }

    std::array<std::byte, 100> junk{};
    junk[0] = std::byte{0x0c};
    const std::size_t before = allocations;
    bool ok = true;
    for (int i = 0; i < 5000; ++i) {  // 5 s idle: about ten keep-alive exchanges
        m.now += 1ms;
        m.timers();
        ok &= m.exchange(client_data, server_data);
        // rejected input is dropped without allocating either
        ok &= !m.server.handle_datagram(junk, neutrino::test::client_address, m.now);
        ok &= !m.client.handle_datagram(junk, neutrino::test::server_address, m.now);
    }
    EXPECT_EQ(allocations - before, 0U);
    EXPECT_TRUE(ok);
    EXPECT_TRUE(m.client.established());
    EXPECT_GE(m.client.stats().datagrams_sent, 10U);
}
