// key_table_bench: what the limiter's key table costs per decision and per key, measured on the
// limiter itself (no sockets, manual time), for the code as it stands and, when the build was
// configured with -DSLUICE_BENCH_BASELINE=<git revision>, for that revision's limiter too, in the
// same process, rounds interleaved, so the two are compared under the same machine noise.
//
//   key_table_bench [--rounds N] [--sizes 100000,1000000] [--ops N] [--only hit|refused|insert]
//                   [--variant current|baseline]
//
// --only and --variant narrow a run to one measurement of one variant, for a profiler (perf
// stat, perf record) to look at; they skip the memory figures.
//
// Per table size (max_keys): ns per acquire() that finds its key (token bucket, admitted; and
// sliding window, refused), ns per acquire() of a new key with the table full of live keys (each
// one evicts), each the median of the rounds, where a round builds one table per variant and
// times them in turns of 20,000 calls; and bytes per key held with the table filled to its
// bound with keys holding one admission each, as heap bytes in use (mallinfo2) and as resident
// memory, each
// measured in a forked child so one variant's freed memory cannot hide in the other's figure.
// Built with the project, never run by ctest: it takes a minute and its numbers are timings.

#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "key_table_bench.hpp"

namespace {

struct options {
  int rounds = 5;
  std::vector<std::uint64_t> sizes{100'000, 1'000'000};
  std::uint64_t ops = 2'000'000;  // timed acquire() calls per workload, round and variant
  std::string only;                // empty: every measurement
  std::string variant;             // empty: every variant built in
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--rounds" && v) {
      o.rounds = std::max(1, std::atoi(v));
      ++i;
    } else if (a == "--ops" && v) {
      o.ops = std::strtoull(v, nullptr, 10);
      ++i;
    } else if (a == "--only" && v && (std::string(v) == "hit" || std::string(v) == "refused" ||
                                      std::string(v) == "insert")) {
      o.only = v;
      ++i;
    } else if (a == "--variant" && v) {
      o.variant = v;
      ++i;
    } else if (a == "--sizes" && v) {
      o.sizes.clear();
      for (const char* p = v; *p;) {
        char* end;
        o.sizes.push_back(std::strtoull(p, &end, 10));
        p = *end == ',' ? end + 1 : end;
        if (end == p && *p) break;
      }
      ++i;
    } else {
      std::fprintf(stderr, "usage: key_table_bench [--rounds N] [--sizes A,B,...] [--ops N] "
                           "[--only hit|refused|insert] [--variant current|baseline]\n");
      std::exit(2);
    }
  }
  return o;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::uint64_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

struct memory {
  double heap_per_key = 0;
  double rss_per_key = 0;
};

// Fills a table in a child process; the child reports its heap and RSS growth through a pipe.
memory measure_memory(const kt_bench::variant& v, std::uint64_t max_keys) {
  int fds[2];
  if (pipe(fds) != 0) std::abort();
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    const struct mallinfo2 m = mallinfo2();
    const std::uint64_t heap0 = m.uordblks + m.hblkhd, rss0 = rss_bytes();
    std::uint64_t held = 0;
    const std::uint64_t heap1 = v.fill(max_keys, held);
    const std::uint64_t out[3] = {heap1 - heap0, rss_bytes() - rss0, held};
    if (write(fds[1], out, sizeof out) != sizeof out) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  std::uint64_t in[3] = {0, 0, 0};
  const bool ok = read(fds[0], in, sizeof in) == sizeof in;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!ok || in[2] == 0) return {};
  const auto keys = static_cast<double>(in[2]);
  return {static_cast<double>(in[0]) / keys, static_cast<double>(in[1]) / keys};
}

void print_row(const char* what, const char* unit, double cur, const double* base) {
  if (base)
    std::printf("| %s | %.1f %s | %.1f %s | %.2f |\n", what, cur, unit, *base, unit, cur / *base);
  else
    std::printf("| %s | %.1f %s |\n", what, cur, unit);
}

// Ops per timed slice: the variants take turns every slice (about 5 to 20 ms), so a burst of other
// work on this shared machine lands on both rather than on one variant's whole measurement.
constexpr std::uint64_t slice_ops = 20'000;

constexpr kt_bench::workload workloads[] = {kt_bench::workload::hit,
                                            kt_bench::workload::refused_hit,
                                            kt_bench::workload::insert};
constexpr const char* workload_names[] = {"hit", "refused", "insert"};

