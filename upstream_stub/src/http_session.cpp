#include "http_session.hpp"

#include "event_log.hpp"
#include "loose_path.hpp"
#include "stub_limits.hpp"

#include <cstdio>
#include <exception>
#include <optional>

namespace sluice::stub {

namespace {

/// Errors that only mean the client went away; not worth a log line.
bool is_disconnect(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == net::error::operation_aborted;
}

/// Keeps connections_active right even when the coroutine is destroyed at shutdown.
class active_connection {
 public:
  explicit active_connection(stub_counters& counters) : counters_(counters) {
    counters_.connections_active.fetch_add(1, std::memory_order_relaxed);
    counters_.connections_total.fetch_add(1, std::memory_order_relaxed);
  }
  ~active_connection() { counters_.connections_active.fetch_sub(1, std::memory_order_relaxed); }
  active_connection(const active_connection&) = delete;
  active_connection& operator=(const active_connection&) = delete;

 private:
  stub_counters& counters_;
};

/// The 413 answer; built outside the co_await expression because GCC 12 cannot keep a braced
/// initializer list alive across a suspension point.
string_response too_large() {
  return error_response(http::status::payload_too_large, "request body too large",
                        {{"limit_bytes", max_body_bytes}});
}

}  // namespace

net::awaitable<void> http_session::serve(tcp::socket socket, const router& routes,
                                         stub_counters& counters) {
  const active_connection guard(counters);
  http_session session(std::move(socket), routes, counters);
  co_await session.run();
}

http_session::http_session(tcp::socket socket, const router& routes, stub_counters& counters)
    : stream_(std::move(socket)), routes_(routes), counters_(counters) {
  beast::error_code ec;
  const auto remote = stream_.socket().remote_endpoint(ec);
  if (!ec) {
    peer_ = remote.address().to_string() + ":" + std::to_string(remote.port());
  }
}

net::awaitable<void> http_session::run() {
  for (bool first_request = true;; first_request = false) {
    if (!co_await wait_for_request(first_request)) {
      break;
    }

    http::request_parser<http::empty_body> parser;
    parser.header_limit(max_header_bytes);
    // Unlimited here because Beast checks Content-Length against the limit while parsing the
    // header; each route sets its own cap once it knows whether it buffers or streams.
    parser.body_limit(boost::none);
    stream_.expires_after(header_timeout);
    auto [read_ec, header_bytes] =
        co_await http::async_read_header(stream_, buffer_, parser, use_tuple);
    const auto started = std::chrono::steady_clock::now();
    if (read_ec) {
      if (is_disconnect(read_ec)) {
        break;
      }
      event_log::write(peer_ + " bad request header: " + read_ec.message());
      if (read_ec == beast::error::timeout) {
        break;
      }
      const auto status = read_ec == http::error::header_limit
                              ? http::status::request_header_fields_too_large
                              : http::status::bad_request;
      auto refusal = error_response(status, read_ec.message());
      co_await send(std::move(refusal), 11, false, false);
      log_request("-", "-", status, started);
      break;
    }

    // Copied so the views in `target` survive the parser being moved into a body parser.
    const std::string method_text(parser.get().method_string());
    const std::string target_text(parser.get().target());
    auto target = request_target::parse(target_text);
    // Loose routing: the path the handler sees is the normalised one, kept alive here.
    std::string loose_target_path;
    if (routes_.mode() == routing_mode::loose) {
      loose_target_path = loose_path(target_text);
      target.path = loose_target_path;
      if (parser.get().method() == http::verb::unknown) {
        // "post" runs as POST; the message says so too, so HEAD-only writes and handlers agree.
        const auto verb = http::string_to_verb(loose_method(method_text));
        if (verb != http::verb::unknown) {
          parser.get().method(verb);
        }
      }
    }
    const auto match = routes_.match(parser.get().method(), target.path);
    target.tail = match.tail;
    routes_.record_run(match);

    exchange_result result;
    if (match.found == nullptr) {
      const bool known = match.path_known;
      const std::string allow = match.allow;
      const buffered_handler refuse =
          [known, allow, method_text](const buffered_request&,
                                      const request_target& t) -> net::awaitable<string_response> {
        if (!known) {
          co_return error_response(http::status::not_found, "not found", {{"path", t.path}});
        }
        auto res = error_response(http::status::method_not_allowed, "method not allowed",
                                  {{"path", t.path}, {"method", method_text}, {"allow", allow}});
        res.set(http::field::allow, allow);
        co_return res;
      };
      result = co_await serve_buffered(parser, refuse, target);
    } else if (const auto* buffered = std::get_if<buffered_handler>(&match.found->handler)) {
      result = co_await serve_buffered(parser, *buffered, target);
    } else {
      http_exchange exchange(stream_, buffer_, parser);
      try {
        result = co_await std::get<streaming_handler>(match.found->handler)(exchange, target);
      } catch (const std::exception& e) {
        // The response may be half written; all that is left to do is to drop the connection.
        event_log::write(peer_ + " " + method_text + " " + target_text + " failed: " + e.what());
        result = {http::status::internal_server_error, false};
      }
    }
    log_request(method_text, target_text, result.status, started);
    if (!result.keep_alive) {
      break;
    }
  }
  shut_down();
}

net::awaitable<bool> http_session::wait_for_request(bool first_request) {
  // Pipelined requests are already buffered; only an empty buffer means waiting on the client.
  if (buffer_.size() > 0) {
    co_return true;
  }
  stream_.expires_after(first_request ? header_timeout : idle_timeout);
  auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(read_chunk_bytes), use_tuple);
  if (ec) {
    if (!is_disconnect(ec) && ec != beast::error::timeout) {
      event_log::write(peer_ + " read failed: " + ec.message());
    }
    co_return false;
  }
  buffer_.commit(n);
  co_return true;
}

