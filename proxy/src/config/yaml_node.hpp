#pragma once
// A YAML node together with its place (file, line, column, YAML path), and typed reads that
// raise config_error naming that place. The loader's one window onto yaml-cpp.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace sluice::config {

struct yaml_entry;

/// One node of the document, the path that leads to it (routes[2].limits[0].rate) and the mark
/// to point at. Cheap to copy; `file` must outlive it.
class yaml_node {
 public:
  /// The document root of `file`.
  yaml_node(const std::string& file, YAML::Node node);

  /// The yaml-cpp node itself.
  const YAML::Node& raw() const { return node_; }
  /// Dotted path from the root; empty for the root.
  const std::string& path() const { return path_; }
  /// 1-based line of the node (of its key when the value is empty); 0 when unknown.
  int line() const { return mark_.line >= 0 ? mark_.line + 1 : 0; }

  /// Throws config_error at this node: FILE:LINE:COL: PATH: message.
  [[noreturn]] void fail(const std::string& message) const;
  /// Like fail, with the node's own text in front: "\"60/minnute\": unknown unit ...".
  [[noreturn]] void fail_value(const std::string& message) const;

  /// How the node looks, for "expected X, got Y": "a map", "a list", "nothing", or its text quoted.
  std::string describe() const;
  /// True for an empty value or ~.
  bool is_null() const { return node_.IsNull(); }

  /// Fails unless the node is a map.
  void expect_map() const;
  /// The value under `key` in this map, if the key is present.
  std::optional<yaml_node> get(std::string_view key) const;
  /// The value under `key`; fails at this map when the key is missing.
  yaml_node require(std::string_view key) const;
  /// The keys and values of this map in document order; fails unless the node is a map whose
  /// keys are all plain scalars.
  std::vector<yaml_entry> entries() const;
  /// The elements of this list; fails unless the node is a list.
  std::vector<yaml_node> items() const;

  /// The scalar's text; fails on a map, a list or nothing.
  std::string text() const;
  /// An unsigned integer in [min, max].
  std::uint64_t integer(std::uint64_t min, std::uint64_t max) const;
  /// true or false.
  bool boolean() const;
  /// A duration such as 30s, greater than zero and at most `max`.
  duration positive_duration(duration max) const;
  /// A byte size such as 16384 or 16KiB, in [min, max].
  std::uint64_t size(std::uint64_t min, std::uint64_t max) const;

 private:
  yaml_node(const std::string* file, YAML::Node node, std::string path, YAML::Mark mark);

  const std::string* file_;
  YAML::Node node_;
  std::string path_;
  YAML::Mark mark_;
};

/// A key of a map and its value; both carry the key's path (routes[0].name).
struct yaml_entry {
  yaml_node key;
  yaml_node value;
};

/// The text of `value` in double quotes, with quotes and backslashes escaped.
std::string quoted(std::string_view value);

}  // namespace sluice::config
