#pragma once
// The data plane's I/O types, bound to the worker's io_context executor. Asio's defaults are
// type-erased (any_io_executor): every completion and every coroutine resumption then goes
// through an indirect call and a copy of the erased executor. A worker only ever runs its own
// io_context, so the concrete type costs nothing in flexibility.

#include <chrono>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/basic_resolver.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sluice::net {

using executor_t = boost::asio::io_context::executor_type;
using socket_t = boost::asio::basic_stream_socket<boost::asio::ip::tcp, executor_t>;
using timer_t = boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                                  boost::asio::wait_traits<std::chrono::steady_clock>,
                                                  executor_t>;
using resolver_t = boost::asio::ip::basic_resolver<boost::asio::ip::tcp, executor_t>;
template <class T>
using task = boost::asio::awaitable<T, executor_t>;
inline constexpr boost::asio::use_awaitable_t<executor_t> use_task{};

}  // namespace sluice::net
