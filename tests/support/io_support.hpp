#pragma once
// Running an io_context in a test until something happened, bounded in wall time.

#include <chrono>

#include "neutrino/io/asio.hpp"

namespace neutrino::test {

/// Runs `ctx` in small slices until `done()` or `limit` passed; returns `done()`. Restarts the
/// context when it ran out of work, so it can be called again.
template <class Done>
bool run_until(net::io_context& ctx, Done done, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < end) {
        ctx.restart();
        ctx.run_for(std::chrono::milliseconds(5));
    }
    return done();
}

}  // namespace neutrino::test
