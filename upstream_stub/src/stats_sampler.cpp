#include "stats_sampler.hpp"

#include "timestamp.hpp"

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>

namespace sluice::stub {

namespace {

/// Aggregate CPU time counters from the first line of /proc/stat, in clock ticks.
struct cpu_times {
  std::uint64_t busy = 0;
  std::uint64_t total = 0;
};

std::optional<cpu_times> read_cpu_times() {
  std::ifstream in("/proc/stat");
  std::string label;
  std::uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                steal = 0;
  if (!(in >> label >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) ||
      label != "cpu") {
    return std::nullopt;
  }
  // Like psutil: guest time is already inside user time, and iowait counts as idle.
  cpu_times times;
  times.total = user + nice + system + idle + iowait + irq + softirq + steal;
  times.busy = times.total - idle - iowait;
  return times;
}

double round_to(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

/// Reads one number from a sysfs file; nullopt when the file is missing (VMs, containers).
std::optional<double> read_number(const char* path) {
  std::ifstream in(path);
  double value = 0;
  if (in >> value) {
    return value;
  }
  return std::nullopt;
}

nlohmann::json cpu_frequency() {
  // sysfs gives kHz; psutil reports MHz. Without cpufreq, /proc/cpuinfo still has the current one.
  const auto khz = [](const char* path) -> double {
    const auto value = read_number(path);
    return value ? *value / 1000.0 : 0.0;
  };
  double current = khz("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq");
  const double min = khz("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_min_freq");
  const double max = khz("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq");
  if (current == 0.0) {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with("cpu MHz")) {
        const auto colon = line.find(':');
        if (colon != std::string::npos) {
          current = std::strtod(line.c_str() + colon + 1, nullptr);
        }
        break;
      }
    }
  }
  return {{"current", round_to(current, 1)}, {"min", round_to(min, 1)}, {"max", round_to(max, 1)}};
}

nlohmann::json memory() {
  std::map<std::string, std::uint64_t> fields;
  std::ifstream in("/proc/meminfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream parts(line);
    std::string name;
    std::uint64_t kib = 0;
    if (parts >> name >> kib && !name.empty() && name.back() == ':') {
      name.pop_back();
      fields[name] = kib * 1024;
    }
  }
  const auto field = [&](const char* name) {
    const auto it = fields.find(name);
    return it == fields.end() ? std::uint64_t{0} : it->second;
  };
  const std::uint64_t total = field("MemTotal");
  const std::uint64_t available = field("MemAvailable");
  const std::uint64_t free = field("MemFree");
  const std::uint64_t cached = field("Cached") + field("SReclaimable");
  const std::uint64_t buffers = field("Buffers");
  // psutil's definitions: used excludes caches, percent is the share not available.
  std::uint64_t used = total - std::min(total, free + cached + buffers);
  if (used == 0) {
    used = total - std::min(total, free);
  }
  const double percent =
      total == 0 ? 0.0
                 : round_to(100.0 * static_cast<double>(total - std::min(total, available)) /
                                static_cast<double>(total),
                            1);
  return {{"total", total}, {"available", available}, {"used", used}, {"percent", percent}};
}

nlohmann::json disk() {
  struct statvfs fs {};
  if (statvfs("/", &fs) != 0) {
    return {{"total", 0}, {"used", 0}, {"free", 0}, {"percent", 0.0}};
  }
  const std::uint64_t block = fs.f_frsize;
  const std::uint64_t total = fs.f_blocks * block;
  const std::uint64_t free = fs.f_bavail * block;
  const std::uint64_t used = (fs.f_blocks - fs.f_bfree) * block;
  // psutil divides by what an unprivileged user can reach (used + free), not by total.
  const double percent =
      used + free == 0
          ? 0.0
          : round_to(100.0 * static_cast<double>(used) / static_cast<double>(used + free), 1);
  return {{"total", total}, {"used", used}, {"free", free}, {"percent", percent}};
}

}  // namespace

stats_sampler::stats_sampler(std::chrono::duration<double> interval) : interval_(interval) {}

net::awaitable<nlohmann::json> stats_sampler::sample() const {
  const auto before = read_cpu_times();
  // A timer, not a sleep: the wait must leave the thread free for every other request.
  net::steady_timer window(
      co_await net::this_coro::executor,
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval_));
  co_await window.async_wait(use_tuple);
  const auto after = read_cpu_times();
  samples_total_.fetch_add(1, std::memory_order_relaxed);

  double usage = 0.0;
  if (before && after && after->total > before->total) {
    // Signed: iowait may step backwards between reads, so busy time can too.
    const double busy = static_cast<double>(after->busy) - static_cast<double>(before->busy);
    const double total = static_cast<double>(after->total - before->total);
    usage = round_to(std::clamp(100.0 * busy / total, 0.0, 100.0), 1);
  }
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  nlohmann::json stats;
  stats["success"] = true;
  stats["timestamp"] = iso8601_utc(std::chrono::system_clock::now());
  stats["cpu"] = {
      {"usage_percent", usage}, {"count", cores > 0 ? cores : 1}, {"frequency", cpu_frequency()}};
  stats["memory"] = memory();
  stats["disk"] = disk();
  co_return stats;
}

}  // namespace sluice::stub
