#include "test_aids_api.hpp"

#include "stub_limits.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace sluice::stub {

namespace {

/// Period of the /api/stream pattern; prime, so it never lines up with power-of-two chunk sizes.
constexpr std::size_t pattern_period = 251;

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

/// A query value as a bounded number: `fallback` when absent, nullopt when malformed or too big.
std::optional<std::uint64_t> query_number(const request_target& target, std::string_view name,
                                          std::optional<std::uint64_t> fallback,
                                          std::uint64_t max) {
  const auto text = target.query_value(name);
  if (!text) {
    return fallback;
  }
  const auto value = parse_unsigned(*text);
  if (!value || *value > max) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

void test_aids_api::add_routes(router& routes) {
  routes.add({"/api/headers", false, {http::verb::get}, buffered_handler(&test_aids_api::headers)});
  routes.add({"/api/echo",
              false,
              {http::verb::post, http::verb::put},
              streaming_handler(&test_aids_api::echo)});
  routes.add({"/api/stream", false, {http::verb::get}, streaming_handler(&test_aids_api::stream)});
  routes.add({"/api/delay", false, {http::verb::get}, buffered_handler(&test_aids_api::delay)});
  const router* table = &routes;
  routes.add({"/api/hits",
              false,
              {http::verb::get},
              buffered_handler([table](const buffered_request&,
                                       const request_target&) -> net::awaitable<string_response> {
                co_return hits(*table);
              })});
}

net::awaitable<string_response> test_aids_api::headers(const buffered_request& req,
                                                       const request_target&) {
  // Names lower-cased (they are case-insensitive) so tests can look them up without guessing.
  nlohmann::json fields = nlohmann::json::object();
  for (const auto& field : req) {
    const std::string name = lower(field.name_string());
    const std::string value(field.value());
    auto it = fields.find(name);
    if (it == fields.end()) {
      fields[name] = value;
    } else {
      it->get_ref<std::string&>() += ", " + value;
    }
  }
  const nlohmann::json body = {{"method", std::string(req.method_string())},
                               {"target", std::string(req.target())},
                               {"version", req.version() == 10 ? "1.0" : "1.1"},
                               {"headers", std::move(fields)}};
  co_return json_response(http::status::ok, body);
}

net::awaitable<exchange_result> test_aids_api::echo(http_exchange& exchange,
                                                    const request_target&) {
  auto& stream = exchange.stream();
  if (const auto ec = co_await exchange.continue_if_expected()) {
    co_return exchange_result{http::status::ok, false};
  }
  http::request_parser<http::buffer_body> reader{std::move(exchange.header_parser())};
  // No cap: the body passes through one fixed buffer, so its size costs no memory.
  reader.body_limit(boost::none);
  const auto& req = reader.get();

  http::response<http::buffer_body> res{http::status::ok, req.version()};
  res.set(http::field::server, server_header());
  const auto type = req[http::field::content_type];
  res.set(http::field::content_type, type.empty() ? "application/octet-stream" : type);
  if (reader.is_done()) {
    res.content_length(0);
  } else if (const auto length = reader.content_length()) {
    res.content_length(*length);
  } else {
    res.chunked(true);
  }
  res.keep_alive(req.keep_alive());
  res.body().data = nullptr;
  res.body().more = true;
  http::response_serializer<http::buffer_body> writer{res};
  stream.expires_after(io_timeout);
  if (auto [ec, n] = co_await http::async_write_header(stream, writer, use_tuple); ec) {
    co_return exchange_result{http::status::ok, false};
  }

  std::vector<char> chunk(read_chunk_bytes);
  while (!reader.is_done()) {
    reader.get().body().data = chunk.data();
    reader.get().body().size = chunk.size();
    stream.expires_after(io_timeout);
    auto [read_ec, read_n] =
        co_await http::async_read_some(stream, exchange.buffer(), reader, use_tuple);
    if (read_ec && read_ec != http::error::need_buffer) {
      // The status line is out already; dropping the connection is the only way to signal it.
      co_return exchange_result{http::status::ok, false};
    }
    const std::size_t filled = chunk.size() - reader.get().body().size;
    if (filled == 0) {
      continue;
    }
    res.body().data = chunk.data();
    res.body().size = filled;
    res.body().more = true;
    stream.expires_after(io_timeout);
    auto [write_ec, write_n] = co_await http::async_write(stream, writer, use_tuple);
    if (write_ec && write_ec != http::error::need_buffer) {
      co_return exchange_result{http::status::ok, false};
    }
  }
  res.body().data = nullptr;
  res.body().more = false;
  stream.expires_after(io_timeout);
  auto [end_ec, end_n] = co_await http::async_write(stream, writer, use_tuple);
  co_return exchange_result{http::status::ok, !end_ec && res.keep_alive()};
}

net::awaitable<exchange_result> test_aids_api::stream(http_exchange& exchange,
                                                      const request_target& target) {
  const auto total = query_number(target, "bytes", std::nullopt, max_stream_bytes);
  const auto chunk_size =
      query_number(target, "chunk", default_stream_chunk_bytes, max_stream_chunk_bytes);
  if (!total || !chunk_size || *chunk_size == 0) {
    auto refusal =
        error_response(http::status::bad_request,
                       "want bytes=N (N <= 1073741824) and optional chunk=M (1..1048576)");
    co_return co_await exchange.respond(std::move(refusal));
  }

  const auto& req = exchange.request();
  auto& stream = exchange.stream();
  // HTTP/1.0 has no chunked coding: such clients get a Content-Length body instead.
  const bool chunked = req.version() >= 11;
  http::response<http::empty_body> res{http::status::ok, req.version()};
  res.set(http::field::server, server_header());
  res.set(http::field::content_type, "application/octet-stream");
  if (chunked) {
    res.chunked(true);
  } else {
    res.content_length(*total);
  }
  // A GET body nobody reads would be taken for the next request, so such a connection closes.
  res.keep_alive(req.keep_alive() && exchange.header_parser().is_done());
  http::response_serializer<http::empty_body> writer{res};
  stream.expires_after(io_timeout);
  if (auto [ec, n] = co_await http::async_write_header(stream, writer, use_tuple); ec) {
    co_return exchange_result{http::status::ok, false};
  }
  if (req.method() == http::verb::head) {
    co_return exchange_result{http::status::ok, res.keep_alive()};
  }

  // One period of slack lets every chunk be a single slice starting at offset % period.
  std::vector<unsigned char> pattern(static_cast<std::size_t>(*chunk_size) + pattern_period);
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    pattern[i] = static_cast<unsigned char>(i % pattern_period);
  }
  for (std::uint64_t offset = 0; offset < *total;) {
    const auto length = static_cast<std::size_t>(std::min(*chunk_size, *total - offset));
    const net::const_buffer piece(pattern.data() + offset % pattern_period, length);
    stream.expires_after(io_timeout);
    beast::error_code ec;
    if (chunked) {
      std::tie(ec, std::ignore) =
          co_await net::async_write(stream, http::make_chunk(piece), use_tuple);
    } else {
      std::tie(ec, std::ignore) = co_await net::async_write(stream, piece, use_tuple);
    }
    if (ec) {
      co_return exchange_result{http::status::ok, false};
    }
    offset += length;
  }
  if (chunked) {
    stream.expires_after(io_timeout);
    auto [ec, n] = co_await net::async_write(stream, http::make_chunk_last(), use_tuple);
    if (ec) {
      co_return exchange_result{http::status::ok, false};
    }
  }
  co_return exchange_result{http::status::ok, res.keep_alive()};
}

string_response test_aids_api::hits(const router& routes) {
  // Paths are summed: a path served by two routes (two method sets) is one endpoint to a test.
  nlohmann::json counts = nlohmann::json::object();
  for (const auto& entry : routes.runs_approx()) {
    auto& cell = counts[entry.path];
    cell = (cell.is_number() ? cell.get<std::uint64_t>() : 0) + entry.runs;
  }
  return json_response(http::status::ok, {{"routes", std::move(counts)}});
}

net::awaitable<string_response> test_aids_api::delay(const buffered_request&,
                                                     const request_target& target) {
  const auto wanted = query_number(target, "ms", 0, std::numeric_limits<std::uint64_t>::max());
  if (!wanted) {
    co_return error_response(http::status::bad_request, "ms must be a non-negative integer");
  }
  // Clamped rather than refused, like job durations.
  const auto ms = std::min<std::uint64_t>(*wanted, static_cast<std::uint64_t>(max_delay.count()));
  net::steady_timer wait(co_await net::this_coro::executor, std::chrono::milliseconds(ms));
  co_await wait.async_wait(use_tuple);
  const nlohmann::json body = {{"success", true}, {"delayed_ms", ms}};
  co_return json_response(http::status::ok, body);
}

}  // namespace sluice::stub
