#include "net/listener.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/log.hpp"
#include "net/connection_refusal.hpp"
#include "net/drained_buffer.hpp"
#include "net/peer_address.hpp"
#include "net/worker.hpp"
#include "routing/client_ip.hpp"
#include "routing/key_builder.hpp"

namespace sluice::net {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
// After an accept failure that could not be answered, breathe before trying again: the listening
// socket stays readable, so an immediate retry would spin.
constexpr auto accept_error_pause = std::chrono::milliseconds(50);
// While accept keeps failing (out of descriptors under a flood), one log line a second says how
// often; a line per failure would be twenty a second, or thousands with the spare descriptor.
constexpr auto accept_failure_log_interval = std::chrono::seconds(1);

bool out_of_descriptors(const boost::system::error_code& ec) {
  return ec == asio::error::no_descriptors ||
         ec == boost::system::errc::too_many_files_open_in_system;
}

int open_spare() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }
}  // namespace

listener::listener(const tcp::endpoint& address, std::vector<worker*> workers)
    : workers_(std::move(workers)),
      acceptor_(workers_.front()->context()),
      protocol_(address.protocol()),
      spare_fd_(open_spare()) {
  acceptor_.open(address.protocol());
  // SO_REUSEADDR only lets a restart bind past old connections in TIME_WAIT; unlike
  // SO_REUSEPORT it never lets two live listeners share the port.
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  // Accepted sockets inherit it; without it, reads simply stay speculative (drained_buffer.hpp).
  boost::system::error_code ignored;
  acceptor_.set_option(receive_queue_hint(true), ignored);
  acceptor_.bind(address);
  acceptor_.listen(asio::socket_base::max_listen_connections);
}

listener::~listener() {
  if (spare_fd_ >= 0) ::close(spare_fd_);
}

void listener::start() {
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
}

void listener::stop() {
  asio::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
}

asio::awaitable<void> listener::accept_loop() {
  for (;;) {
    tcp::endpoint peer;
    auto [ec, socket] = co_await acceptor_.async_accept(peer, nothrow);
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      // Out of descriptors: answer the waiting clients one by one through the spare, then try
      // again at once (the next may be answerable too). accept() fails with EMFILE before it
      // looks at the queue, so with nobody waiting, wait for the next client to arrive instead
      // of retrying. Anything else (or no spare to be had): log, breathe, go on serving the
      // connections we have.
      const auto spare = out_of_descriptors(ec) ? refuse_with_spare() : spare_result::no_spare;
      note_accept_failure(ec, spare == spare_result::answered);
      if (spare == spare_result::answered) continue;
      if (spare == spare_result::nobody_waiting) {
        auto [wec] = co_await acceptor_.async_wait(tcp::acceptor::wait_read, nothrow);
        if (wec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
        continue;
      }
      asio::steady_timer pause(acceptor_.get_executor(), accept_error_pause);
      co_await pause.async_wait(nothrow);
      continue;
    }
    admit(std::move(socket), peer);
  }
}

void listener::admit(tcp::socket socket, const tcp::endpoint& peer) {
  shared_state& shared = workers_.front()->shared();
  const auto snap = shared.snapshot();
  const auto& cfg = snap->cfg();
  const ip_address ip = to_ip_address(peer.address());
  // Known from the address alone: a trusted proxy carries many clients (judged per request, not
  // per connection), an allowlisted peer may use the whole reserve.
  const bool trusted = routing::is_trusted_proxy(ip, cfg.client_ip.trusted_proxies);
  bool allowlisted = false;
  for (const auto& block : cfg.allowlist) {
    if (block.contains(ip)) {
      allowlisted = true;
      break;
    }
  }
  const ip_address key = routing::key_address(ip, cfg.client_ip.ipv6_prefix);
  const limiter::connection_caps caps{cfg.caps.max_client_connections,
                                      cfg.caps.max_connections_per_ip,
                                      cfg.caps.reserved_connections};
  const auto admission = shared.connections().acquire(key, trusted, allowlisted, caps);
  if (!admission.admitted()) {
    const bool per_ip = admission.refused == limiter::connection_refusal::per_key;
    send_refusal(socket.native_handle(), per_ip ? refusal_answer::per_ip : refusal_answer::pool_full);
    // This is worker 0's thread: its cells have no other writer.
    if (auto* m = snap->metrics()) {
      m->worker(0).refused(per_ip ? metrics::connection_refusal::per_ip
                                  : metrics::connection_refusal::global);
      m->unrouted().cells(0).response(503);
    }
    return;  // the socket closes as it goes out of scope
  }
  connection_slot slot(shared.connections(), key, admission);
  // The descriptor changes hands: the worker registers it with its own reactor, on its own
  // thread, so no socket is ever touched by two threads.
  boost::system::error_code release_ec;
  const auto fd = socket.release(release_ec);
  if (release_ec) return;  // the slot goes back with its guard
  workers_[next_++ % workers_.size()]->adopt(protocol_, fd, ip, std::move(slot));
}

listener::spare_result listener::refuse_with_spare() {
  if (spare_fd_ < 0) {
    spare_fd_ = open_spare();  // a descriptor may have come free since
    return spare_result::no_spare;
  }
  ::close(spare_fd_);
  spare_fd_ = -1;
  // Asio keeps the listening socket non-blocking: with no client waiting this fails at once.
  const int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  const int accept_errno = errno;
  if (fd >= 0) {
    send_refusal(fd, refusal_answer::pool_full);
    ::close(fd);
    if (auto* m = workers_.front()->shared().snapshot()->metrics()) {
      m->worker(0).refused(metrics::connection_refusal::descriptors);
      m->unrouted().cells(0).response(503);
    }
  }
  spare_fd_ = open_spare();
  if (fd >= 0) return spare_result::answered;
  return accept_errno == EAGAIN || accept_errno == EWOULDBLOCK ? spare_result::nobody_waiting
                                                 : spare_result::no_spare;
}

void listener::note_accept_failure(const boost::system::error_code& ec, bool refused) {
  ++failures_since_log_;
  if (refused) ++refused_since_log_;
  const auto now = std::chrono::steady_clock::now();
  if (last_failure_log_ != std::chrono::steady_clock::time_point{} &&
      now - last_failure_log_ < accept_failure_log_interval)
    return;
  std::string line = "accept failed: " + ec.message();
  if (out_of_descriptors(ec)) {
    line += " (out of file descriptors: new clients get 503 through the spare descriptor; raise "
            "the open-file limit or lower caps.max_client_connections)";
  }
  if (last_failure_log_ != std::chrono::steady_clock::time_point{}) {
    line += "; " + std::to_string(failures_since_log_) + " failures and " +
            std::to_string(refused_since_log_) +
            " clients answered 503 since the last such line (one a second at most)";
  }
  log_event(log_level::warn, line);
  last_failure_log_ = now;
  failures_since_log_ = 0;
  refused_since_log_ = 0;
}

}  // namespace sluice::net
