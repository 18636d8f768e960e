#pragma once
/// \file
/// The congestion controller a reliable stack uses unless told otherwise.  spec: issue #13

#include "neutrino/congestion/bbr.hpp"
#include "neutrino/congestion/cubic.hpp"
#include "neutrino/congestion/fixed_window.hpp"

namespace neutrino::reliable {

/// `congestion::bbr` (BBRv3): through a bottleneck it keeps the queue near empty and, unlike
/// `cubic`, does not read 1% random loss as congestion (congestion_bottleneck_test: 9.3 against
/// cubic's 1.6 Mbit/s of 20). Like every BBRv3, it reads more than 2% loss per round trip as
/// congestion: on a path with 5% random loss and no bottleneck it is many times slower than
/// `fixed_window`, which ignores loss (fault_matrix_test measures both). Pick another model
/// with the stack's `Controller` parameter.
using default_controller = congestion::bbr;

}  // namespace neutrino::reliable
