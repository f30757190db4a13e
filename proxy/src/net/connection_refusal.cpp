#include "net/connection_refusal.hpp"

#include <sys/socket.h>

#include <array>
#include <string>

namespace sluice::net {
namespace {

std::string make_response(std::string_view body) {
  std::string out =
      "HTTP/1.1 503 Service Unavailable\r\n"
      "Content-Type: application/json\r\n"
      "Retry-After: 1\r\n"
      "Connection: close\r\n"
      "Content-Length: ";
  out += std::to_string(body.size());
  out += "\r\n\r\n";
  out += body;
  return out;
}

// Built once, before the first connection: a refusal allocates nothing.
const std::array<std::string, 4> responses{
    make_response(R"({"error":"too many client connections"})"),
    make_response(R"({"error":"too many connections from this client"})"),
    make_response(R"({"error":"too many admin connections"})"),
    make_response(R"({"error":"too many admin connections from this peer"})"),
};

}  // namespace

std::string_view refusal_response(refusal_answer which) {
  return responses[static_cast<std::size_t>(which)];
}

void send_refusal(int fd, refusal_answer which) {
  const std::string_view r = refusal_response(which);
  // MSG_NOSIGNAL: a client already gone must not raise SIGPIPE (it is ignored, but say so here).
  [[maybe_unused]] const auto sent = ::send(fd, r.data(), r.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

}  // namespace sluice::net
