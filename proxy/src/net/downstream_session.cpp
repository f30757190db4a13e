#include "net/downstream_session.hpp"

#include <algorithm>
#include <array>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/drained_buffer.hpp"
#include "net/http_io.hpp"
#include "net/local_response.hpp"
#include "net/request_exchange.hpp"
#include "net/websocket_relay.hpp"
#include "net/worker.hpp"

namespace sluice::net {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
constexpr auto nothrow = asio::as_tuple(use_task);
constexpr std::size_t read_chunk = 4096;
constexpr auto linger_time = std::chrono::seconds(1);
constexpr std::size_t linger_bytes = 256 * 1024;
// A connection from the reserve exists to let a probe through a full pool: its one request
// must arrive at once (a probe sends it with the connection), so a flood that reaches the
// reserve holds each of its slots this long at most.
constexpr auto reserve_head_timeout = std::chrono::seconds(1);
}  // namespace

downstream_session::downstream_session(socket_t socket, worker& owner, ip_address peer,
                                       connection_slot slot)
    : socket_(std::move(socket)), dl_(socket_), owner_(owner), peer_(peer),
      slot_(std::move(slot)) {
  const auto& t = owner_.shared().snapshot()->cfg().timeouts;
  auto shortest = std::min({t.header, t.idle, t.body});
  if (slot_.reserve_only())
    shortest = std::min<std::chrono::nanoseconds>(shortest, reserve_head_timeout);
  dl_.max_sleep(shortest);
  peer_text_ = peer_.to_string();
  owner_.add(this);
}

downstream_session::~downstream_session() { owner_.remove(this); }

void downstream_session::shutdown() {
  if (relay_ != nullptr) relay_->going_away();
  if (idle_) {
    boost::system::error_code ignored;
    socket_.cancel(ignored);
  }
}

void downstream_session::abort() {
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  // A request waiting on the upstream would otherwise keep the worker alive until it answers.
  if (upstream_socket_ != nullptr) upstream_socket_->close(ignored);
  if (relay_ != nullptr) relay_->abort();
}

task<void> downstream_session::run() {
  auto self = shared_from_this();
  // The first request's head is due within client_header of the accept, first byte included: a
  // connection that never sends anything holds its slot that long, not client_idle.
  {
    const auto& t = owner_.shared().snapshot()->cfg().timeouts;
    dl_.expires_after(slot_.reserve_only()
                          ? std::min<std::chrono::nanoseconds>(t.header, reserve_head_timeout)
                          : t.header);
  }
  bool first = true;
  while (!owner_.stopping()) {
    auto snap = owner_.shared().snapshot();
    const auto& cfg = snap->cfg();

    // Between requests the client gets the idle deadline; once a byte arrives, the header one.
    if (buffer_.size() == 0) {
      idle_ = true;
      if (!first) dl_.expires_after(cfg.timeouts.idle);
      auto [ec, n] = co_await socket_.async_read_some(
          drained_buffer(buffer_.prepare(read_chunk)), nothrow);
      idle_ = false;
      if (ec) break;
      buffer_.commit(n);
    }

    // The previous request's parsers are gone: their fields' memory can be handed out again.
    arena_.reset();
    request_parser parser(std::piecewise_construct, std::make_tuple(),
                          std::make_tuple(http1::arena_allocator<char>(arena_)));
    parser.header_limit(cfg.caps.max_header_bytes);
    parser.body_limit(cfg.caps.max_body_bytes);
    const auto ec =
        co_await read_header(socket_, buffer_, parser, dl_, cfg.timeouts.header, !first);
    first = false;
    if (ec) {
      const unsigned status = co_await reject_unreadable(socket_, dl_, ec, cfg);
      if (auto* m = snap->metrics(); m && status != 0) {
        // No route is known for a request that could not be read.
        auto& cells = m->unrouted().cells(owner_.index());
        cells.requests[static_cast<std::size_t>(metrics::method_class::write)]
                      [static_cast<std::size_t>(metrics::decision::error)]
                          .add();
        cells.response(status);
      }
      break;
    }
    // The snapshot is taken again now that a request is here: the connection may have idled
    // through a reload (for up to timeouts.idle), and a request is judged by the config that runs
    // when it is decided. From here to the limiter's decision nothing suspends, so a reload's
    // rebase and swap (app/config_reloader) leave only that one step judged by the old config.
    // The head itself was read under the caps of `snap`: they bounded the read, nothing more.
    in_request_ = true;
    request_exchange exchange(*this, owner_.shared().snapshot(), parser);
    const bool again = co_await exchange.run();
    in_request_ = false;
    if (!again) break;
  }
  co_await linger_close();
}

// Closing with unread bytes in the receive queue makes the kernel send a reset, which can
// destroy a 413 or 431 before the client reads it. So: send FIN, then read and drop what the
// client still sends, briefly and boundedly, before closing (what NGINX calls lingering close).
task<void> downstream_session::linger_close() {
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  if (!ec && socket_.is_open()) {
    dl_.expires_after(linger_time);
    std::size_t drained = 0;
    std::array<char, 4096> sink;
    while (drained < linger_bytes) {
      auto [rec, n] = co_await socket_.async_read_some(asio::buffer(sink), nothrow);
      if (rec) break;
      drained += n;
    }
  }
  boost::system::error_code ignored;
  socket_.close(ignored);
}

}  // namespace sluice::net
