#include "netns_lab.hpp"

#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>
#include <signal.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace neutrino::bench::lab {
namespace {

/// Turns one legacy ethtool feature off on `ifname` (in the caller's namespace); features the
/// driver does not know are ignored.
void feature_off(int fd, const char* ifname, int command) {
    ::ethtool_value value{};
    value.cmd = static_cast<std::uint32_t>(command);
    value.data = 0;
    ::ifreq req{};
    std::snprintf(req.ifr_name, sizeof req.ifr_name, "%s", ifname);
    req.ifr_data = reinterpret_cast<char*>(&value);
    (void)::ioctl(fd, SIOCETHTOOL, &req);
}

/// The offloads that would let frames bigger than the MTU, or with checksums left to hardware,
/// reach the relay: the equivalent of `ethtool -K <if> tso off gso off gro off sg off tx off`.
void offloads_off(const char* ifname) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    for (const int c : {ETHTOOL_STSO, ETHTOOL_SGSO, ETHTOOL_SGRO, ETHTOOL_SSG, ETHTOOL_STXCSUM, ETHTOOL_SRXCSUM}) {
        feature_off(fd, ifname, c);
    }
    ::close(fd);
}

bool write_file(const char* path, const char* text) {
    const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const auto n = static_cast<ssize_t>(std::strlen(text));
    const bool ok = ::write(fd, text, static_cast<std::size_t>(n)) == n;
    ::close(fd);
    return ok;
}

}  // namespace

std::string run_command(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::array<int, 2> out{};
    if (::pipe(out.data()) != 0) return "pipe failed";
    const pid_t pid = ::fork();
    if (pid < 0) return "fork failed";
    if (pid == 0) {
        ::dup2(out[1], 1);
        ::dup2(out[1], 2);
        ::close(out[0]);
        ::close(out[1]);
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    ::close(out[1]);
    std::string text;
    std::array<char, 512> buf{};
    for (ssize_t n; (n = ::read(out[0], buf.data(), buf.size())) > 0;) text.append(buf.data(), static_cast<std::size_t>(n));
    ::close(out[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
    std::string line;
    for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return "`" + line + "` failed" + (text.empty() ? std::string() : ": " + text);
}

netns_lab::netns_lab() : prefix_("nlab" + std::to_string(::getpid())) {}

netns_lab::~netns_lab() { destroy(); }

std::string netns_lab::unavailable_reason() {
    if (::geteuid() != 0) return "needs root (network namespaces, tc, AF_PACKET)";
    if (run_command({"ip", "-V"}).size() != 0) return "needs `ip` (iproute2)";
    if (run_command({"tc", "-V"}).size() != 0) return "needs `tc` (iproute2)";
    const std::string probe = "nlabprobe" + std::to_string(::getpid());
    if (auto e = run_command({"ip", "netns", "add", probe}); !e.empty()) return "cannot make a network namespace: " + e;
    (void)run_command({"ip", "netns", "del", probe});
    return {};
}

std::string netns_lab::name(node n) const {
    switch (n) {
        case node::client: return prefix_ + "-c";
        case node::router: return prefix_ + "-r";
        case node::server: return prefix_ + "-s";
    }
    return {};
}

void netns_lab::remove_stale() {
    // A lab whose bench was killed (SIGKILL, a crash) leaves its namespaces: `nlab<pid>-x` with a
    // pid that no longer runs.
    DIR* d = ::opendir("/run/netns");
    if (d == nullptr) return;
    std::vector<std::string> stale;
    while (const ::dirent* e = ::readdir(d)) {
        const std::string n = e->d_name;
        if (n.rfind("nlab", 0) != 0 || n.size() < 7 || n[n.size() - 2] != '-') continue;
        const std::string digits = n.substr(4, n.size() - 6);
        if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) continue;
        const auto pid = static_cast<pid_t>(std::stol(digits));
        if (::kill(pid, 0) != 0 && errno == ESRCH) stale.push_back(n);
    }
    ::closedir(d);
    for (const auto& n : stale) (void)run_command({"ip", "netns", "del", n});
}

std::string netns_lab::create() {
    remove_stale();
    const std::string c = name(node::client), r = name(node::router), s = name(node::server);
    made_ = true;
    const std::vector<std::vector<std::string>> steps = {
        {"ip", "netns", "add", c},
        {"ip", "netns", "add", r},
        {"ip", "netns", "add", s},
        {"ip", "link", "add", "c0", "netns", c, "type", "veth", "peer", "name", "r0", "netns", r},
        {"ip", "link", "add", "s0", "netns", s, "type", "veth", "peer", "name", "r1", "netns", r},
        {"ip", "-n", c, "addr", "add", std::string(client_address) + "/24", "dev", "c0"},
        {"ip", "-n", s, "addr", "add", std::string(server_address) + "/24", "dev", "s0"},
    };
    for (const auto& step : steps) {
        if (auto e = run_command(step); !e.empty()) return e;
    }
    // Per namespace: IPv6 off (no router solicitations crossing the relay), offloads off, links up.
    const std::array<std::pair<node, std::vector<const char*>>, 3> links{{
        {node::client, {"c0"}}, {node::router, {"r0", "r1"}}, {node::server, {"s0"}}}};
    for (const auto& [n, ifs] : links) {
        const pid_t pid = ::fork();
        if (pid < 0) return "fork failed";
        if (pid == 0) {
            if (!enter(n).empty()) ::_exit(1);
            (void)write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
            (void)write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
            for (const char* i : ifs) offloads_off(i);
            ::_exit(0);
        }
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "cannot enter namespace " + name(n);
        for (const char* i : ifs) {
            if (auto e = run_command({"ip", "-n", name(n), "link", "set", i, "up"}); !e.empty()) return e;
        }
    }
    for (const char* i : {"r0", "r1"}) {
        if (auto e = run_command({"ip", "-n", r, "link", "set", i, "promisc", "on"}); !e.empty()) return e;
    }
    return run_command({"ip", "-n", c, "link", "set", "lo", "up"});
}

std::string netns_lab::set_bottleneck(std::uint64_t rate_bit_s, std::uint64_t queue_bytes) {
    // burst: 10 full frames, so the token bucket never starves at these rates (≥ 1 ms of tokens at
    // 100 Mbit/s) and a frame always fits.
    return run_command({"tc", "-n", name(node::router), "qdisc", "replace", "dev", router_server_side(), "root", "tbf",
                "rate", std::to_string(rate_bit_s) + "bit", "burst", "15140", "limit", std::to_string(queue_bytes)});
}

std::string netns_lab::enter(node n) const {
    const std::string path = "/run/netns/" + name(n);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "cannot open " + path + ": " + std::strerror(errno);
    const int r = ::setns(fd, CLONE_NEWNET);
    const int err = errno;
    ::close(fd);
    if (r != 0) return "setns " + name(n) + ": " + std::strerror(err);
    return {};
}

bool netns_lab::exists(const std::string& name) {
    struct ::stat st{};
    return ::stat(("/run/netns/" + name).c_str(), &st) == 0;
}

void netns_lab::destroy() noexcept {
    if (!made_) return;
    made_ = false;
    for (const node n : {node::client, node::router, node::server}) {
        if (exists(name(n))) (void)run_command({"ip", "netns", "del", name(n)});
    }
}

}  // namespace neutrino::bench::lab
