#include "neutrino/sodium.hpp"

#include <sodium.h>

#include <stdexcept>

namespace neutrino {

void ensure_sodium() {
    static const int rc = sodium_init();
    if (rc < 0) throw std::runtime_error("neutrino: libsodium failed to initialise");
}

}  // namespace neutrino
