#include "config/limit_loader.hpp"

#include <cstdint>

#include "config/config_names.hpp"
#include "config/http_token.hpp"
#include "config/rate_parser.hpp"

namespace sluice::config {
namespace {

// Limit names travel in 429 responses and logs: printable ASCII, short enough for a header.
constexpr std::size_t max_limit_name_chars = 128;

void read_per(const yaml_node& node, limit& out) {
  const std::string text = node.text();
  if (text == "ip") {
    out.per = key_kind::ip;
    return;
  }
  if (text == "route") {
    out.per = key_kind::route;
    return;
  }
  constexpr std::string_view header_word = "header";
  if (text.starts_with(header_word) &&
      (text.size() == header_word.size() || text[header_word.size()] == ' ')) {
    std::string_view name = std::string_view(text).substr(header_word.size());
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (name.empty()) node.fail_value("missing header name (e.g. \"header X-Api-Key\")");
    if (!is_http_token(name)) node.fail_value("header name is not a valid HTTP token");
    out.per = key_kind::header;
    out.header = ascii_lower(name);
    return;
  }
  node.fail_value("expected ip, route or \"header <name>\"");
}

algorithm read_algorithm(const yaml_node& node) {
  const std::string text = node.text();
  if (text == "sliding_window") return algorithm::sliding_window;
  if (text == "token_bucket") return algorithm::token_bucket;
  node.fail_value("unknown algorithm (sliding_window, token_bucket)");
}

std::string read_name(const yaml_node& node) {
  const std::string text = node.text();
  bool printable = !text.empty() && text.size() <= max_limit_name_chars;
  for (const char c : text) printable = printable && c >= 0x20 && c < 0x7f;
  if (!printable) {
    node.fail_value("a limit name is 1 to " + std::to_string(max_limit_name_chars) +
                    " printable ASCII characters");
  }
  return text;
}

}  // namespace

rate read_rate(const yaml_node& node) {
  if (!node.raw().IsScalar()) node.fail("expected a rate such as 60/minute, got " + node.describe());
  std::string why;
  const auto parsed = parse_rate(node.text(), &why);
  if (!parsed) node.fail_value(why);
  return *parsed;
}

limit read_limit(const yaml_node& node) {
  node.expect_map();
  limit out;
  if (const auto per = node.get("per")) read_per(*per, out);

  const auto rate_node = node.get("rate");
  if (rate_node) out.rate = read_rate(*rate_node);

  if (const auto algo = node.get("algorithm")) {
    out.algo = read_algorithm(*algo);
    if (!out.rate) algo->fail("algorithm applies to a rate, and this limit has none");
  }

  if (const auto burst = node.get("burst")) {
    if (out.algo != algorithm::token_bucket) {
      burst->fail("burst applies only to algorithm: token_bucket (sliding_window admits at most "
                  "the rate's count in any window)");
    }
    out.burst = burst->integer(1, max_rate_count);
  } else if (out.rate) {
    out.burst = out.rate->count;
  }

  if (const auto in_flight = node.get("max_in_flight")) {
    out.max_in_flight = static_cast<std::uint32_t>(in_flight->integer(1, UINT32_MAX));
  }

  if (!out.rate && out.max_in_flight == 0) node.fail("a limit needs rate, max_in_flight or both");

  if (out.rate && out.algo == algorithm::sliding_window &&
      out.rate->count > max_sliding_window_count) {
    rate_node->fail_value("sliding_window keeps one timestamp per admission, so its count is at "
                          "most " + std::to_string(max_sliding_window_count) +
                          "; use algorithm: token_bucket for higher rates");
  }

  if (const auto mode = node.get("mode")) {
    if (!mode->raw().IsScalar()) mode->fail("expected enforce or shadow, got " + mode->describe());
    const std::string m = mode->text();
    if (m == "shadow") out.shadow = true;
    else if (m != "enforce") mode->fail_value("expected enforce or shadow");
  }

  const auto name = node.get("name");
  out.name = name ? read_name(*name) : derived_limit_name(out);
  return out;
}

}  // namespace sluice::config
