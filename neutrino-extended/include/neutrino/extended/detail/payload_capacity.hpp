#pragma once
/// \file
/// The largest DATA payload of the machine at the bottom of a stack: the Extended fragment
/// size (v2: 1214 bytes; v3: 1238, spec: neutrino-v3.md §14.2).

#include <cstddef>

#include "neutrino/core/constants.hpp"

namespace neutrino::extended::detail {

template <class Layer>
[[nodiscard]] consteval std::size_t payload_capacity() {
    if constexpr (requires { Layer::max_payload_size; }) {
        return Layer::max_payload_size;
    } else if constexpr (requires { typename Layer::wire_type; }) {
        return Layer::wire_type::max_payload_size;
    } else if constexpr (requires { typename Layer::next_layer_type; }) {
        return payload_capacity<typename Layer::next_layer_type>();
    } else {
        return core::max_payload_size;
    }
}

}  // namespace neutrino::extended::detail
