// The driver over the `datagram_transport` contract alone: an archetype with exactly the
// concept's members, and `io::endpoint` explicitly instantiated over it (every member whose
// constraints hold is compiled), for a client and for a server layer. If the driver used
// anything of udp_socket beyond the concept, this file would not compile.
#include "neutrino/io/endpoint.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <span>

#include "neutrino/core/client.hpp"
#include "neutrino/core/server.hpp"
#include "neutrino/io/transport.hpp"
#include "test_support.hpp"

namespace neutrino::test {

/// Models `io::datagram_transport` and nothing more; never sends or receives anything.
class transport_archetype {
public:
    using executor_type = net::any_io_executor;
    explicit transport_archetype(executor_type ex) : ex_(std::move(ex)) {}
    [[nodiscard]] executor_type get_executor() const { return ex_; }
    [[nodiscard]] bool is_open() const { return open_; }
    void close() noexcept { open_ = false; }
    [[nodiscard]] peer_address local_address() const { return {}; }
    template <class Handler>
    void async_wait_readable(Handler&& handler) {
        net::post(ex_, [h = std::forward<Handler>(handler)]() mutable { h(net::error::operation_aborted); });
    }
    template <class F>
    std::size_t receive_batch(F&&, boost::system::error_code& ec) {
        ec = net::error::would_block;
        return 0;
    }
    [[nodiscard]] std::span<std::byte> prepare_send() { return slot_; }
    void commit_send(std::size_t, const peer_address&) noexcept { ++committed_; }
    [[nodiscard]] std::size_t pending_sends() const { return committed_; }
    boost::system::error_code flush_sends() {
        committed_ = 0;
        return {};
    }

private:
    executor_type ex_;
    std::array<std::byte, 2048> slot_{};
    std::size_t committed_ = 0;
    bool open_ = true;
};

static_assert(io::datagram_transport<transport_archetype>);
static_assert(io::datagram_transport<io::udp_socket>);

}  // namespace neutrino::test

template class neutrino::io::endpoint<neutrino::core::client, neutrino::test::transport_archetype>;
template class neutrino::io::endpoint<neutrino::core::server, neutrino::test::transport_archetype>;

TEST(transport_archetype, the_driver_runs_over_the_concept_alone) {
    neutrino::net::io_context ctx;
    neutrino::io::endpoint<neutrino::core::client, neutrino::test::transport_archetype> ep{
        neutrino::core::client(neutrino::test::basic_pair<>::client_cfg()), {}, std::in_place, ctx.get_executor()};
    auto connect = ep.async_connect(neutrino::net::use_future);
    ctx.run_for(std::chrono::milliseconds(20));
    // The client dialled: its HELLO1 went to the archetype's send slot.
    EXPECT_EQ(ep.layer().state(), neutrino::core::session_state::pending);
    ep.close();
    ctx.restart();  // the first run ran out of work
    ctx.run_for(std::chrono::milliseconds(20));
    // (use_future's promise may be completed from another thread: wait, do not poll)
    ASSERT_EQ(connect.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    EXPECT_THROW(connect.get(), boost::system::system_error);
}
