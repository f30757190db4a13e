#include "http1/response_parser.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <boost/beast/http/error.hpp>

using sluice::http1::header_arena;
using sluice::http1::response_parser;
using boost::beast::http::error;
using boost::beast::http::field;
using error_code = boost::system::error_code;

namespace {

struct outcome {
  error_code ec;
  bool header_done = false;
  bool done = false;
  std::string body;
  std::string rest;  // input left over after the message
};

// Drives the parser the way net/http_io.cpp does: the head is offered until it is whole, then
// body pieces go through a window of `window` bytes. Input arrives in pieces of `step` bytes
// (0: all at once); at its end the upstream "closes" unless `eof` is false.
outcome run(response_parser& p, std::string_view wire, std::size_t step = 0,
            std::size_t window = 7, bool eof = true) {
  outcome out;
  std::string pending;
  std::size_t fed = 0;
  auto feed = [&] {
    if (fed == wire.size()) return false;
    const std::size_t k = step == 0 ? wire.size() - fed : std::min(step, wire.size() - fed);
    pending.append(wire.substr(fed, k));
    fed += k;
    return true;
  };
  feed();
  std::vector<char> buf(window);
  for (int guard = 0; guard < 100000; ++guard) {
    error_code ec;
    if (!p.is_header_done()) {
      const auto n = p.put(boost::asio::buffer(pending), ec);
      pending.erase(0, n);
      if (ec == error::need_more) {
        if (feed()) continue;
        if (eof) p.put_eof(ec);
        out.ec = ec;
        break;
      }
      if (ec) {
        out.ec = ec;
        break;
      }
      out.header_done = true;
      continue;
    }
    if (p.is_done()) break;
    p.body().data = buf.data();
    p.body().size = buf.size();
    const auto n = p.put(boost::asio::buffer(pending), ec);
    pending.erase(0, n);
    out.body.append(buf.data(), buf.size() - p.body().size);
    if (ec == error::need_buffer) continue;
    if (ec == error::need_more || (!ec && n == 0 && !p.is_done())) {
      if (feed()) continue;
      if (eof) {
        p.put_eof(ec);
        out.ec = ec;
      }
      break;
    }
    if (ec) {
      out.ec = ec;
      break;
    }
  }
  out.done = p.is_done();
  out.rest = pending;
  return out;
}

// The same response must come out the same however the bytes are split.
void check_every_split(std::string_view wire, std::string_view body, bool head = false) {
  for (std::size_t step = 1; step <= wire.size(); ++step) {
    header_arena arena;
    response_parser p(arena);
    p.skip(head);
    const auto o = run(p, wire, step, 1 + step % 5);
    CAPTURE(step);
    REQUIRE_FALSE(o.ec);
    CHECK(o.done);
    CHECK(o.body == body);
  }
}

}  // namespace

TEST_CASE("response_parser: status line, fields in order, Content-Length body") {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nServer: up\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n"
      "X-Request-Id: abc\r\nConnection: keep-alive\r\n\r\nhello worldNEXT";
  header_arena arena;
  response_parser p(arena);
  const auto o = run(p, wire, 0, 64, false);
  REQUIRE_FALSE(o.ec);
  CHECK(o.done);
  CHECK(o.body == "hello world");
  CHECK(o.rest == "NEXT");  // the next response's bytes are not taken
  CHECK(p.result_int() == 200);
  CHECK(p.reason() == "OK");
  CHECK(p.version() == 11);
  CHECK(p.keep_alive());
  CHECK_FALSE(p.chunked());
  REQUIRE(p.content_length());
  CHECK(*p.content_length() == 11);
  const auto& f = p.fields();
  REQUIRE(f.size() == 5);
  CHECK(f[0].name_string() == "Server");
  CHECK(f[0].value() == "up");
  CHECK(f[0].name() == field::unknown);
  CHECK(f[1].name_string() == "Content-Type");
  CHECK(f[2].name() == field::content_length);
  CHECK(f[3].is_request_id);
  CHECK(f[4].name() == field::connection);
  check_every_split(wire.substr(0, wire.size() - 4), "hello world");
}

