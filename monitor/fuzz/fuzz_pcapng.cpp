// libFuzzer target: the pcapng reader, UDP extraction and the decryptor (Neutrino and QOTP) on
// arbitrary bytes.
// Every input must end in a finite number of records without crashing; the decryptor must
// accept whatever the reader yields.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "neutrino/monitor/decrypt.hpp"
#include "neutrino/monitor/pcapng_reader.hpp"
#include "neutrino/monitor/pcapng_writer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
    neutrino::monitor::pcapng_reader r(in);
    std::size_t records = 0;
    while (auto rec = r.next()) {
        if (++records > size + 2) __builtin_trap();  // every record consumes input
        if (rec->what == neutrino::monitor::pcapng_record::kind::packet) {
            (void)neutrino::monitor::parse_udp(rec->linktype, rec->data);
        }
    }
    std::vector<std::byte> out;
    neutrino::monitor::pcapng_writer w(out);
    neutrino::monitor::key_log keys;
    keys.parse("NEUTRINO2_C2S 40 " + std::string(64, '1') + "\n");
    // QOTP: S of the §21 vectors' connection (seed qotp-vectors.pcapng opens with it), and a
    // secret for the all-zero connection id that mutated inputs reach easily.
    keys.parse(
        "QOTP_SHARED_SECRET 31f82734d9470d7b "
        "3c528e9fd39731b15d10de8feb5f71d3f65b73c993581dedb03315a9ed177730\n"
        "QOTP_SHARED_SECRET_ID 0 " +
        std::string(64, '2') + "\n");
    (void)neutrino::monitor::decrypt_capture(in, keys, w);
    return 0;
}
