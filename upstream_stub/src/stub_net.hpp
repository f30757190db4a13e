// Namespace aliases and the completion token shared by every networking file of the stub.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace sluice::stub {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

/// Completion token that hands back the error code instead of throwing: on the data plane a
/// failed read or write is an expected event (client left, deadline passed), not an exception.
inline constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

}  // namespace sluice::stub
