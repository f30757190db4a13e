#include "net/upstream_response_parser.hpp"

#include <cstring>

#include <boost/beast/http/error.hpp>

namespace sluice::net {

std::string_view upstream_response_parser::keep(string_view s) {
  if (s.empty()) return {};
  auto* p = static_cast<char*>(arena_.allocate(s.size(), 1));
  std::memcpy(p, s.data(), s.size());
  return {p, s.size()};
}

void upstream_response_parser::on_response_impl(int code, string_view reason, int version,
                                                error_code&) {
  status_ = static_cast<unsigned>(code);
  reason_ = keep(reason);
  version_ = static_cast<unsigned>(version);
}

void upstream_response_parser::on_field_impl(boost::beast::http::field name,
                                             string_view name_string, string_view value,
                                             error_code&) {
  // Name and value in one allocation.
  auto* p = static_cast<char*>(arena_.allocate(name_string.size() + value.size(), 1));
  std::memcpy(p, name_string.data(), name_string.size());
  if (!value.empty()) std::memcpy(p + name_string.size(), value.data(), value.size());
  fields_.push_back({name, std::string_view(p, name_string.size()),
                     std::string_view(p + name_string.size(), value.size())});
}

// As buffer_body's reader: copy what fits, ask for a new buffer when it is full.
std::size_t upstream_response_parser::on_body_impl(string_view body, error_code& ec) {
  if (body_.data == nullptr) {
    ec = boost::beast::http::error::need_buffer;
    return 0;
  }
  const std::size_t n = std::min(body.size(), body_.size);
  std::memcpy(body_.data, body.data(), n);
  body_.data = static_cast<char*>(body_.data) + n;
  body_.size -= n;
  if (n != body.size()) ec = boost::beast::http::error::need_buffer;
  return n;
}

std::size_t upstream_response_parser::on_chunk_body_impl(std::uint64_t, string_view body,
                                                         error_code& ec) {
  return on_body_impl(body, ec);
}

}  // namespace sluice::net
