#include "neutrino/monitor/decrypt.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>

#include "monitor_test_support.hpp"
#include "neutrino/monitor/recording_observer.hpp"

namespace nm = neutrino::monitor;
namespace nc = neutrino::core;
using namespace neutrino::monitor::test;

namespace {

std::string run(const std::string& command, int* status = nullptr) {
    std::string out;
    std::FILE* p = ::popen(command.c_str(), "r");
    if (p == nullptr) return out;
    std::array<char, 4096> buf{};
    for (std::size_t n; (n = std::fread(buf.data(), 1, buf.size(), p)) > 0;) out.append(buf.data(), n);
    const int rc = ::pclose(p);
    if (status != nullptr) *status = rc;
    return out;
}

std::vector<std::vector<std::string>> rows(const std::string& text) {
    std::vector<std::vector<std::string>> r;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        std::vector<std::string> cols;
        std::size_t at = 0;
        for (std::size_t tab; (tab = line.find('\t', at)) != std::string::npos; at = tab + 1) {
            cols.push_back(line.substr(at, tab - at));
        }
        cols.push_back(line.substr(at));
        r.push_back(cols);
    }
    return r;
}

// Records a client/server run to `path` (keys embedded), returns the session id.
std::uint64_t record(const std::filesystem::path& path, int rounds) {
    auto writer = std::make_shared<nm::pcapng_writer>(path);
    nm::recording_observer c(writer, {client_address, "client", true, false, true, nullptr});
    nm::recording_observer s(writer, {server_address, "server", true, false, false, nullptr});
    observed_pair<nm::recording_observer> p(c, s);
    EXPECT_TRUE(p.connect());
    p.exchange(rounds);
    return p.client.session_id();
}

}  // namespace

TEST(decrypt, tool_and_lua_dissector_show_header_and_decrypted_fields) {
    const std::string tshark = NEUTRINO_TSHARK;
    if (tshark.empty() || tshark.ends_with("NOTFOUND") || !std::filesystem::exists(tshark)) {
        GTEST_SKIP() << "tshark not installed: the Lua dissector is not tested";
    }
    const auto capture = temp_path("tshark_in.pcapng"), decrypted = temp_path("tshark_out.pcapng");
    const std::uint64_t sid = record(capture, 2);
    int status = 0;
    const std::string log = run(std::string(NEUTRINO_MONITOR_TOOL) + " decrypt " + capture.string() + " " +
                                    decrypted.string() + " 2>&1",
                                &status);
    ASSERT_EQ(status, 0) << log;
    EXPECT_NE(log.find("6 decrypted, 1 clear, 0 without key, 0 failed"), std::string::npos) << log;
    const std::string fields =
        " -T fields -e neutrino.type -e neutrino.session_id -e neutrino.decrypted"
        " -e neutrino.packet_number -e neutrino.keyword -e neutrino.word_count -e neutrino.word_text";
    const std::string cmd = "HOME=" + std::filesystem::temp_directory_path().string() + " " + tshark +
                            " -n -X lua_script:" NEUTRINO_LUA_DISSECTOR " -r ";
    const std::string out = run(cmd + decrypted.string() + fields + " 2>/dev/null");
    const auto r = rows(out);
    char sid_hex[24];
    std::snprintf(sid_hex, sizeof sid_hex, "0x%016llx", static_cast<unsigned long long>(sid));
    ASSERT_FALSE(r.empty()) << "tshark printed nothing: " << run(cmd + decrypted.string() + " 2>&1");
    int hello1 = 0, data = 0, decrypted_rows = 0;
    for (const auto& row : r) {
        ASSERT_EQ(row.size(), 7U) << out;
        if (row[0] == "0x01") {  // clear HELLO1: pn 2, one 32-byte word
            ++hello1;
            EXPECT_EQ(row[1], "0x0000000000000002");
            EXPECT_EQ(row[3], "2");
            EXPECT_EQ(row[5], "1");
            continue;
        }
        EXPECT_EQ(row[1], sid_hex);
        EXPECT_EQ(row[2], "1") << "every other datagram opened";
        ++decrypted_rows;
        EXPECT_GE(std::stoull(row[3]), 64U);
        EXPECT_EQ(row[4], "0");
        if (row[0] == "0x47") {
            ++data;
            EXPECT_TRUE(row[6] == "374,0,3.5" || row[6] == "374,1,3.5" || row[6] == "630,0" || row[6] == "630,1")
                << row[6];
        }
    }
    EXPECT_EQ(hello1, 1);
    EXPECT_EQ(data, 4);
    EXPECT_EQ(decrypted_rows, 6);
    // Without decryption the header is still shown, and no packet number for encrypted types.
    const auto raw = rows(run(cmd + capture.string() + fields + " 2>/dev/null"));
    ASSERT_EQ(raw.size(), r.size());
    for (const auto& row : raw) {
        if (row[0] != "0x01") {
            EXPECT_EQ(row[1], sid_hex);
            EXPECT_EQ(row[3], "");
        }
    }
    std::filesystem::remove(capture);
    std::filesystem::remove(decrypted);
}

TEST(decrypt, tool_reports_garbage_and_truncated_captures_and_goes_on) {
    const auto capture = temp_path("garbage_in.pcapng"), out = temp_path("garbage_out.pcapng");
    record(capture, 2);
    auto bytes = read_bytes(capture);
    bytes.resize(bytes.size() - 7);  // truncated mid-block
    {
        std::FILE* f = std::fopen(capture.c_str(), "wb");
        std::fwrite(bytes.data(), 1, bytes.size(), f);
        std::fclose(f);
    }
    int status = 0;
    std::string log = run(std::string(NEUTRINO_MONITOR_TOOL) + " decrypt " + capture.string() + " " +
                              out.string() + " 2>&1",
                          &status);
    EXPECT_EQ(status, 0) << log;
    EXPECT_NE(log.find("bad block length"), std::string::npos) << log;
    EXPECT_NE(log.find("1 bad records"), std::string::npos) << log;
    {
        std::FILE* f = std::fopen(capture.c_str(), "wb");
        std::fputs("garbage, not a capture", f);
        std::fclose(f);
    }
    log = run(std::string(NEUTRINO_MONITOR_TOOL) + " decrypt " + capture.string() + " " + out.string() + " 2>&1",
              &status);
    EXPECT_EQ(status, 0) << log;
    EXPECT_NE(log.find("not a pcapng capture"), std::string::npos) << log;
    log = run(std::string(NEUTRINO_MONITOR_TOOL) + " decrypt /nonexistent.pcapng " + out.string() + " 2>&1", &status);
    EXPECT_NE(status, 0);
    EXPECT_NE(log.find("cannot read"), std::string::npos) << log;
    std::filesystem::remove(capture);
    std::filesystem::remove(out);
}
