#pragma once
/// \file
/// `io::memory_network` and `io::memory_transport`: an in-process datagram network on one
/// Asio executor, a `datagram_transport` model. Endpoints on it run the same loop as on UDP,
/// without a socket: tests of the driver and of completion tokens need no port, and a
/// transport written for a new medium has a small model to compare with.
///
/// Datagrams are delivered in order, in full, on the next executor turn after `flush_sends`;
/// one addressed to a handle nobody holds is counted in `unroutable`, one arriving at a full
/// inbox in `overflowed`. Not thread-safe: use one executor (a strand or a single-threaded
/// `io_context`).

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

#include "neutrino/address.hpp"
#include "neutrino/core/constants.hpp"
#include "neutrino/io/asio.hpp"
#include "neutrino/io/transport.hpp"

namespace neutrino::io {

class memory_transport;

/// Counters of a `memory_network`.
struct memory_network_counters {
    std::uint64_t delivered = 0;   ///< datagrams put into an inbox
    std::uint64_t unroutable = 0;  ///< datagrams to a handle no transport holds
    std::uint64_t overflowed = 0;  ///< datagrams dropped at a full inbox
};

/// The table of transports by address. Outlives every transport attached to it.
class memory_network {
public:
    /// `inbox_capacity`: datagrams a transport holds before it drops (counted).
    explicit memory_network(std::size_t inbox_capacity = 4096) : inbox_capacity_(inbox_capacity) {}
    memory_network(const memory_network&) = delete;
    memory_network& operator=(const memory_network&) = delete;

    [[nodiscard]] const memory_network_counters& counters() const noexcept { return counters_; }
    [[nodiscard]] std::size_t inbox_capacity() const noexcept { return inbox_capacity_; }

private:
    friend class memory_transport;
    std::unordered_map<peer_address, memory_transport*, peer_address_hash> table_;
    memory_network_counters counters_;
    std::size_t inbox_capacity_;
};

/// One attachment to a `memory_network` at a fixed address.
class memory_transport {
public:
    using executor_type = net::any_io_executor;
    static constexpr std::size_t batch_size = 32;
    static constexpr std::size_t slot_size = 2048;

    /// Attaches at `local`. Throws `std::invalid_argument` when the address is taken.
    memory_transport(const executor_type& ex, memory_network& network, const peer_address& local)
        : ex_(ex), network_(&network), local_(local), send_buffer_(batch_size * slot_size) {
        if (!network.table_.emplace(local, this).second) {
            throw std::invalid_argument("memory_transport: address already attached");
        }
    }
    memory_transport(const memory_transport&) = delete;
    memory_transport& operator=(const memory_transport&) = delete;
    ~memory_transport() { close(); }

    [[nodiscard]] executor_type get_executor() const noexcept { return ex_; }
    [[nodiscard]] bool is_open() const noexcept { return network_ != nullptr; }
    [[nodiscard]] peer_address local_address() const noexcept { return local_; }
    /// Datagrams waiting to be received.
    [[nodiscard]] std::size_t queued() const noexcept { return inbox_.size(); }

    void close() noexcept {
        if (network_ == nullptr) return;
        network_->table_.erase(local_);
        network_ = nullptr;
        inbox_.clear();
        pending_ = 0;
        if (waiter_) complete_wait(net::error::operation_aborted);
    }

    template <class Handler>
    void async_wait_readable(Handler&& handler) {
        using handler_type = std::decay_t<Handler>;
        waiter_ = std::make_unique<waiter<handler_type>>(handler_type(std::forward<Handler>(handler)));
        // A stored handler is outstanding work: `run()` must not return while it waits.
        work_.emplace(net::prefer(ex_, net::execution::outstanding_work.tracked));
        if (network_ == nullptr) {
            complete_wait(net::error::operation_aborted);
        } else if (!inbox_.empty()) {
            complete_wait({});
        }
    }

    template <class OnDatagram>
    std::size_t receive_batch(OnDatagram&& on_datagram, boost::system::error_code& ec) {
        ec = {};
        if (inbox_.empty()) {
            ec = net::error::would_block;
            return 0;
        }
        std::size_t n = 0;
        while (n < batch_size && !inbox_.empty() && network_ != nullptr) {
            datagram d = std::move(inbox_.front());
            inbox_.pop_front();
            ++n;
            on_datagram(std::span<const std::byte>(d.bytes), d.from);
        }
        return n;
    }

    [[nodiscard]] std::span<std::byte> prepare_send() noexcept {
        if (pending_ == batch_size) return {};
        return {send_buffer_.data() + pending_ * slot_size, slot_size};
    }
    void commit_send(std::size_t size, const peer_address& to) noexcept {
        if (pending_ == batch_size || size > slot_size) return;
        sizes_[pending_] = size;
        to_[pending_] = to;
        ++pending_;
    }
    [[nodiscard]] std::size_t pending_sends() const noexcept { return pending_; }

    boost::system::error_code flush_sends() {
        if (network_ == nullptr) {
            pending_ = 0;
            return net::error::bad_descriptor;
        }
        for (std::size_t i = 0; i < pending_; ++i) {
            auto it = network_->table_.find(to_[i]);
            if (it == network_->table_.end()) {
                ++network_->counters_.unroutable;
                continue;
            }
            const std::byte* p = send_buffer_.data() + i * slot_size;
            it->second->arrive(local_, std::span<const std::byte>(p, sizes_[i]));
        }
        pending_ = 0;
        return {};
    }

private:
    struct datagram {
        peer_address from;
        std::vector<std::byte> bytes;
    };
    struct waiter_base {
        virtual ~waiter_base() = default;
        virtual void complete(const executor_type& ex, boost::system::error_code ec) = 0;
    };
    template <class Handler>
    struct waiter final : waiter_base {
        explicit waiter(Handler&& h) : handler(std::move(h)) {}
        void complete(const executor_type& ex, boost::system::error_code ec) override {
            auto target = net::get_associated_executor(handler, ex);
            net::post(target, [h = std::move(handler), ec]() mutable { std::move(h)(ec); });
        }
        Handler handler;
    };

    void arrive(const peer_address& from, std::span<const std::byte> bytes) {
        if (inbox_.size() >= network_->inbox_capacity_) {
            ++network_->counters_.overflowed;
            return;
        }
        ++network_->counters_.delivered;
        inbox_.push_back(datagram{from, std::vector<std::byte>(bytes.begin(), bytes.end())});
        if (waiter_) complete_wait({});
    }

    void complete_wait(boost::system::error_code ec) {
        auto w = std::move(waiter_);
        w->complete(ex_, ec);
        work_.reset();
    }

    executor_type ex_;
    memory_network* network_;
    peer_address local_;
    std::deque<datagram> inbox_;
    std::vector<std::byte> send_buffer_;
    std::array<std::size_t, batch_size> sizes_{};
    std::array<peer_address, batch_size> to_{};
    std::size_t pending_ = 0;
    std::unique_ptr<waiter_base> waiter_;
    std::optional<executor_type> work_;
};

static_assert(datagram_transport<memory_transport>);

}  // namespace neutrino::io
