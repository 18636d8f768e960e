// Fuzz target: the Extended receive path — reassembler (whole and streamed series, a shared
// memory budget) and stream_decoder — fed arbitrary DATA payloads in delivery order.
// Input: 1 byte of setup (bit 0: stream series over 4 fragments; bits 1–2: maximum message
// size 8/64/1024 fragments or 16 MiB; bit 3: a tight endpoint budget), then operations:
// 1 byte keyword (0xff: the next 4 bytes are a little-endian keyword; else the value mod 8),
// 2 bytes little-endian payload length (mod 1300), then that many bytes (fewer at the end).
// Properties: a delivered message is a well-formed u16/u32 word list no larger than the
// maximum; parts of a streamed message are contiguous from offset 0 and decode cleanly;
// reserved memory never exceeds the budget; nothing crashes, leaks or trips UBSan.
// spec: neutrino.md §13.3

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <span>

#include "neutrino/core/words.hpp"
#include "neutrino/endian.hpp"
#include "neutrino/extended/detail/reassembler.hpp"
#include "neutrino/extended/stream_decoder.hpp"

namespace {

constexpr std::size_t frag = 1214;

void require(bool ok) {
    if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace ne = neutrino::extended;
    if (size < 1) return 0;
    const std::uint8_t setup = data[0];
    std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data) + 1, size - 1);

    const std::size_t maxes[] = {8 * frag, 64 * frag, 1024 * frag, std::size_t{16} << 20};
    const std::size_t max = maxes[(setup >> 1) & 3];
    const std::size_t stream_above = (setup & 1) != 0 ? 4 * frag : std::numeric_limits<std::size_t>::max();
    ne::detail::memory_budget budget;
    budget.limit = (setup & 8) != 0 ? 16 * frag : std::numeric_limits<std::size_t>::max();
    ne::detail::reassembler r(max, frag, stream_above, &budget);
    ne::stream_decoder dec;
    std::uint64_t next_offset = 0;
    bool in_stream = false;

    auto check = [&](const ne::detail::reassembler::outcome& o) {
        using kind = ne::detail::reassembler::outcome::kind;
        switch (o.what) {
            case kind::message:
                require(neutrino::core::extended_word_codec::validate(o.message).has_value());
                require(o.message.size() <= max);
                break;
            case kind::part:
                if (o.first) {
                    dec.reset();
                    next_offset = 0;
                    in_stream = true;
                }
                require(in_stream && o.offset == next_offset);
                next_offset += o.message.size();
                require(next_offset <= max);
                require(!dec.feed(o.message));
                if (o.last) {
                    require(dec.complete());
                    in_stream = false;
                }
                break;
            case kind::error:
                in_stream = false;
                require(static_cast<bool>(o.error));
                break;
            case kind::pending: break;
        }
    };

    while (in.size() >= 3) {
        std::uint32_t keyword = static_cast<std::uint8_t>(in[0]);
        in = in.subspan(1);
        if (keyword == 0xff) {
            if (in.size() < 4) break;
            keyword = neutrino::load_le<std::uint32_t>(in.data());
            in = in.subspan(4);
        } else {
            keyword %= 8;
        }
        if (in.size() < 2) break;
        std::size_t len = neutrino::load_le<std::uint16_t>(in.data()) % 1300;
        in = in.subspan(2);
        len = std::min(len, in.size());
        const auto payload = in.first(len);
        in = in.subspan(len);

        if (!r.in_series()) r.settle();
        const auto o = r.push(keyword, payload);
        check(o);
        if (o.what == ne::detail::reassembler::outcome::kind::error) check(r.take_second());
        require(r.buffered() <= max);
        require(budget.used <= budget.limit);
        require(budget.used == r.capacity());
    }
    return 0;
}
