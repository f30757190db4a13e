#include "websocket/message_deflater.hpp"

#include <algorithm>
#include <cstring>

namespace sluice::websocket {

message_deflater::~message_deflater() { end(); }

bool message_deflater::begin(int window_bits, int mem_level, int level) {
  held_n_ = 0;
  // Messages in a row reuse the stream: a reset costs a memset of the hash table, not an
  // allocation of the window.
  if (active_ && window_bits == window_bits_ && mem_level == mem_level_ && level == level_)
    return deflateReset(&z_) == Z_OK;
  end();
  z_ = {};
  if (deflateInit2(&z_, level, Z_DEFLATED, -window_bits, mem_level, Z_DEFAULT_STRATEGY) != Z_OK)
    return false;
  active_ = true;
  window_bits_ = window_bits;
  mem_level_ = mem_level;
  level_ = level;
  return true;
}

message_deflater::result message_deflater::deflate(std::span<const std::uint8_t> in,
                                                   std::span<std::uint8_t> out, bool last) {
  result r;
  std::memcpy(out.data(), held_.data(), held_n_);
  const std::size_t start = held_n_;
  held_n_ = 0;
  z_.next_in = const_cast<Bytef*>(in.data());
  z_.avail_in = static_cast<uInt>(in.size());
  z_.next_out = out.data() + start;
  z_.avail_out = static_cast<uInt>(out.size() - start);
  // Z_BUF_ERROR: nothing to do (the flush was already complete); not an error.
  const int ret = ::deflate(&z_, Z_SYNC_FLUSH);
  if (ret != Z_OK && ret != Z_BUF_ERROR) {
    r.error = true;
    return r;
  }
  r.consumed = in.size() - z_.avail_in;
  const std::size_t total = out.size() - z_.avail_out;
  // zlib's rule: a full output means it may have more; call again until it leaves room.
  r.more = z_.avail_out == 0;
  // The last 4 bytes out are always held back: every flush ends with 00 00 FF FF, and when the
  // message's last call adds nothing (its input was empty), the tail to strip is the one the
  // call before it ended with. The data is not delayed: a block's last symbol and its end code
  // come before the marker.
  const std::size_t keep = std::min<std::size_t>(4, total);
  r.produced = total - keep;
  if (last && !r.more) {
    held_n_ = 0;  // the message's tail, left out as RFC 7692 7.2.1 asks
  } else {
    held_n_ = keep;
    std::memcpy(held_.data(), out.data() + r.produced, keep);
  }
  return r;
}

void message_deflater::end() {
  if (!active_) return;
  deflateEnd(&z_);
  active_ = false;
}

}  // namespace sluice::websocket
