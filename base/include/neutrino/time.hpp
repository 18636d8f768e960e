#pragma once
/// \file
/// Time as the sans-IO machines see it: a monotonic `time_point` passed into every call.

#include <chrono>

namespace neutrino {

/// The clock whose time points the machines take. Machines never read it themselves: the
/// driver (or a test) passes `now` into every entry point.
using clock = std::chrono::steady_clock;
using time_point = clock::time_point;
using duration = clock::duration;
using std::chrono::milliseconds;

}  // namespace neutrino
