#pragma once
// What the loopback benches share: forked children pinned to a CPU that send a fixed-size
// report back through a pipe, reading that report with a deadline, reaping a child that
// overstays, and the median of repeated rounds.

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <vector>

#include "neutrino/time.hpp"

namespace neutrino::bench {

/// Copies `what` into the report's fixed-size `error` text.
template <class T>
void copy_error(T& report, const char* what) {
    std::snprintf(report.error.data(), report.error.size(), "%s", what);
}

inline bool write_all(int fd, const void* data, std::size_t n) {
    const auto* p = static_cast<const char*>(data);
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

/// Reads exactly `n` bytes unless `deadline` passes or the writer goes away first.
inline bool read_all(int fd, void* data, std::size_t n, time_point deadline) {
    auto* p = static_cast<char*>(data);
    while (n > 0) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
        if (left.count() <= 0) return false;
        ::pollfd pfd{fd, POLLIN, 0};
        const int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        const ssize_t got = ::read(fd, p, n);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return false;
        p += got;
        n -= static_cast<std::size_t>(got);
    }
    return true;
}

inline bool pin_to_cpu(int cpu) {
    ::cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(static_cast<std::size_t>(cpu), &set);
    return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

inline double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/// Forks a child pinned to `cpu` that runs `body(report)`, writes the report into the write end
/// of `pipe_fds` and exits; returns the child's pid (or -1) in the parent. `Report` has `ok`,
/// `pinned` and a char array `error`.
template <class Report, class Body>
pid_t spawn(int cpu, std::array<int, 2> pipe_fds, Body body) {
    const pid_t pid = ::fork();
    if (pid != 0) return pid;
    ::close(pipe_fds[0]);
    Report rep;
    rep.pinned = pin_to_cpu(cpu) ? 1 : 0;
    try {
        body(rep);
    } catch (const std::exception& e) {
        copy_error(rep, e.what());
        rep.ok = 0;
    }
    (void)write_all(pipe_fds[1], &rep, sizeof rep);
    ::close(pipe_fds[1]);
    ::_exit(rep.ok ? 0 : 1);
}

/// Waits for `pid`; kills it once `deadline` has passed.
inline void reap(pid_t pid, time_point deadline) {
    if (pid <= 0) return;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) return;
        if (clock::now() >= deadline) {
            ::kill(pid, SIGKILL);
            (void)::waitpid(pid, &status, 0);
            return;
        }
        ::usleep(10000);
    }
}

}  // namespace neutrino::bench