net::awaitable<exchange_result> http_session::serve_buffered(
    http::request_parser<http::empty_body>& header_parser, const buffered_handler& handler,
    const request_target& target) {
  const unsigned version = header_parser.get().version();
  const bool head_only = header_parser.get().method() == http::verb::head;
  // Beast compares Content-Length with the limit only while parsing the header, which ran
  // unlimited, so the declared length is checked here; chunked bodies are checked as they arrive.
  if (const auto declared = header_parser.content_length();
      declared && *declared > max_body_bytes) {
    co_return co_await send(too_large(), version, false, head_only);
  }

  if (!header_parser.is_done()) {
    http_exchange exchange(stream_, buffer_, header_parser);
    if (const auto ec = co_await exchange.continue_if_expected()) {
      co_return exchange_result{http::status::ok, false};
    }
  }
  http::request_parser<http::string_body> body_parser{std::move(header_parser)};
  body_parser.body_limit(max_body_bytes);
  // One deadline per read, so a large body on a slow link is fine while a stalled one is not.
  while (!body_parser.is_done()) {
    stream_.expires_after(io_timeout);
    auto [ec, n] = co_await http::async_read_some(stream_, buffer_, body_parser, use_tuple);
    if (ec == http::error::body_limit) {
      co_return co_await send(too_large(), version, false, head_only);
    }
    if (ec) {
      if (!is_disconnect(ec)) {
        event_log::write(peer_ + " body read failed: " + ec.message());
        if (ec != beast::error::timeout) {
          auto refusal = error_response(http::status::bad_request, ec.message());
          co_return co_await send(std::move(refusal), version, false, head_only);
        }
      }
      co_return exchange_result{http::status::bad_request, false};
    }
  }

  const buffered_request req = body_parser.release();
  std::optional<string_response> res;
  try {
    res = co_await handler(req, target);
  } catch (const std::exception& e) {
    event_log::write(peer_ + " handler failed: " + e.what());
  }
  if (!res) {
    res = error_response(http::status::internal_server_error, "internal error");
  }
  co_return co_await send(std::move(*res), version, req.keep_alive(), head_only);
}

net::awaitable<exchange_result> http_session::send(string_response res, unsigned version,
                                                   bool keep_alive, bool head_only) {
  return http_exchange::write(stream_, std::move(res), version, keep_alive, head_only);
}

void http_session::log_request(std::string_view method, std::string_view target,
                               http::status status,
                               std::chrono::steady_clock::time_point started) const {
  counters_.requests_total.fetch_add(1, std::memory_order_relaxed);
  const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - started;
  char duration[32];
  std::snprintf(duration, sizeof duration, "%.1fms", took.count());
  std::string line = peer_;
  line += ' ';
  line += method;
  line += ' ';
  line += target;
  line += ' ';
  line += std::to_string(static_cast<unsigned>(status));
  line += ' ';
  line += duration;
  event_log::write(line);
}

void http_session::shut_down() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace sluice::stub
