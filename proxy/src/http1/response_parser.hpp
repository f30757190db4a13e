#pragma once
// The parser for upstream responses (HTTP/1.0 and 1.1). A proxy reads every field of every
// response and acts on a handful (framing, Connection and the hop-by-hop set); Beast's parser
// looks every name up in its table of 350 and re-parses token lists as it goes, which came to a
// fifth of a proxied request's instructions. In this one names are classed by length and then
// compared, and values are checked for control characters (a bare CR or LF in a value would let
// an upstream split the client's response). The body is decoded piece by piece into the
// caller's buffer: Content-Length, chunked (extensions skipped; trailers read and dropped, 16 KiB
// of them at most) or, when neither is given, up to the close.
//
// The head is parsed in one pass over the bytes as read, then copied once into the header arena
// (views moved onto the copy); values are scanned eight bytes at a time for control characters.
//
// It speaks Beast's error codes (need_more, need_buffer, bad_*), so the read loops in net/ drive
// it and Beast's request parser alike. Stricter than Beast on two points, both answered 502: a
// folded field line (RFC 9112 lets a proxy refuse it) and a status below 100.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/container/small_vector.hpp>
#include <boost/system/error_code.hpp>

#include "http1/header_arena.hpp"

namespace sluice::http1 {

/// One response field as received (value without surrounding whitespace).
struct response_field {
  /// Set only for the names a proxy acts on (framing, Connection, the hop-by-hop ones); every
  /// other name is field::unknown.
  boost::beast::http::field id = boost::beast::http::field::unknown;
  bool is_request_id = false;  ///< X-Request-Id, which sluice sets itself
  std::string_view name_view;
  std::string_view value_view;

  // The names Beast's field type uses, so code can walk either kind of head the same way.
  boost::beast::http::field name() const { return id; }
  std::string_view name_string() const { return name_view; }
  std::string_view value() const { return value_view; }
};

/// Where body bytes go: the caller sets both before each read; `size` shrinks as bytes arrive.
struct body_window {
  void* data = nullptr;
  std::size_t size = 0;
};

/// Parses one upstream response; its fields and reason live in `arena` until its next reset.
class response_parser {
 public:
  using fields_type = boost::container::small_vector<response_field, 16>;
  using error_code = boost::system::error_code;

  explicit response_parser(header_arena& arena) : arena_(arena) {}

  /// The longest head accepted (status line, fields and the empty line); default 64 KiB.
  void header_limit(std::size_t n) { header_limit_ = n; }
  /// The answer to a HEAD: no body, whatever its fields say.
  void skip(bool v) { skip_body_ = v; }

  /// Consumes what it can of `in`. The head is taken whole, once it has all arrived; then body
  /// bytes are copied into body(). need_more: more input wanted; need_buffer: body() is full.
  std::size_t put(boost::asio::const_buffer in, error_code& ec);
  /// The upstream closed: ends a body delimited by the close; anything else is cut short
  /// (partial_message, or end_of_stream when not a byte had come).
  void put_eof(error_code& ec);

  bool got_some() const { return got_some_; }
  bool is_header_done() const { return state_ != state::head; }
  bool is_done() const { return state_ == state::done; }
  /// The connection may carry another response (Connection and version say so, and the body
  /// does not end at the close).
  bool keep_alive() const;
  bool chunked() const { return chunked_; }
  /// The body ends when the upstream closes the connection.
  bool need_eof() const { return need_eof_; }
  std::optional<std::uint64_t> content_length() const { return content_length_; }

  unsigned result_int() const { return status_; }
  std::string_view reason() const { return reason_; }
  unsigned version() const { return version_; }
  /// The fields in the order received.
  const fields_type& fields() const { return fields_; }
  body_window& body() { return body_; }

 private:
  enum class state : std::uint8_t {
    head, body_length, body_eof, chunk_size, chunk_data, chunk_data_end, trailer, done
  };

  std::size_t put_head(const char* p, std::size_t n, error_code& ec);
  /// The head's size when [p, p+n) holds all of it; 0 when it needs more, or on error (`ec`).
  std::size_t parse_head(const char* p, std::size_t n, error_code& ec);
  void on_field(response_field& f, error_code& ec);
  void finish_head();
  std::size_t put_body(const char* p, std::size_t n, error_code& ec);
  std::size_t copy_body(const char* p, std::size_t n);

  header_arena& arena_;
  fields_type fields_;
  std::string_view reason_;
  body_window body_;
  std::size_t header_limit_ = 64 * 1024;
  std::size_t scanned_ = 0;  // head bytes already seen (0: not a byte yet)
  std::uint64_t remaining_ = 0;  // of the body (Content-Length) or of the current chunk
  std::size_t trailer_bytes_ = 0;  // of the trailer section so far (capped at 16 KiB)
  std::optional<std::uint64_t> content_length_;
  unsigned status_ = 0;
  unsigned version_ = 11;
  state state_ = state::head;
  bool got_some_ = false;
  bool skip_body_ = false;
  bool chunked_ = false;
  bool transfer_encoding_ = false;
  bool need_eof_ = false;    // the body ends at the close: no keep-alive
  bool close_ = false;       // Connection: close
  bool keep_alive_ = false;  // Connection: keep-alive
};

}  // namespace sluice::http1
