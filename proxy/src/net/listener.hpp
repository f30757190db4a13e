#pragma once
// The one listening socket. Deliberately one, without SO_REUSEPORT: a second copy of sluice
// started on the same address must fail to bind rather than silently share the port, each copy
// with its own limiter (the seed's incident had 13 stray copies of its backend running).
// Every connection is judged here, at accept, before any worker sees it: the per-IP cap, the
// global cap and the reserve (connection_slots). A refused one gets a fixed 503 and a close,
// with nothing read. Admitted connections are handed to the workers in turn.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace sluice::net {

class worker;

/// Accepts on worker 0's io_context and deals connections out to all workers.
class listener {
 public:
  /// Binds and listens on `address`; throws boost::system::system_error (address in use...).
  listener(const boost::asio::ip::tcp::endpoint& address, std::vector<worker*> workers);
  ~listener();
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;

  /// The address actually bound (port 0 resolved).
  boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  /// Starts accepting (on worker 0's thread once it runs).
  void start();
  /// Stops accepting. Thread-safe.
  void stop();

 private:
  boost::asio::awaitable<void> accept_loop();
  /// Judges an accepted connection: refused here, or handed to the next worker.
  void admit(boost::asio::ip::tcp::socket socket, const boost::asio::ip::tcp::endpoint& peer);
  /// What refuse_with_spare() managed.
  enum class spare_result { answered, nobody_waiting, no_spare };
  /// Out of descriptors: frees the spare one to accept a waiting client and answer it 503.
  spare_result refuse_with_spare();
  /// Logs an accept failure at most once a second, with how many came since the last line.
  void note_accept_failure(const boost::system::error_code& ec, bool refused);

  std::vector<worker*> workers_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::tcp protocol_;
  std::size_t next_ = 0;
  // An open /dev/null held in reserve: at EMFILE it is closed so one waiting client can be
  // accepted and told 503, then reopened. Without it such clients hear nothing at all.
  int spare_fd_ = -1;
  std::chrono::steady_clock::time_point last_failure_log_{};
  std::uint64_t failures_since_log_ = 0;
  std::uint64_t refused_since_log_ = 0;
};

}  // namespace sluice::net
