#pragma once
/// \file
/// `io::basic_endpoint<Layer>`: the name the driver had before it took a transport
/// parameter; an endpoint on a UDP socket. New code uses `io::endpoint` (`io/endpoint.hpp`).

#include "neutrino/io/endpoint.hpp"

namespace neutrino::io {

template <datagram_layer Layer,
          class EventPolicy = typename default_event_policy<typename Layer::event_type>::type>
using basic_endpoint = endpoint<Layer, udp_socket, EventPolicy>;

}  // namespace neutrino::io
