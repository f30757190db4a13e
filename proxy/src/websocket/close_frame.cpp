#include "websocket/close_frame.hpp"

#include <algorithm>

namespace sluice::websocket {

close_frame make_close(std::uint16_t code, std::string_view reason) {
  close_frame f;
  f.size = write_close(code, reason, f.bytes);
  return f;
}

close_frame copy_close(std::span<const std::uint8_t> payload) {
  close_frame f;
  f.size = std::min(payload.size(), f.bytes.size());
  std::copy_n(payload.begin(), f.size, f.bytes.begin());
  return f;
}

}  // namespace sluice::websocket
