#include "config/yaml_node.hpp"

#include <charconv>

#include "config/config_error.hpp"
#include "config/duration_parser.hpp"
#include "config/size_parser.hpp"

namespace sluice::config {
namespace {

std::string range_message(std::uint64_t min, std::uint64_t max) {
  if (max == UINT64_MAX) return "must be at least " + std::to_string(min);
  if (min == 0) return "must be at most " + std::to_string(max);
  return "must be between " + std::to_string(min) + " and " + std::to_string(max);
}

}  // namespace

std::string quoted(std::string_view value) {
  std::string out = "\"";
  for (const char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

yaml_node::yaml_node(const std::string& file, YAML::Node node)
    : yaml_node(&file, node, std::string(), node.Mark()) {}

yaml_node::yaml_node(const std::string* file, YAML::Node node, std::string path, YAML::Mark mark)
    : file_(file), node_(std::move(node)), path_(std::move(path)), mark_(mark) {}

void yaml_node::fail(const std::string& message) const {
  const int col = mark_.line >= 0 ? mark_.column + 1 : 0;
  throw config_error(*file_, line(), col, path_, message);
}

void yaml_node::fail_value(const std::string& message) const {
  if (node_.IsScalar()) fail(quoted(node_.Scalar()) + ": " + message);
  fail(message);
}

std::string yaml_node::describe() const {
  switch (node_.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return quoted(node_.Scalar());
    default: return "nothing";
  }
}

void yaml_node::expect_map() const {
  if (!node_.IsMap()) fail("expected a map, got " + describe());
}

std::vector<yaml_entry> yaml_node::entries() const {
  expect_map();
  std::vector<yaml_entry> out;
  out.reserve(node_.size());
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (!it->first.IsScalar()) {
      yaml_node(file_, it->first, path_, it->first.Mark())
          .fail("a key must be a plain word, got " + yaml_node(*file_, it->first).describe());
    }
    const std::string& key = it->first.Scalar();
    const std::string child_path = path_.empty() ? key : path_ + "." + key;
    // yaml-cpp marks an empty value at the next token, often on the next line; the key is
    // where the operator looks.
    const YAML::Mark value_mark = it->second.IsNull() ? it->first.Mark() : it->second.Mark();
    out.push_back({yaml_node(file_, it->first, child_path, it->first.Mark()),
                   yaml_node(file_, it->second, child_path, value_mark)});
  }
  return out;
}

std::optional<yaml_node> yaml_node::get(std::string_view key) const {
  for (yaml_entry& entry : entries()) {
    if (entry.key.raw().Scalar() == key) return std::move(entry.value);
  }
  return std::nullopt;
}

yaml_node yaml_node::require(std::string_view key) const {
  if (auto child = get(key)) return *child;
  fail("missing required key " + quoted(key));
}

std::vector<yaml_node> yaml_node::items() const {
  if (!node_.IsSequence()) {
    std::string message = "expected a list, got " + describe();
    if (node_.IsScalar()) message += " (write [" + node_.Scalar() + "] for a list of one)";
    fail(message);
  }
  std::vector<yaml_node> out;
  out.reserve(node_.size());
  std::size_t index = 0;
  for (const YAML::Node& element : node_) {
    const YAML::Mark mark = element.IsNull() ? mark_ : element.Mark();
    out.push_back(yaml_node(file_, element, path_ + "[" + std::to_string(index++) + "]", mark));
  }
  return out;
}

std::string yaml_node::text() const {
  if (!node_.IsScalar()) fail("expected a string, got " + describe());
  return node_.Scalar();
}

std::uint64_t yaml_node::integer(std::uint64_t min, std::uint64_t max) const {
  if (!node_.IsScalar()) fail("expected an integer, got " + describe());
  const std::string& s = node_.Scalar();
  std::string_view digits = s;
  const bool negative = !digits.empty() && digits.front() == '-';
  if (negative) digits.remove_prefix(1);
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || end != digits.data() + digits.size() ||
      (ec != std::errc{} && ec != std::errc::result_out_of_range)) {
    fail("expected an integer, got " + describe());
  }
  // "must be at most N, got -1" would read as if -1 were too large.
  if (negative && min == 0) fail("expected a non-negative integer, got " + s);
  if (negative || ec == std::errc::result_out_of_range || value < min || value > max) {
    fail(range_message(min, max) + ", got " + s);
  }
  return value;
}

bool yaml_node::boolean() const {
  // YAML 1.1's yes/no/on/off are refused on purpose: one spelling per meaning.
  if (node_.IsScalar()) {
    const std::string& s = node_.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  fail("expected true or false, got " + describe());
}

duration yaml_node::positive_duration(duration max) const {
  if (!node_.IsScalar()) fail("expected a duration such as 30s, got " + describe());
  std::string why;
  const auto value = parse_duration(node_.Scalar(), &why);
  if (!value) fail_value(why);
  if (value->count() <= 0) fail_value("must be greater than zero");
  if (*value > max) fail_value("must be at most " + format_duration(max));
  return *value;
}

std::uint64_t yaml_node::size(std::uint64_t min, std::uint64_t max) const {
  if (!node_.IsScalar()) fail("expected a size such as 16KiB, got " + describe());
  std::string why;
  const auto value = parse_size(node_.Scalar(), &why);
  if (!value) fail_value(why);
  if (*value < min || *value > max) {
    const std::uint64_t last = max == UINT64_MAX ? min : max;  // the number the message ends on
    fail_value(range_message(min, max) + (last == 1 ? " byte" : " bytes"));
  }
  return *value;
}

}  // namespace sluice::config
