#include "websocket/message_deflater.hpp"

#include <algorithm>
#include <cstring>

namespace sluice::websocket {

message_deflater::~message_deflater() { end(); }

bool message_deflater::begin(int window_bits, int mem_level, int level) {
  end();
  z_ = {};
  if (deflateInit2(&z_, level, Z_DEFLATED, -window_bits, mem_level, Z_DEFAULT_STRATEGY) != Z_OK)
    return false;
  active_ = true;
  held_n_ = 0;
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
  if (r.more) {
    held_n_ = std::min<std::size_t>(4, total);
    std::memcpy(held_.data(), out.data() + total - held_n_, held_n_);
    r.produced = total - held_n_;
  } else if (last && total >= 4) {
    r.produced = total - 4;  // the sync flush's empty block tail, 00 00 FF FF
  } else {
    r.produced = total;
  }
  return r;
}

void message_deflater::end() {
  if (!active_) return;
  deflateEnd(&z_);
  active_ = false;
}

}  // namespace sluice::websocket
