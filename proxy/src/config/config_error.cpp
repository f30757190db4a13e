#include "config/config_error.hpp"

#include <utility>

namespace sluice::config {
namespace {

// FILE:LINE:COL: PATH: message; the place and the path are left out when unknown, so an
// unreadable file reads "sluice.yaml: cannot read file: ..." rather than "sluice.yaml:0:0: : ...".
std::string compose(const std::string& file, int line, int col, const std::string& yaml_path,
                    const std::string& message) {
  std::string out = file;
  if (line > 0) {
    out += ':' + std::to_string(line) + ':' + std::to_string(col > 0 ? col : 1);
  }
  out += ": ";
  if (!yaml_path.empty()) out += yaml_path + ": ";
  out += message;
  return out;
}

}  // namespace

config_error::config_error(std::string file, int line, int col, std::string yaml_path,
                           std::string message)
    : std::runtime_error(compose(file, line, col, yaml_path, message)),
      file_(std::move(file)),
      line_(line),
      col_(col),
      yaml_path_(std::move(yaml_path)),
      message_(std::move(message)) {}

}  // namespace sluice::config