// One round of workload `w`: a table per variant, all alive at once, timed in alternating slices.
// Nanoseconds per op for each variant, -1 where a variant did not do what the workload says.
std::vector<double> round_of(const std::vector<const kt_bench::variant*>& variants,
                             kt_bench::workload w, std::uint64_t max_keys, std::uint64_t ops) {
  std::vector<void*> benches;
  for (const auto* v : variants) benches.push_back(v->make(w, max_keys));
  std::vector<double> ns(variants.size(), 0);
  std::uint64_t done = 0;
  for (std::uint64_t slice = 0; done < ops; ++slice) {
    const std::uint64_t n = std::min(slice_ops, ops - done);
    for (std::size_t j = 0; j < variants.size(); ++j) {
      const std::size_t i = slice % 2 ? variants.size() - 1 - j : j;  // ABBA: no variant always first
      ns[i] += variants[i]->run(benches[i], n);
    }
    done += n;
  }
  for (std::size_t i = 0; i < variants.size(); ++i) {
    ns[i] = variants[i]->valid(benches[i]) ? ns[i] / static_cast<double>(ops) : -1;
    variants[i]->destroy(benches[i]);
  }
  return ns;
}

}  // namespace

#ifdef KT_BENCH_HAVE_BASELINE
constexpr bool have_baseline = true;
#else
constexpr bool have_baseline = false;
namespace kt_bench {
const variant baseline_variant = {"baseline", nullptr, nullptr, nullptr, nullptr, nullptr};
}  // namespace kt_bench
#endif

int main(int argc, char** argv) {
  const options o = parse(argc, argv);
  std::vector<const kt_bench::variant*> variants;
  for (const auto* v : {&kt_bench::current_variant, &kt_bench::baseline_variant})
    if ((v == &kt_bench::current_variant || have_baseline) && (o.variant.empty() || o.variant == v->name))
      variants.push_back(v);
  if (variants.empty()) {
    std::fprintf(stderr, "key_table_bench: no variant \"%s\" in this build\n", o.variant.c_str());
    return 2;
  }
  if (!o.only.empty() || !o.variant.empty()) {
    // One workload for a profiler: no memory children, no table.
    for (const std::uint64_t max_keys : o.sizes)
      for (std::size_t k = 0; k < std::size(workloads); ++k) {
        if (!o.only.empty() && o.only != workload_names[k]) continue;
        for (int round = 0; round < o.rounds; ++round) {
          const auto ns = round_of(variants, workloads[k], max_keys, o.ops);
          for (std::size_t i = 0; i < variants.size(); ++i)
            std::printf("%s max_keys %llu %s: %.1f ns\n", variants[i]->name,
                        static_cast<unsigned long long>(max_keys), workload_names[k], ns[i]);
        }
      }
    return 0;
  }

  // Memory first, each in a child forked before the timings have grown this process's heap (a
  // child reusing freed pages it inherited would show less resident memory than it uses).
  std::vector<std::vector<memory>> mem(o.sizes.size());
  for (std::size_t s = 0; s < o.sizes.size(); ++s)
    for (const auto* v : variants) mem[s].push_back(measure_memory(*v, o.sizes[s]));

  for (std::size_t s = 0; s < o.sizes.size(); ++s) {
    const std::uint64_t max_keys = o.sizes[s];
    // times[workload][variant]: one figure per round.
    std::vector<std::vector<std::vector<double>>> times(
        std::size(workloads), std::vector<std::vector<double>>(variants.size()));
    for (int round = 0; round < o.rounds; ++round)
      for (std::size_t k = 0; k < std::size(workloads); ++k) {
        const auto ns = round_of(variants, workloads[k], max_keys, o.ops);
        for (std::size_t i = 0; i < variants.size(); ++i) {
          times[k][i].push_back(ns[i]);
          std::fprintf(stderr, "max_keys %llu round %d %s %s: %.1f ns\n",
                       static_cast<unsigned long long>(max_keys), round + 1, workload_names[k],
                       variants[i]->name, ns[i]);
        }
      }

    std::fflush(stderr);
    std::printf("\nmax_keys %llu, median of %d rounds\n\n",
                static_cast<unsigned long long>(max_keys), o.rounds);
    if (have_baseline)
      std::printf("| | current | baseline | current / baseline |\n| --- | ---: | ---: | ---: |\n");
    else
      std::printf("| | current |\n| --- | ---: |\n");
    auto row = [&](const char* what, const char* unit, double cur, double base) {
      print_row(what, unit, cur, have_baseline ? &base : nullptr);
    };
    auto med = [&](std::size_t k, std::size_t i) { return i < variants.size() ? median(times[k][i]) : 0; };
    row("acquire, key found (token bucket, admitted)", "ns", med(0, 0), med(0, 1));
    row("acquire, key found (sliding window, refused)", "ns", med(1, 0), med(1, 1));
    row("acquire, new key at the bound (evicts a live key)", "ns", med(2, 0), med(2, 1));
    row("heap per key, one admission each (mallinfo2)", "B", mem[s][0].heap_per_key,
        have_baseline ? mem[s][1].heap_per_key : 0);
    row("resident memory per key (VmRSS)", "B", mem[s][0].rss_per_key,
        have_baseline ? mem[s][1].rss_per_key : 0);
  }
  return 0;
}
