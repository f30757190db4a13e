#pragma once
// The admin listener: its own address, thread and io_context, so a scrape or a probe is
// answered even while every worker is busy, and nothing admin ever shows on the proxy port.
// Peers outside admin.allow are closed unanswered. Allowed peers are capped in number, each
// peer too (admin.max_connections, admin.max_connections_per_ip), and every read has a deadline
// (admin.header_timeout, admin.idle_timeout), so idle connections cannot lock the probes out.
// Caps, deadlines and hosts are read from the running config at each use.

#include <thread>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/ip_address.hpp"
#include "limiter/connection_slots.hpp"
#include "metrics/exposition.hpp"
#include "net/admin_api.hpp"
#include "net/shared_state.hpp"

namespace sluice::net {

/// Accepts admin connections and serves them with an admin_api.
class admin_listener {
 public:
  /// Binds `address` (throws boost::system::system_error); serves peers within `allow`.
  admin_listener(const boost::asio::ip::tcp::endpoint& address, std::vector<cidr> allow,
                 admin_api& api, shared_state& shared, metrics::exposition& exposition);
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
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket, ip_address peer,
                                     connection_slot slot);

  // Before ctx_: the coroutine frames ctx_ still holds when it is destroyed give their slots
  // back to it.
  limiter::connection_slots slots_;  // admin connections open, per peer
  boost::asio::io_context ctx_{1};
  boost::asio::ip::tcp::acceptor acceptor_;
  std::vector<cidr> allow_;
  admin_api& api_;
  shared_state& shared_;
  metrics::exposition& exposition_;
  std::thread thread_;
};

}  // namespace sluice::net
