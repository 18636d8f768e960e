// neutrino-qotp-capture: writes the QOTP capture that tests/wireshark/run_dissector_test.sh
// dissects. Two qotp connections run in memory on virtual time (qotp/tests/qotp_sim.hpp), a
// 1-RTT one from 127.0.0.1:<port+1> and a 0-RTT one from 127.0.0.1:<port+2>, both to
// 127.0.0.1:<port>; each sends printable text to the server, which answers with one sentence. Every
// datagram is written to <dir>/qotp.pcapng as it is sent, the initiators' key log lines
// (qotp::key_log_buffer) to <dir>/keys.log.
//
// Usage: neutrino-qotp-capture <dir> <port>. Exit 0 when both exchanges completed, 1 otherwise.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "neutrino/monitor/pcapng_writer.hpp"
#include "neutrino/qotp/key_log.hpp"
#include "qotp_sim.hpp"

namespace {

using namespace std::chrono_literals;
namespace nm = neutrino::monitor;
namespace qotp = neutrino::qotp;

qotp_sim::bytes text(const std::string& s) {
    qotp_sim::bytes b(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) b[i] = static_cast<std::byte>(s[i]);
    return b;
}

// One connection's exchange into `w`; false when it did not complete.
bool exchange(nm::pcapng_writer& w, std::uint32_t iface, qotp::key_log_buffer& keys,
              std::uint16_t port, std::uint16_t client_port, bool zero_rtt, std::uint64_t seed,
              std::chrono::seconds start_offset) {
    qotp::endpoint_config cc;
    cc.connection.key_log = &keys;
    qotp::endpoint_config sc;
    qotp_sim::sim s(cc, sc, seed);
    s.start += start_offset;
    s.now = s.start;
    const auto server = neutrino::peer_address::v4({127, 0, 0, 1}, port);
    const auto client = neutrino::peer_address::v4({127, 0, 0, 1}, client_port);
    s.filter = [&](const qotp_sim::sent_info& i) {
        w.write_udp(iface, s.now, i.from_client ? client : server, i.from_client ? server : client,
                    i.bytes);
        return qotp_sim::action{};
    };
    std::string lines;
    for (int i = 0; i < 40; ++i) {
        lines += "hello qotp, line " + std::to_string(i) + (zero_rtt ? " (0-RTT); " : " (1-RTT); ");
    }
    const auto to_server = text(lines);
    const auto to_client = text("thanks, all lines arrived");
    const auto id = s.client.connect(s.server_address, s.now,
                                     zero_rtt ? std::optional(s.server.identity()) : std::nullopt);
    if (!id) return false;
    qotp_sim::bytes at_server, at_client;
    std::size_t sent_c = 0, sent_s = 0;
    s.on_step = [&] {
        if (auto* c = s.client.find(*id)) {
            qotp_sim::pump(*c, to_server, sent_c);
            qotp_sim::drain(*c, at_client);
        }
        if (auto* c = s.server.find(*id)) {
            qotp_sim::drain(*c, at_server);
            if (at_server.size() == to_server.size()) qotp_sim::pump(*c, to_client, sent_s);
        }
    };
    return s.run_until([&] { return at_server == to_server && at_client == to_client; }, 10s);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s <dir> <port>\n", argv[0]);
        return 2;
    }
    const std::filesystem::path dir = argv[1];
    const auto port = static_cast<std::uint16_t>(std::strtoul(argv[2], nullptr, 10));
    try {
        qotp::key_log_buffer keys;
        bool ok = true;
        {
            nm::pcapng_writer w(dir / "qotp.pcapng");
            const auto iface = w.add_interface("qotp");
            ok = exchange(w, iface, keys, port, static_cast<std::uint16_t>(port + 1), false, 21,
                          0s) &&
                 exchange(w, iface, keys, port, static_cast<std::uint16_t>(port + 2), true, 22, 1s);
        }
        std::string lines = keys.take();
        std::FILE* f = std::fopen((dir / "keys.log").c_str(), "w");
        if (f == nullptr) throw std::runtime_error("cannot write keys.log");
        const bool written = std::fwrite(lines.data(), 1, lines.size(), f) == lines.size();
        std::fclose(f);
        if (!ok || !written) {
            std::fprintf(stderr, "neutrino-qotp-capture: %s\n",
                         ok ? "cannot write keys.log" : "an exchange did not complete");
            return 1;
        }
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "neutrino-qotp-capture: %s\n", e.what());
        return 1;
    }
}
