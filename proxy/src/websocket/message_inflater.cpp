#include "websocket/message_inflater.hpp"

#include <array>

namespace sluice::websocket {
namespace {
// RFC 7692 7.2.2: the sender removed this from the end of every message; put it back.
constexpr std::array<std::uint8_t, 4> empty_block_tail{0x00, 0x00, 0xFF, 0xFF};
}  // namespace

message_inflater::~message_inflater() { end(); }

bool message_inflater::begin(int window_bits) {
  stream_end_ = false;
  tail_left_ = 4;
  // Messages in a row reuse the stream (and the window it has allocated).
  if (active_ && window_bits == window_bits_) return inflateReset(&z_) == Z_OK;
  end();
  z_ = {};
  // Negative: raw deflate, no zlib header or checksum.
  if (inflateInit2(&z_, -window_bits) != Z_OK) return false;
  active_ = true;
  window_bits_ = window_bits;
  return true;
}

message_inflater::result message_inflater::inflate(std::span<const std::uint8_t> in,
                                                   std::span<std::uint8_t> out, bool last) {
  result r;
  if (stream_end_) {
    r.consumed = in.size();
    r.done = last;
    return r;
  }
  const bool feeding_tail = in.empty() && last && tail_left_ > 0;
  if (feeding_tail) {
    z_.next_in = const_cast<Bytef*>(empty_block_tail.data() + (4 - tail_left_));
    z_.avail_in = tail_left_;
  } else {
    z_.next_in = const_cast<Bytef*>(in.data());
    z_.avail_in = static_cast<uInt>(in.size());
  }
  z_.next_out = out.data();
  z_.avail_out = static_cast<uInt>(out.size());
  const int ret = ::inflate(&z_, Z_SYNC_FLUSH);
  if (feeding_tail) tail_left_ = static_cast<std::uint8_t>(z_.avail_in);
  else r.consumed = in.size() - z_.avail_in;
  r.produced = out.size() - z_.avail_out;
  if (ret == Z_STREAM_END) {
    stream_end_ = true;
    r.consumed = in.size();
    r.done = last;
  } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
    r.error = true;
  } else {
    // Done once the tail is in and zlib had room to spare: it has given everything it had.
    r.done = last && tail_left_ == 0 && z_.avail_out > 0;
  }
  return r;
}

void message_inflater::end() {
  if (!active_) return;
  inflateEnd(&z_);
  active_ = false;
}

}  // namespace sluice::websocket
