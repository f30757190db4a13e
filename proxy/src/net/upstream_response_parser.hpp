#pragma once
// The parser for upstream responses. Beast's parser<false, Body, Fields> files every field into
// a case-insensitive tree; sluice only ever walks a response's fields once, in order, to build
// the client's head. So this one keeps them in a flat list of views into the connection's
// header arena, and takes the body piece by piece into the caller's buffer, as buffer_body
// does. Parsing itself (status line, fields, framing, chunked decoding) is Beast's.

#include <cstdint>
#include <string_view>

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/container/small_vector.hpp>

#include "net/header_arena.hpp"

namespace sluice::net {

/// One response field as received.
struct response_field {
  boost::beast::http::field id;  ///< field::unknown for names Beast does not know
  std::string_view name_view;
  std::string_view value_view;

  // The names Beast's field type uses, so code can walk either kind of head the same way.
  boost::beast::http::field name() const { return id; }
  std::string_view name_string() const { return name_view; }
  std::string_view value() const { return value_view; }
};

/// Parses one upstream response; fields and reason live in `arena` until its next reset.
class upstream_response_parser : public boost::beast::http::basic_parser<false> {
 public:
  using fields_type = boost::container::small_vector<response_field, 16>;

  explicit upstream_response_parser(header_arena& arena) : arena_(arena) {}

  unsigned result_int() const { return status_; }
  std::string_view reason() const { return reason_; }
  unsigned version() const { return version_; }
  /// The fields in the order received.
  const fields_type& fields() const { return fields_; }
  /// Where body bytes go: set data/size before each read; size shrinks as bytes arrive.
  boost::beast::http::buffer_body::value_type& body() { return body_; }

 private:
  using error_code = boost::system::error_code;
  using string_view = boost::beast::string_view;

  std::string_view keep(string_view s);

  void on_request_impl(boost::beast::http::verb, string_view, string_view, int,
                       error_code&) override {}
  void on_response_impl(int code, string_view reason, int version, error_code& ec) override;
  void on_field_impl(boost::beast::http::field name, string_view name_string, string_view value,
                     error_code& ec) override;
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(string_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override;
  void on_finish_impl(error_code&) override {}

  header_arena& arena_;
  fields_type fields_;
  std::string_view reason_;
  unsigned status_ = 0;
  unsigned version_ = 11;
  boost::beast::http::buffer_body::value_type body_{};
};

}  // namespace sluice::net
