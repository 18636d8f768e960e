#pragma once
/// \file
/// `delivery_rate_sampler`: delivery rate estimation as the IETF BBR draft specifies it
/// (draft-ietf-ccwg-bbr, "Delivery Rate Samples"; the same algorithm as
/// draft-cheng-iccrg-delivery-rate-estimation), and `packet_rate_state`, what a sender stores
/// with each packet for it.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "neutrino/congestion/controller.hpp"
#include "neutrino/time.hpp"

namespace neutrino::congestion {

/// The connection's delivery state when one packet was sent (the draft's per-packet P.delivered,
/// P.delivered_time, P.first_send_time, P.is_app_limited, P.tx_in_flight, P.lost, plus
/// P.send_time). Returned by `delivery_rate_sampler::on_sent`; the sender keeps it with the
/// packet and hands it back when the packet is acknowledged or declared lost. Plain data.
struct packet_rate_state {
    /// When the packet was sent (P.send_time).
    time_point sent_time{};
    /// C.delivered when it was sent: bytes acknowledged on the connection before it.
    std::uint64_t delivered = 0;
    /// C.delivered_time when it was sent: when the last acknowledgement before it arrived (or
    /// when it was sent, if nothing was in flight).
    time_point delivered_time{};
    /// C.first_send_time when it was sent: the send time of the newest packet acknowledged
    /// before it (or its own, if nothing was in flight). Start of its send interval.
    time_point first_send_time{};
    /// Whether it was sent in an application-limited period (C.app_limited != 0).
    bool is_app_limited = false;
    /// Bytes in flight once it was sent, itself included (P.tx_in_flight).
    std::size_t tx_in_flight = 0;
    /// C.lost when it was sent: bytes declared lost on the connection before it.
    std::uint64_t lost = 0;
};

static_assert(std::is_trivially_copyable_v<packet_rate_state>);

/// Delivery rate sampler of one path (draft-ietf-ccwg-bbr §4.5 "Delivery Rate Samples";
/// draft-cheng-iccrg-delivery-rate-estimation).
///
/// Per packet the sender calls `on_sent` and stores the returned `packet_rate_state`. Per
/// acknowledgement it calls `on_acknowledged` once for each packet newly acknowledged (never
/// twice for one packet), then `generate` once, which fills the rate fields of its `ack_sample`.
/// Per packet declared lost it calls `on_lost` (and `fill` to complete its `loss_sample`).
/// When the application, not the window or pacer, runs out of data it calls `mark_app_limited`.
///
/// A rate sample is the bytes delivered between the sending and the acknowledgement of the
/// newest packet the acknowledgement covered, divided by the longer of its send interval and its
/// acknowledgement interval (so neither ack compression nor a send burst overestimates it).
///
/// The sampler reads no clock and allocates nothing; every member is `noexcept`. Not
/// thread-safe: one owner.
class delivery_rate_sampler {
public:
    /// A sampler for a connection on which nothing was sent yet.
    constexpr delivery_rate_sampler() noexcept = default;

    /// Records one packet of `bytes` bytes sent at `now`; `bytes_in_flight_before` is what the
    /// sender counted in flight just before it (excluding it). Returns what the sender stores
    /// with the packet (draft: OnPacketSent).
    ///
    /// When nothing was in flight, the send and acknowledgement intervals restart at `now`:
    /// the idle time before it is not counted as delivery time.
    [[nodiscard]] constexpr packet_rate_state on_sent(std::size_t bytes,
                                                      std::size_t bytes_in_flight_before,
                                                      time_point now) noexcept {
        if (bytes_in_flight_before == 0) {
            first_send_time_ = now;
            delivered_time_ = now;
        }
        packet_rate_state p;
        p.sent_time = now;
        p.delivered = delivered_;
        p.delivered_time = delivered_time_;
        p.first_send_time = first_send_time_;
        p.is_app_limited = app_limited_ != 0;
        p.tx_in_flight = bytes_in_flight_before + bytes;
        p.lost = lost_;
        return p;
    }

    /// Records that the packet sent with state `packet`, `bytes` long, was acknowledged at `now`
    /// (draft: UpdateRateSample). Call it once per newly acknowledged packet of one
    /// acknowledgement, all with that acknowledgement's `now`, then `generate`. The sample is
    /// taken from the newest of them: the one with the larger `delivered`, and among equal
    /// `delivered` the later `sent_time` (on a full tie, the one reported last).
    ///
    /// Precondition: `packet` was not reported acknowledged before (the sender removes it from
    /// its records, which is what the draft's "P.delivered_time = 0" does).
    constexpr void on_acknowledged(const packet_rate_state& packet, std::size_t bytes,
                                   time_point now) noexcept {
        delivered_ += bytes;
        delivered_time_ = now;
        if (!has_data_ || is_newer(packet)) {
            has_data_ = true;
            prior_delivered_ = packet.delivered;
            prior_sent_time_ = packet.sent_time;
            prior_lost_ = packet.lost;
            is_app_limited_ = packet.is_app_limited;
            tx_in_flight_ = packet.tx_in_flight;
            send_elapsed_ = packet.sent_time - packet.first_send_time;
            ack_elapsed_ = delivered_time_ - packet.delivered_time;
            first_send_time_ = packet.sent_time;
        }
    }

    /// Records that `bytes` bytes were declared lost (C.lost). Call it before `fill` for the
    /// same packet, and before the `generate` of the acknowledgement that declared it lost.
    constexpr void on_lost(std::size_t bytes) noexcept { lost_ += bytes; }

