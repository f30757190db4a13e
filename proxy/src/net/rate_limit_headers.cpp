#include "net/rate_limit_headers.hpp"

#include <charconv>

namespace sluice::net {
using namespace std::string_view_literals;

namespace {

void append_number(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_sf_string(std::string& out, const std::string& s) {
  out.push_back('"');
  for (const char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    // sf-string allows printable ASCII only; anything else becomes '?'
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  out.push_back('"');
}

std::uint64_t ceil_div(std::int64_t a, std::int64_t b) {
  return a <= 0 ? 0 : static_cast<std::uint64_t>((a + b - 1) / b);
}

}  // namespace

std::uint64_t ceil_seconds(limiter::time_ns ns) {
  const auto s = ceil_div(ns, 1'000'000'000);
  return s == 0 ? 1 : s;
}

std::string policy_field(const config::route& route) {
  std::string out;
  for (const auto& l : route.limits) {
    if (!l.rate || l.shadow) continue;  // clients are told only what is enforced
    if (!out.empty()) out.append(", "sv);
    append_sf_string(out, l.name);
    const auto period = l.rate->period.count();
    if (l.algo == config::algorithm::sliding_window) {
      out.append(";q="sv);
      append_number(out, l.rate->count);
      out.append(";w="sv);
      append_number(out, ceil_div(period, 1'000'000'000));
    } else {
      // A bucket of `burst` refills fully in burst * period / count.
      out.append(";q="sv);
      append_number(out, l.burst);
      out.append(";w="sv);
      const long double refill = static_cast<long double>(period) * l.burst / l.rate->count;
      append_number(out, ceil_div(static_cast<std::int64_t>(refill), 1'000'000'000));
    }
  }
  return out;
}

std::vector<std::string> quoted_limit_names(const config::route& route) {
  std::vector<std::string> out;
  for (const auto& l : route.limits) {
    out.emplace_back();
    append_sf_string(out.back(), l.name);
  }
  return out;
}

void append_ratelimit_field(const config::route& route, const std::vector<std::string>& quoted,
                            const limiter::decision& d, head_writer& out) {
  bool first = true;
  for (std::size_t i = 0; i < route.limits.size() && i < d.verdicts.size(); ++i) {
    const auto& l = route.limits[i];
    if (!l.rate || l.shadow) continue;
    if (!first) out.put(", "sv);
    first = false;
    out.put(quoted[i]);
    out.put(";r="sv);
    out.number(d.verdicts[i].remaining);
    out.put(";t="sv);
    out.number(ceil_div(d.verdicts[i].reset_ns, 1'000'000'000));
  }
}

std::size_t ratelimit_field_estimate(const std::vector<std::string>& quoted) {
  std::size_t n = 0;
  for (const auto& q : quoted) n += q.size() + 48;  // ", " ";r=" ";t=" and two numbers
  return n;
}

void append_ratelimit_field(const config::route& route, const std::vector<std::string>& quoted,
                            const limiter::decision& d, std::string& out) {
  head_writer w(out, ratelimit_field_estimate(quoted));
  append_ratelimit_field(route, quoted, d, w);
}

}  // namespace sluice::net