TEST_CASE("response_parser: names classed whatever their case; values trimmed") {
  const std::string wire =
      "HTTP/1.1 204 No Content\r\ncOnNeCtIoN:  Close \t\r\nTE: trailers\r\nTRAILER: x\r\n"
      "upgrade: h2c\r\nKeep-Alive: timeout=5\r\nproxy-connection: keep-alive\r\n"
      "Proxy-Authenticate: Basic\r\nProxy-Authorization: x\r\nx-request-ID: 1\r\n"
      "X-Request-Idx: 2\r\nContent-Lengths: 3\r\nEmpty:\r\n\r\n";
  header_arena arena;
  response_parser p(arena);
  const auto o = run(p, wire);
  REQUIRE_FALSE(o.ec);
  CHECK(o.done);
  const auto& f = p.fields();
  REQUIRE(f.size() == 12);
  CHECK(f[0].name() == field::connection);
  CHECK(f[0].value() == "Close");
  CHECK(f[1].name() == field::te);
  CHECK(f[2].name() == field::trailer);
  CHECK(f[3].name() == field::upgrade);
  CHECK(f[4].name() == field::keep_alive);
  CHECK(f[5].name() == field::proxy_connection);
  CHECK(f[6].name() == field::proxy_authenticate);
  CHECK(f[7].name() == field::proxy_authorization);
  CHECK(f[8].is_request_id);
  CHECK_FALSE(f[9].is_request_id);
  CHECK(f[10].name() == field::unknown);
  CHECK(f[11].value().empty());
  CHECK_FALSE(p.keep_alive());  // Connection: Close
}

