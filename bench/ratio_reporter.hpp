#pragma once
// A console reporter that also prints, after the run, each benchmark's time per iteration as a
// ratio against a named reference benchmark measured in the same run.

#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace neutrino::bench {

class ratio_reporter : public benchmark::ConsoleReporter {
public:
    /// `pairs`: {measured, reference} benchmark names (as printed, without arguments suffixes).
    explicit ratio_reporter(std::vector<std::pair<std::string, std::string>> pairs)
        : pairs_(std::move(pairs)) {}

    void ReportRuns(const std::vector<Run>& runs) override {
        for (const Run& r : runs) {
            if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
            std::string name = r.run_name.function_name;
            if (!r.run_name.args.empty()) name += "/" + r.run_name.args;
            times_[name] = r.GetAdjustedRealTime();
        }
        ConsoleReporter::ReportRuns(runs);
    }

    void Finalize() override {
        ConsoleReporter::Finalize();
        std::printf("\nratios (time per operation, same run; lower is better for the first):\n");
        for (const auto& [measured, reference] : pairs_) {
            auto m = times_.find(measured);
            auto r = times_.find(reference);
            if (m == times_.end() || r == times_.end() || r->second == 0) continue;
            std::printf("  %-40s / %-32s = %.3f\n", measured.c_str(), reference.c_str(),
                        m->second / r->second);
        }
    }

private:
    std::vector<std::pair<std::string, std::string>> pairs_;
    std::map<std::string, double> times_;
};

}  // namespace neutrino::bench