    /// Marks the start of an application-limited period: the sender has less than a window to
    /// send and the pacer does not hold it back (draft: CheckIfApplicationLimited). Packets sent
    /// until everything now in flight (`bytes_in_flight`) is delivered are flagged, and so are
    /// the rate samples they produce. C.app_limited = C.delivered + in flight, or 1 if that is 0.
    constexpr void mark_app_limited(std::size_t bytes_in_flight) noexcept {
        app_limited_ = delivered_ + bytes_in_flight;
        if (app_limited_ == 0) app_limited_ = 1;
    }

    /// Finishes the rate sample of one acknowledgement (draft: GenerateRateSample) and resets it
    /// for the next one. Fills these fields of `sample` and leaves the others alone:
    ///
    /// - `delivered`: C.delivered, always;
    /// - when the acknowledgement covered a packet (`on_acknowledged` was called since the last
    ///   `generate`): `app_limited`, `interval_delivered` (C.delivered − P.delivered),
    ///   `tx_in_flight` and `lost` (C.lost − P.lost) of the newest packet; otherwise they are
    ///   set to false / zero;
    /// - when the sample is valid: `interval` = max(send elapsed, ack elapsed) and
    ///   `delivery_rate_bytes_per_s` = interval_delivered / interval; otherwise both zero.
    ///
    /// \param min_rtt the path's minimum RTT, or zero when unknown. A sample whose interval is
    ///                shorter is refused (draft: "rs.interval < C.min_rtt"): so short an interval
    ///                cannot measure the bottleneck and would overestimate it. A zero interval
    ///                is refused too.
    /// \returns whether the sample is valid (has a delivery rate).
    ///
    /// The application-limited period ends here once more than C.app_limited bytes are
    /// delivered.
    constexpr bool generate(ack_sample& sample, duration min_rtt = duration::zero()) noexcept {
        if (app_limited_ != 0 && delivered_ > app_limited_) app_limited_ = 0;
        sample.delivered = delivered_;
        sample.app_limited = false;
        sample.interval_delivered = 0;
        sample.tx_in_flight = 0;
        sample.lost = 0;
        sample.interval = duration::zero();
        sample.delivery_rate_bytes_per_s = 0.0;
        if (!has_data_) return false;
        has_data_ = false;

        sample.app_limited = is_app_limited_;
        sample.interval_delivered = delivered_ - prior_delivered_;
        sample.tx_in_flight = tx_in_flight_;
        sample.lost = lost_ - prior_lost_;
        const duration interval = std::max(send_elapsed_, ack_elapsed_);
        if (interval <= duration::zero() || interval < min_rtt) return false;
        sample.interval = interval;
        sample.delivery_rate_bytes_per_s = static_cast<double>(sample.interval_delivered) /
                                           std::chrono::duration<double>(interval).count();
        return true;
    }

    /// Fills what `loss_sample` takes from the lost packet's state: `tx_in_flight`,
    /// `app_limited` and `lost` (C.lost − P.lost, which includes the packet itself once
    /// `on_lost` counted it). Leaves `bytes`, `now` and `bytes_in_flight` to the sender.
    constexpr void fill(loss_sample& sample, const packet_rate_state& packet) const noexcept {
        sample.tx_in_flight = packet.tx_in_flight;
        sample.app_limited = packet.is_app_limited;
        sample.lost = lost_ - packet.lost;
    }

    /// C.delivered: bytes acknowledged on the connection so far.
    [[nodiscard]] constexpr std::uint64_t delivered() const noexcept { return delivered_; }
    /// C.lost: bytes declared lost on the connection so far.
    [[nodiscard]] constexpr std::uint64_t lost() const noexcept { return lost_; }
    /// C.app_limited: the delivered count that ends the application-limited period, 0 when not
    /// application limited.
    [[nodiscard]] constexpr std::uint64_t app_limited() const noexcept { return app_limited_; }
    /// Whether the connection is in an application-limited period.
    [[nodiscard]] constexpr bool is_app_limited() const noexcept { return app_limited_ != 0; }
    /// C.delivered_time: when the last acknowledgement arrived (or the send that restarted the
    /// intervals after idle).
    [[nodiscard]] constexpr time_point delivered_time() const noexcept { return delivered_time_; }
    /// C.first_send_time: the send time of the newest packet acknowledged (or of the send that
    /// restarted the intervals after idle).
    [[nodiscard]] constexpr time_point first_send_time() const noexcept { return first_send_time_; }

private:
    // Draft IsNewestPacket, on the delivered count first: a packet sent after an
    // acknowledgement that the other was not sent after is newer.
    [[nodiscard]] constexpr bool is_newer(const packet_rate_state& packet) const noexcept {
        if (packet.delivered != prior_delivered_) return packet.delivered > prior_delivered_;
        return packet.sent_time >= prior_sent_time_;
    }

    // Connection state (C.*).
    std::uint64_t delivered_ = 0;
    time_point delivered_time_{};
    time_point first_send_time_{};
    std::uint64_t app_limited_ = 0;
    std::uint64_t lost_ = 0;

    // The rate sample being built for the current acknowledgement (rs.*), from its newest packet.
    bool has_data_ = false;
    std::uint64_t prior_delivered_ = 0;
    time_point prior_sent_time_{};
    std::uint64_t prior_lost_ = 0;
    bool is_app_limited_ = false;
    std::size_t tx_in_flight_ = 0;
    duration send_elapsed_{};
    duration ack_elapsed_{};
};

}  // namespace neutrino::congestion
