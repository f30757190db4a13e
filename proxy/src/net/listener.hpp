#pragma once
// The one listening socket. Deliberately one, without SO_REUSEPORT: a second copy of sluice
// started on the same address must fail to bind rather than silently share the port, each copy
// with its own limiter (the seed's incident had 13 stray copies of its backend running).
// Accepted connections are handed to the workers in turn.

#include <cstddef>
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

  /// The address actually bound (port 0 resolved).
  boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  /// Starts accepting (on worker 0's thread once it runs).
  void start();
  /// Stops accepting. Thread-safe.
  void stop();

 private:
  boost::asio::awaitable<void> accept_loop();

  std::vector<worker*> workers_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::tcp protocol_;
  std::size_t next_ = 0;
};

}  // namespace sluice::net