TEST_CASE("response_parser: keep-alive by version and Connection") {
  auto keep = [](std::string wire) {
    header_arena arena;
    response_parser p(arena);
    const auto o = run(p, wire, 0, 64, false);
    REQUIRE_FALSE(o.ec);
    return p.keep_alive();
  };
  CHECK(keep("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
  CHECK_FALSE(keep("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: upgrade, close\r\n\r\n"));
  CHECK_FALSE(keep("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nProxy-Connection: close\r\n\r\n"));
  CHECK_FALSE(keep("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
  CHECK(keep("HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: Keep-Alive\r\n\r\n"));
  // A body that runs to the close ends the connection with it.
  CHECK_FALSE(keep("HTTP/1.1 200 OK\r\n\r\n"));
}

TEST_CASE("response_parser: chunked bodies, extensions and trailers, split anywhere") {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n1;ext=\"v\"\r\n \r\n00006 ; a=b\r\nworld!\r\nA\r\n0123456789\r\n"
      "0\r\nX-Trailer: t\r\nOther: u\r\n\r\n";
  check_every_split(wire, "hello world!0123456789");
  header_arena arena;
  response_parser p(arena);
  const auto o = run(p, wire + "HTTP/1.1", 0, 64, false);
  CHECK(p.chunked());
  CHECK_FALSE(p.content_length());
  CHECK(p.keep_alive());
  CHECK(o.rest == "HTTP/1.1");
  CHECK(p.fields().size() == 1);  // trailers are dropped, not added to the head
}

TEST_CASE("response_parser: chunked is the final coding only") {
  {
    header_arena arena;
    response_parser p(arena);
    const auto o = run(p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: Chunked\r\n\r\n"
                          "3\r\nabc\r\n0\r\n\r\n");
    REQUIRE_FALSE(o.ec);
    CHECK(p.chunked());
    CHECK(o.body == "abc");
  }
  {
    // chunked, then gzip: the body runs to the close (RFC 9112 6.3).
    header_arena arena;
    response_parser p(arena);
    const auto o = run(p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nraw bytes");
    REQUIRE_FALSE(o.ec);
    CHECK_FALSE(p.chunked());
    CHECK_FALSE(p.keep_alive());
    CHECK(o.body == "raw bytes");
  }
}

TEST_CASE("response_parser: bodies that end at the close") {
  check_every_split("HTTP/1.1 200 OK\r\nContent-Type: a\r\n\r\nuntil the end", "until the end");
  header_arena arena;
  response_parser p(arena);
  const auto o = run(p, "HTTP/1.0 200 OK\r\n\r\n");
  REQUIRE_FALSE(o.ec);
  CHECK(o.done);
  CHECK(o.body.empty());
}

TEST_CASE("response_parser: no body for HEAD, 1xx, 204 and 304, whatever the fields say") {
  check_every_split("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n", "", true);
  for (const char* status : {"100 Continue", "103 Early Hints", "204 No Content", "304 Not Modified"}) {
    header_arena arena;
    response_parser p(arena);
    const auto o = run(p, std::string("HTTP/1.1 ") + status + "\r\nContent-Length: 8\r\n\r\nSMUGGLED", 0,
                       64, false);
    CAPTURE(status);
    REQUIRE_FALSE(o.ec);
    CHECK(o.done);
    CHECK(o.rest == "SMUGGLED");  // left for the caller, which never pools such a connection
  }
}

TEST_CASE("response_parser: a repeated Content-Length of one value is that value") {
  header_arena arena;
  response_parser p(arena);
  const auto o = run(p, "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc", 0, 64,
                     false);
  REQUIRE_FALSE(o.ec);
  CHECK(o.body == "abc");
}

TEST_CASE("response_parser: a reason may be empty or missing") {
  for (const char* line : {"HTTP/1.1 200 \r\n", "HTTP/1.1 200\r\n"}) {
    header_arena arena;
    response_parser p(arena);
    const auto o = run(p, std::string(line) + "Content-Length: 0\r\n\r\n", 0, 64, false);
    CAPTURE(line);
    REQUIRE_FALSE(o.ec);
    CHECK(p.result_int() == 200);
    CHECK(p.reason().empty());
  }
}

TEST_CASE("response_parser: malformed heads are refused with the matching error") {
  struct bad_case {
    const char* wire;
    error expected;
  };
  const bad_case cases[] = {
      {"HTTP/2.0 200 OK\r\n\r\n", error::bad_version},
      {"HTTP/1.2 200 OK\r\n\r\n", error::bad_version},
      {"HTTX/1.1 200 OK\r\n\r\n", error::bad_version},
      {"HTTP/1.1  200 OK\r\n\r\n", error::bad_status},
      {"HTTP/1.1 2x0 OK\r\n\r\n", error::bad_status},
      {"HTTP/1.1 099 Low\r\n\r\n", error::bad_status},
      {"HTTP/1.1 2000 OK\r\n\r\n", error::bad_reason},
      {"HTTP/1.1 200 O\x01K\r\n\r\n", error::bad_reason},
      {"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", error::bad_field},
      {"HTTP/1.1 200 OK\r\nName : x\r\n\r\n", error::bad_field},  // space before the colon
      {"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", error::bad_field},
      {"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", error::bad_field},
      {"HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n", error::bad_field},  // obs-fold
      {"HTTP/1.1 200 OK\r\nA: b\nInjected: yes\r\n\r\n", error::bad_value},  // bare LF
      {"HTTP/1.1 200 OK\r\nA: b\rInjected: yes\r\n\r\n", error::bad_value},  // bare CR
      {"HTTP/1.1 200 OK\r\nA: b\x7f\r\n\r\n", error::bad_value},
      {"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n", error::bad_content_length},
      {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", error::bad_content_length},
      {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", error::bad_content_length},
      {"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", error::bad_content_length},
      {"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", error::bad_content_length},
      {"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", error::bad_content_length},
      {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", error::bad_transfer_encoding},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", error::bad_content_length},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", error::bad_transfer_encoding},
  };
  for (const auto& c : cases) {
    // Whole, and a byte at a time (the head is then parsed once its end has been seen).
    for (const std::size_t step : {std::size_t{0}, std::size_t{1}}) {
      header_arena arena;
      response_parser p(arena);
      const auto o = run(p, c.wire, step);
      CAPTURE(std::string(c.wire));
      CAPTURE(step);
      CHECK(o.ec == c.expected);
      CHECK_FALSE(o.header_done);
    }
  }
}

TEST_CASE("response_parser: a head too short to hold a status line is refused once it ends") {
  for (const char* wire : {"HTTP/\r\n\r\n", "HTTP/1.1\r\n\r\n", "HTTP/1.1 20\r\n\r\n"}) {
    for (const std::size_t step : {std::size_t{0}, std::size_t{1}}) {
      header_arena arena;
      response_parser p(arena);
      const auto o = run(p, wire, step);
      CAPTURE(std::string(wire));
      CAPTURE(step);
      CHECK(o.ec);
      CHECK(o.ec != error::partial_message);
    }
  }
}

TEST_CASE("response_parser: malformed chunk framing is refused") {
  const char* bodies[] = {
      "z\r\n",                        // no hex digit
      "5\r\nhelloXX",                 // no CRLF after the data
      "5 x\r\nhello\r\n",             // junk after the size
      "11111111111111111\r\n",        // more than 64 bits
      "0\r\nbad trailer\r\n\r\n",     // a trailer line that is not a field
      "3;a=\x01\r\nabc\r\n0\r\n\r\n",  // a control character in an extension
  };
  for (const char* b : bodies) {
    header_arena arena;
    response_parser p(arena);
    const auto o = run(p, std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") + b);
    CAPTURE(std::string(b));
    CHECK(o.header_done);
    CHECK(o.ec);
    CHECK_FALSE(o.done);
  }
}

TEST_CASE("response_parser: a cut-short message is partial; nothing at all is end_of_stream") {
  const char* cuts[] = {
      "HTTP/1.1 200 OK\r\nContent-Le",
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
  };
  for (const char* cut : cuts) {
    header_arena arena;
    response_parser p(arena);
    const auto o = run(p, cut);
    CAPTURE(std::string(cut));
    CHECK(o.ec == error::partial_message);
  }
  header_arena arena;
  response_parser p(arena);
  error_code ec;
  p.put_eof(ec);
  CHECK(ec == error::end_of_stream);
  CHECK_FALSE(p.got_some());
}

TEST_CASE("response_parser: the header limit bounds a head that never ends, and one that does") {
  {
    header_arena arena;
    response_parser p(arena);
    p.header_limit(64);
    const auto o = run(p, "HTTP/1.1 200 OK\r\nX: " + std::string(100, 'a'), 10);
    CHECK(o.ec == error::header_limit);
  }
  {
    header_arena arena;
    response_parser p(arena);
    p.header_limit(64);
    const auto o = run(p, "HTTP/1.1 200 OK\r\nX: " + std::string(50, 'a') + "\r\n\r\n");
    CHECK(o.ec == error::header_limit);
  }
}

TEST_CASE("response_parser: the head is copied, so the caller's buffer may be reused") {
  std::string wire = "HTTP/1.1 201 Created\r\nLocation: /x/1\r\nContent-Length: 0\r\n\r\n";
  header_arena arena;
  response_parser p(arena);
  error_code ec;
  const auto n = p.put(boost::asio::buffer(wire), ec);
  REQUIRE_FALSE(ec);
  CHECK(n == wire.size());
  std::fill(wire.begin(), wire.end(), '#');
  CHECK(p.reason() == "Created");
  CHECK(p.fields()[0].value() == "/x/1");
  CHECK(p.is_done());
}

TEST_CASE("response_parser: a big head arriving in read-sized pieces comes through whole") {
  const std::string cookie(40 * 1024, 'c');
  const std::string wire = "HTTP/1.1 200 OK\r\nSet-Cookie: " + cookie +
                           "\r\nX-After: 1\r\nContent-Length: 3\r\n\r\nabc";
  for (const std::size_t step : {std::size_t{16 * 1024}, std::size_t{1000}, std::size_t{0}}) {
    header_arena arena;
    response_parser p(arena);
    const auto o = run(p, wire, step, 64, false);
    CAPTURE(step);
    REQUIRE_FALSE(o.ec);
    CHECK(o.body == "abc");
    REQUIRE(p.fields().size() == 3);
    CHECK(p.fields()[0].value() == cookie);
    CHECK(p.fields()[1].name_string() == "X-After");
  }
}

TEST_CASE("response_parser: the trailer section is bounded as a whole") {
  std::string wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n";
  for (int i = 0; i < 2000; ++i) wire += "X-T: " + std::to_string(i) + "\r\n";  // ~20 KiB
  wire += "\r\n";
  header_arena arena;
  response_parser p(arena);
  const auto o = run(p, wire, 512);
  CHECK(o.ec == error::header_limit);
  CHECK_FALSE(o.done);
}

TEST_CASE("response_parser: an empty buffer is no input, in the head and in the body") {
  // Asio's buffer() of an empty container has a null data pointer; the head's search for its
  // end once did pointer arithmetic on it (UBSan: "applying non-zero offset 4 to null pointer",
  // found by the response_parser fuzz target; the sanitizer build checks this test).
  header_arena arena;
  response_parser p(arena);
  error_code ec;
  CHECK(p.put(boost::asio::const_buffer(), ec) == 0);
  CHECK(ec == error::need_more);
  CHECK_FALSE(p.got_some());
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
  CHECK(p.put(boost::asio::buffer(head.data(), 5), ec) == 0);
  CHECK(ec == error::need_more);
  CHECK(p.put(boost::asio::const_buffer(), ec) == 0);
  CHECK(ec == error::need_more);
  CHECK(p.put(boost::asio::buffer(head), ec) == head.size());
  REQUIRE_FALSE(ec);
  char body[4];
  p.body().data = body;
  p.body().size = sizeof body;
  CHECK(p.put(boost::asio::const_buffer(), ec) == 0);
  CHECK(ec == error::need_more);
  CHECK(p.put(boost::asio::buffer("ok", 2), ec) == 2);
  CHECK(p.is_done());
}
