#include "net/worker.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>

#include <array>
#include <cstring>

#include "common/log.hpp"
#include "net/downstream_session.hpp"

namespace sluice::net {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
constexpr auto nothrow = asio::as_tuple(use_task);
constexpr auto flush_interval = std::chrono::milliseconds(100);
}  // namespace

worker::worker(shared_state& shared, unsigned index)
    : shared_(shared),
      index_(index),
      work_(ctx_.get_executor()),
      pool_(ctx_.get_executor()),
      access_log_(shared.access_log()),
      flush_timer_(ctx_),
      drain_timer_(ctx_),
      id_state_((std::uint64_t{std::random_device{}()} << 32) | std::random_device{}()) {}

worker::~worker() { join(); }

void worker::start() {
  if (access_log_.enabled()) asio::co_spawn(ctx_, flush_loop(), asio::detached);
  thread_ = std::thread([this] {
    ctx_.run();
    access_log_.flush();
  });
}

void worker::join() {
  if (thread_.joinable()) thread_.join();
}

void worker::adopt(tcp protocol, tcp::socket::native_handle_type fd, ip_address peer,
                   connection_slot slot) {
  // The caps were judged by the listener; the slot it took goes back with the session, or with
  // this handler if the connection never becomes one.
  asio::post(ctx_, [this, protocol, fd, peer, slot = std::move(slot)]() mutable {
    socket_t socket(ctx_);
    boost::system::error_code ec;
    socket.assign(protocol, fd, ec);
    if (ec) {
      ::close(fd);
      return;
    }
    if (stopping_) return;  // the socket closes as it goes out of scope
    socket.set_option(tcp::no_delay(true), ec);
    auto session =
        std::make_shared<downstream_session>(std::move(socket), *this, peer, std::move(slot));
    asio::co_spawn(ctx_, session->run(), asio::detached);
  });
}

task<void> worker::flush_loop() {
  while (!stopping_) {
    flush_timer_.expires_after(flush_interval);
    co_await flush_timer_.async_wait(nothrow);
    access_log_.flush();
  }
}

void worker::stop(std::chrono::nanoseconds drain) {
  asio::post(ctx_, [this, drain] {
    stopping_ = true;
    work_.reset();
    flush_timer_.cancel();
    pool_.close_all();
    // Idle connections close now; busy ones close after their response.
    for (auto* s : std::vector<downstream_session*>(sessions_.begin(), sessions_.end()))
      s->shutdown();
    drain_timer_.expires_after(drain);
    drain_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      for (auto* s : std::vector<downstream_session*>(sessions_.begin(), sessions_.end())) {
        // Counted for the stop's last log line: what the drain deadline took from clients.
        if (s->relaying()) ++cut_.websockets;
        else if (s->in_request()) ++cut_.requests;
        s->abort();
      }
      pool_.close_all();
    });
    if (sessions_.empty()) drain_timer_.cancel();
  });
}

void worker::remove(downstream_session* s) {
  sessions_.erase(s);
  if (stopping_ && sessions_.empty()) drain_timer_.cancel();
}

void worker::new_request_id(std::string& id) {
  // splitmix64: ids need to be unique and unguessable enough for log correlation, not secret;
  // the generator is seeded from random_device per worker.
  // Two hex digits per table entry: 16 stores per id instead of 32 shifts and lookups.
  static constexpr auto pairs = [] {
    constexpr char hex[] = "0123456789abcdef";
    std::array<char, 512> t{};
    for (int b = 0; b < 256; ++b) {
      t[static_cast<std::size_t>(2 * b)] = hex[b & 0xf];
      t[static_cast<std::size_t>(2 * b + 1)] = hex[b >> 4];
    }
    return t;
  }();
  id.resize(32);
  char* out = id.data();
  for (int half = 0; half < 2; ++half) {
    std::uint64_t z = (id_state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    for (int i = 0; i < 8; ++i, z >>= 8, out += 2)
      std::memcpy(out, &pairs[static_cast<std::size_t>(2 * (z & 0xff))], 2);
  }
}

}  // namespace sluice::net
