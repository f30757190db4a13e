#pragma once
// The admin listener: its own address, thread and io_context, so a scrape or a probe is
// answered even while every worker is busy, and nothing admin ever shows on the proxy port.
// Peers outside admin.allow are closed unanswered.

#include <atomic>
#include <thread>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/ip_address.hpp"
#include "net/admin_api.hpp"

namespace sluice::net {

/// Accepts admin connections and serves them with an admin_api.
class admin_listener {
 public:
  /// Binds `address` (throws boost::system::system_error); serves peers within `allow`.
  admin_listener(const boost::asio::ip::tcp::endpoint& address, std::vector<cidr> allow,
                 admin_api& api);
  ~admin_listener();
  admin_listener(const admin_listener&) = delete;
  admin_listener& operator=(const admin_listener&) = delete;

  /// The address bound (port 0 resolved).
  boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  /// Starts the thread.
  void start();
  /// Stops accepting, closes every admin connection and joins the thread.
  void stop();

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);

  boost::asio::io_context ctx_{1};
  boost::asio::ip::tcp::acceptor acceptor_;
  std::vector<cidr> allow_;
  admin_api& api_;
  unsigned open_ = 0;  // connections being served (admin thread only)
  std::thread thread_;
};

}  // namespace sluice::net
