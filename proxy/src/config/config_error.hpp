#pragma once
// The one error a config load can raise; it names the place in the file so an operator can fix it.

#include <stdexcept>
#include <string>

namespace sluice::config {

/// A config problem at file:line:col (1-based), at a YAML path such as routes[2].limits[0].rate.
class config_error : public std::runtime_error {
 public:
  /// line/col 0 means the problem is not tied to a place (e.g. the file cannot be read).
  config_error(std::string file, int line, int col, std::string yaml_path, std::string message);

  const std::string& file() const noexcept { return file_; }
  int line() const noexcept { return line_; }
  int col() const noexcept { return col_; }
  const std::string& yaml_path() const noexcept { return yaml_path_; }
  const std::string& message() const noexcept { return message_; }

 private:
  std::string file_;
  int line_;
  int col_;
  std::string yaml_path_;
  std::string message_;
};

}  // namespace sluice::config
