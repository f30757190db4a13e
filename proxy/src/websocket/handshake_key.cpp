#include "websocket/handshake_key.hpp"

#include <cctype>
#include <cstring>

// Beast's own handshake helpers and generator: detail names, but the very code its websocket
// stream runs, so the keys are made the way a Beast client or server makes them.
#include <boost/beast/websocket/detail/hybi13.hpp>
#include <boost/beast/websocket/detail/prng.hpp>

namespace sluice::websocket {
namespace bws = boost::beast::websocket::detail;

std::string make_key() {
  bws::sec_ws_key_type key;
  bws::make_sec_ws_key(key);
  return std::string(key.data(), key.size());
}

std::string accept_for(std::string_view key) {
  bws::sec_ws_accept_type accept;
  bws::make_sec_ws_accept(accept, boost::beast::string_view(key.data(), key.size()));
  return std::string(accept.data(), accept.size());
}

bool is_valid_key(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  for (const char c : key.substr(0, 22))
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/') return false;
  // Bits past the 128th in the last character are not checked: decoders ignore them too.
  return true;
}

mask_key make_mask_key() {
  const std::uint32_t v = bws::make_prng(true)();
  mask_key key;
  std::memcpy(key.data(), &v, 4);
  return key;
}

}  // namespace sluice::websocket
