#include "net/upstream_exchange.hpp"

#include <memory>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

#include "common/log.hpp"
#include "net/downstream_session.hpp"
#include "net/forwarding_head.hpp"
#include "net/head_writer.hpp"
#include "net/http_io.hpp"
#include "net/rate_limit_headers.hpp"
#include "net/request_exchange.hpp"
#include "net/worker.hpp"

namespace sluice::net {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

using namespace std::string_view_literals;

namespace {

constexpr auto nothrow = asio::as_tuple(use_task);
constexpr std::size_t body_chunk = 16 * 1024;
// Upstream responses are trusted more than clients, but cookies and CSP make big heads.
constexpr std::uint32_t upstream_header_limit = 64 * 1024;
// Interim answers (100, 103) read past before the response; more is a broken upstream.
constexpr int max_interim_responses = 8;
constexpr std::string_view continue_100 = "HTTP/1.1 100 Continue\r\n\r\n";

// One buffer per connection, made on first use and never zero-filled: it is only ever written
// before it is read.
char* body_buffer(std::unique_ptr<char[]>& buf) {
  if (!buf) buf = std::make_unique_for_overwrite<char[]>(body_chunk);
  return buf.get();
}

}  // namespace

bool upstream_exchange::fail(http::status status, std::string_view message) {
  error_ = status;
  error_message_ = message;
  return false;
}

// The client's head: the upstream's status and fields less hop-by-hop ones, framed for the
// client's HTTP version, with sluice's own fields added.
void upstream_exchange::write_client_head(const http1::response_parser& res, bool keep_alive,
                                          bool drop_transfer_encoding, std::string& out) const {
  const auto reason = res.reason().empty() ? std::string_view(http::obsolete_reason(
                                                 static_cast<http::status>(res.result_int())))
                                           : res.reason();
  std::size_t estimate = 64 + reason.size() + ex_.request_id_.size();
  for (const auto& f : res.fields()) estimate += f.name_string().size() + f.value().size() + 4;
  if (ex_.decided_)
    estimate += ex_.snap_->policy_lines(*ex_.route_).size() +
                ratelimit_field_estimate(ex_.snap_->quoted_names(*ex_.route_));
  head_writer w(out, estimate);
  w.put(ex_.version_ == 10 ? "HTTP/1.0 "sv : "HTTP/1.1 "sv);
  w.number(res.result_int());
  w.put(' ');
  w.put(reason);
  w.put("\r\n"sv);
  write_response_fields(res, drop_transfer_encoding, w);
  if (ex_.version_ == 10 && keep_alive) w.put("Connection: keep-alive\r\n"sv);
  if (ex_.version_ != 10 && !keep_alive) w.put("Connection: close\r\n"sv);
  ex_.append_rate_limit_fields(w);
  w.field("X-Request-Id", ex_.request_id_);
  w.put("\r\n"sv);
}

// Its frame is allocated per request and stays under Asio's 1020-byte limit for recycled blocks
// (992 bytes with GCC 12): the response parser is a member, errors are answered by the request exchange. A
// frame over the limit costs a malloc and a free per request (bench/profile.sh shows them).
task<bool> upstream_exchange::run() {
  auto& req = ex_.parser_.get();
  auto& client = ex_.session_.socket_;
  auto& client_dl = ex_.session_.dl_;
  auto& pool = ex_.session_.owner_.pool();
  const auto& up = ex_.cfg_.upstream;
  const auto body_timeout = ex_.cfg_.timeouts.body;

  // The decision is made; now the client may send its body. Expect is hop-by-hop for us.
  if (beast::iequals(ex_.expect_, "100-continue")) {
    if (!ex_.parser_.is_done()) {
      client_dl.expires_after(body_timeout);
      auto [ec, n] = co_await asio::async_write(client, asio::buffer(continue_100), nothrow);
      if (ec) co_return false;
    }
  }
  const bool bodyless = ex_.parser_.is_done();
  const body_framing request_framing = bodyless        ? body_framing::none
                                       : ex_.parser_.chunked() ? body_framing::chunked
                                                       : body_framing::raw;
  std::string& head = ex_.session_.head_buffer_;
  head.clear();
  write_upstream_head(req, ex_.forwarding(), request_framing, ex_.parser_.content_length(), head);
  char* const buf = body_buffer(ex_.session_.body_buffer_);

  // Up to a buffer's worth of body (all of it, for most requests) is read before an upstream
  // connection is taken: a client that trickles its body holds only its own connection, never
  // one of the upstream's.
  std::size_t pending = 0;
  bool last = bodyless;
  auto read_piece = [&](std::size_t offset) -> task<bool> {
    auto [ec, n] = co_await read_body_piece(client, ex_.session_.buffer_, ex_.parser_, buf + offset,
                                            body_chunk - offset, client_dl, body_timeout);
    if (ec == http::error::body_limit) {
      ex_.record_.upstream_ended();
      local_response r;
      r.status = http::status::payload_too_large;
      r.body = json_error("request body too large",
                          {{"limit_bytes", std::to_string(ex_.cfg_.caps.max_body_bytes)}});
      ex_.record_.result = request_record::outcome::error;
      co_await ex_.answer(r);
      co_return false;
    }
    if (ec) {
      ex_.record_.result = request_record::outcome::error;
      ex_.record_.status = 499;  // client went away, stalled or sent a broken body (NGINX's code for it)
      co_return false;
    }
    pending = offset + n;
    last = ex_.parser_.is_done();
    co_return true;
  };
  while (!last && pending < body_chunk) {
    if (!co_await read_piece(pending)) co_return false;
  }
  // From here the client waits for us: its deadline applies again when we write to it.
  client_dl.expires_never();
  ex_.record_.upstream_started();

  std::unique_ptr<upstream_connection> conn;
  // While a connection is in use, the session knows its socket (abort() closes it too); the
  // guard forgets it on every way out, before `conn` itself goes.
  struct upstream_watch {
    downstream_session& session;
    ~upstream_watch() { session.upstream_socket_ = nullptr; }
  } watch{ex_.session_};
  auto& rp = response_;
  // A pooled connection the upstream closed in the meantime fails on first use. An idempotent
  // request without a body is retried once on a fresh connection; anything else could run
  // twice, unless the connection refused the request's first bytes (reset or closed before we
  // wrote: the upstream cannot have seen any of it, and the body's first piece is still here).
  const bool idempotent = req.method() == http::verb::get || req.method() == http::verb::head ||
                          req.method() == http::verb::options || req.method() == http::verb::put ||
                          req.method() == http::verb::delete_ || req.method() == http::verb::trace;
  for (int attempt = 0;; ++attempt) {
    connect_failure failure = connect_failure::none;
    conn = pool.take_idle(up);
    if (!conn) conn = co_await pool.connect(up, body_timeout, failure);
    if (!conn) {
      ex_.record_.upstream_ended();
      if (auto* m = ex_.snap_->metrics()) m->worker(ex_.session_.owner_.index()).upstream_connect_errors.add();
      if (failure == connect_failure::timeout)
        co_return fail(http::status::gateway_timeout, "upstream connect timeout");
      if (failure == connect_failure::descriptors)
        co_return fail(http::status::service_unavailable, "proxy out of file descriptors");
      co_return fail(http::status::bad_gateway, "upstream unavailable");
    }
    const bool may_retry = conn->reused && bodyless && idempotent && attempt == 0;
    ex_.session_.upstream_socket_ = &conn->socket;  // abort() at the drain deadline closes it too

    // Request: the head goes out with the first body piece; then piece by piece.
    bool upstream_failed = false;
    bool refused = false;
    bool first = true;
    for (;;) {
      const auto ec = co_await write_piece(conn->socket, conn->dl, body_timeout,
                                           first ? std::string_view(head) : std::string_view{},
                                           request_framing, buf, pending, last,
                                           first ? &refused : nullptr);
      first = false;
      if (ec) {
        upstream_failed = true;
        break;
      }
      if (last) break;
      if (!co_await read_piece(0)) {
        ex_.session_.upstream_socket_ = nullptr;
        co_return false;  // the upstream got half a body: that connection is dropped too
      }
    }

    if (!upstream_failed) {
      // Interim 1xx answers are not the response: read past a few (each head stays in the
      // arena until the request ends). A pooled connection's first bytes come from the read it
      // had standing in the pool, under the same deadline as the rest of that head.
      bool armed = false;
      if (conn->standing_read_pending()) {
        conn->dl.expires_after(up.response_timeout);
        armed = true;
        co_await conn->wait_standing_read();
      }
      boost::system::error_code first_ec = conn->take_standing_read();
      std::string malformed;  // why the response is refused, when it is
      for (int interim = 0;; ++interim) {
        rp.emplace(ex_.session_.arena_);
        rp->header_limit(upstream_header_limit);
        if (ex_.is_head_) rp->skip(true);
        auto ec = std::exchange(first_ec, boost::system::error_code{});
        if (!ec)
          ec = co_await read_header(conn->socket, conn->buffer, *rp, conn->dl, up.response_timeout,
                                    !armed);
        armed = false;
        if (ec == beast::error::timeout) {
          if (auto* m = ex_.snap_->metrics()) m->worker(ex_.session_.owner_.index()).upstream_timeouts.add();
          ex_.session_.upstream_socket_ = nullptr;
          ex_.record_.upstream_ended();
          co_return fail(http::status::gateway_timeout, "upstream timeout");
        }
        // A closed or reset pooled connection is worth one more try; a response that breaks
        // HTTP's framing rules is not (the same upstream would send it again).
        if (ec && ec.category() == http::make_error_code(http::error::bad_version).category() &&
            ec != http::error::end_of_stream && ec != http::error::partial_message) {
          malformed = ec.message();
          break;
        }
        if (ec) {
          upstream_failed = true;
          break;
        }
        const unsigned code = rp->result_int();
        if (code == 101) {
          malformed = "101 Switching Protocols to a request that asked for no upgrade";
          break;
        }
        if (code >= 200) break;
        if (interim == max_interim_responses) {
          malformed = "too many interim (1xx) responses";
          break;
        }
      }
      if (!malformed.empty()) {
        log_event(log_level::warn, "upstream sent a malformed response (" + malformed +
                                       "), request " + ex_.request_id_);
        ex_.session_.upstream_socket_ = nullptr;
        ex_.record_.upstream_ended();
        co_return fail(http::status::bad_gateway, "upstream sent a malformed response");
      }
    }
    if (!upstream_failed) break;
    ex_.session_.upstream_socket_ = nullptr;
    if (!may_retry && !(refused && conn->reused && attempt == 0)) {
      ex_.record_.upstream_ended();
      co_return fail(http::status::bad_gateway, "upstream closed the connection");
    }
  }

  // Relay the response: head adjusted, body streamed through the same fixed buffer.
  const auto& res = *rp;
  // The parser's view, not the message's: a body that ends at EOF means no keep-alive either.
  const bool upstream_keep_alive = rp->keep_alive();
  bool keep_alive = ex_.client_keep_alive_ && !ex_.session_.owner_.stopping();
  ex_.record_.status = res.result_int();
  const unsigned status = ex_.record_.status;
  const bool header_only = ex_.is_head_ || status == 204 || status == 304;
  body_framing framing = body_framing::raw;
  bool drop_transfer_encoding = false;
  if (header_only) {
    framing = body_framing::none;
  } else if (rp->chunked()) {
    if (ex_.version_ < 11) {
      // HTTP/1.0 has no chunked coding: send the body raw and end it by closing.
      drop_transfer_encoding = true;
      keep_alive = false;
    } else {
      framing = body_framing::chunked;
    }
  } else if (!rp->content_length()) {
    keep_alive = false;  // the body ends when the upstream closes; so must ours
  }
  head.clear();
  write_client_head(res, keep_alive, drop_transfer_encoding, head);

  bool first = true;
  last = header_only;
  do {
    std::size_t got = 0;
    if (!header_only) {
      auto [ec, n] = co_await read_body_piece(conn->socket, conn->buffer, *rp, buf, body_chunk,
                                              conn->dl, up.response_timeout);
      if (ec) {
        ex_.record_.upstream_ended();
        if (ec == beast::error::timeout) {
          if (auto* m = ex_.snap_->metrics()) m->worker(ex_.session_.owner_.index()).upstream_timeouts.add();
        }
        if (first) {
          co_return fail(ec == beast::error::timeout ? http::status::gateway_timeout
                                                             : http::status::bad_gateway,
                                 "upstream failed mid-response");
        }
        // Headers are out already: the only honest signal left is to cut the connection.
        log_event(log_level::warn, "upstream failed mid-response (" + ec.message() +
                                       "), request " + ex_.request_id_);
        co_return false;
      }
      got = n;
      last = rp->is_done();
    }
    const auto ec = co_await write_piece(client, client_dl, body_timeout,
                                         first ? std::string_view(head) : std::string_view{},
                                         framing, buf, got, last);
    first = false;
    if (ec) {
      ex_.record_.upstream_ended();
      co_return false;  // client gone; the upstream connection is dropped with the half-read body
    }
  } while (!last);
  ex_.record_.upstream_ended();
  if (upstream_keep_alive && rp->is_done() && !ex_.session_.owner_.stopping())
    pool.release(std::move(conn), up);
  co_return keep_alive;
}

}  // namespace sluice::net
