#pragma once
/// \file
/// `virtual_clock_loop`: the run loop every virtual-time driver shares (the memory link, the
/// inspector's simulator and network). A driver supplies one `step(limit)`, which jumps to its
/// next event no later than `limit`, processes it and returns whether there was one, and
/// `now()`; this base runs steps until a predicate holds or for a span of virtual time.

#include "neutrino/time.hpp"

namespace neutrino {

/// Beast-style CRTP base: `Derived` has `bool step(time_point limit)` and
/// `time_point now() const`.
template <class Derived>
class virtual_clock_loop {
public:
    /// Runs until `done()` is true or virtual time reaches `now() + max`. Returns `done()`.
    template <class Pred>
    bool run_until(Pred done, duration max) {
        const time_point limit = derived().now() + max;
        while (!done()) {
            if (!derived().step(limit) && derived().now() >= limit) return done();
        }
        return true;
    }

    /// Runs for `d` of virtual time; afterwards `now()` is the start plus `d`.
    void run_for(duration d) {
        const time_point limit = derived().now() + d;
        while (derived().step(limit)) {
        }
    }

private:
    Derived& derived() noexcept { return static_cast<Derived&>(*this); }
};

}  // namespace neutrino
