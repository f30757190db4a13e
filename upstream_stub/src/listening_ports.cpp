#include "listening_ports.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace sluice::stub {

namespace {

/// The kernel prints addresses as 32-bit words in host byte order; turn them back into bytes.
std::string address_text(const std::string& hex, int family) {
  std::array<unsigned char, 16> bytes{};
  const std::size_t words = hex.size() / 8;
  for (std::size_t w = 0; w < words && w < 4; ++w) {
    const auto word =
        static_cast<std::uint32_t>(std::strtoul(hex.substr(w * 8, 8).c_str(), nullptr, 16));
    std::memcpy(bytes.data() + w * 4, &word, 4);
  }
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (inet_ntop(family, bytes.data(), text.data(), text.size()) == nullptr) {
    return hex;
  }
  return text.data();
}

void read_table(const char* path, int family, std::vector<listening_port>& out) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // column titles
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    if (!(fields >> slot >> local >> remote >> state) || state != "0A") {
      continue;
    }
    const auto colon = local.find(':');
    if (colon == std::string::npos) {
      continue;
    }
    listening_port entry;
    entry.port = static_cast<std::uint16_t>(std::strtoul(local.c_str() + colon + 1, nullptr, 16));
    entry.address = address_text(local.substr(0, colon), family);
    entry.family = family == AF_INET ? "ipv4" : "ipv6";
    out.push_back(std::move(entry));
  }
}

}  // namespace

std::vector<listening_port> listening_port::read_all() {
  std::vector<listening_port> ports;
  read_table("/proc/net/tcp", AF_INET, ports);
  read_table("/proc/net/tcp6", AF_INET6, ports);
  std::sort(ports.begin(), ports.end(), [](const listening_port& a, const listening_port& b) {
    return a.port != b.port ? a.port < b.port : a.address < b.address;
  });
  return ports;
}

}  // namespace sluice::stub
