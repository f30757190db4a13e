#pragma once
// A receive buffer whose reads tell Asio's reactor when the socket has been drained.
//
// Asio starts every read with a speculative recv(). Between requests on a keep-alive
// connection that recv() almost always fails with EAGAIN: the client (or the upstream) has not
// sent anything yet. That is one wasted system call per request on each side. NGINX avoids it
// by remembering that a read left the socket empty, and then waiting for epoll.
//
// Asio has the mechanism, used for short sends and for EOF: an operation that reports
// "done_and_exhausted" clears the descriptor's speculative flag, so the next operation goes
// straight to the reactor, and the next edge-triggered epoll event for the descriptor sets the
// flag again. That is safe only if nothing is left to read when the flag is cleared: any byte
// (or FIN) that arrives after the recv() raises a new epoll event, but one that was already
// queued does not. A short read is not proof: a FIN queued behind the data is not returned by
// that recv(), and its event may already have been consumed.
//
// So the read asks the kernel. With TCP_INQ on (Linux 4.18+; accepted sockets inherit it from
// the listener), recvmsg() returns how many bytes are still queued after the read, and counts
// a pending FIN as one. This header specialises the reactor's receive operation for
// `drained_buffer`: it is Asio's, except that it reads with recvmsg() and reports the read
// exhausted when the kernel says nothing is left. Without the hint (the option could not be
// set) it behaves exactly like Asio's. Reads through a `drained_buffer` and ordinary reads can
// be mixed freely on one socket.
//
// A reset queued behind data is not counted by the hint, and its event may be gone too: such a
// socket is noticed at its next write (a pooled upstream connection: the request goes again on
// a new one, see upstream_pool.hpp) or at its deadline, not at once.
//
// This names an Asio detail class; it is written against Boost 1.81 (Debian 12), which the
// build requires, and the static_assert below stops a different Boost from compiling it.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include <boost/asio/buffer.hpp>
#include <boost/asio/detail/reactive_socket_recv_op.hpp>
#include <boost/asio/detail/socket_option.hpp>
#include <boost/asio/error.hpp>
#include <boost/version.hpp>

static_assert(BOOST_VERSION / 100 == 1081,
              "drained_buffer specialises Asio's receive operation as Boost 1.81 defines it");

namespace sluice::net {

/// One contiguous receive buffer, usable as a MutableBufferSequence.
class drained_buffer {
 public:
  explicit drained_buffer(boost::asio::mutable_buffer b) : buffer_(b) {}
  const boost::asio::mutable_buffer* begin() const { return &buffer_; }
  const boost::asio::mutable_buffer* end() const { return &buffer_ + 1; }
  const boost::asio::mutable_buffer& buffer() const { return buffer_; }

 private:
  boost::asio::mutable_buffer buffer_;
};

/// Turns on the kernel's queued-bytes hint that `drained_buffer` reads rely on.
using receive_queue_hint = boost::asio::detail::socket_option::boolean<IPPROTO_TCP, TCP_INQ>;

}  // namespace sluice::net

namespace boost::asio::detail {

template <>
class reactive_socket_recv_op_base<sluice::net::drained_buffer> : public reactor_op {
 public:
  reactive_socket_recv_op_base(const boost::system::error_code& success_ec, socket_type socket,
                               socket_ops::state_type state,
                               const sluice::net::drained_buffer& buffers,
                               socket_base::message_flags flags, func_type complete_func)
      : reactor_op(success_ec, &reactive_socket_recv_op_base::do_perform, complete_func),
        socket_(socket),
        state_(state),
        buffer_(buffers.buffer()),
        flags_(flags) {}

  static status do_perform(reactor_op* base) {
    auto* o = static_cast<reactive_socket_recv_op_base*>(base);
    iovec iov{o->buffer_.data(), o->buffer_.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n;
    do {
      n = ::recvmsg(o->socket_, &msg, o->flags_);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return not_done;
      o->ec_ = boost::system::error_code(errno, boost::asio::error::get_system_category());
      o->bytes_transferred_ = 0;
      return done_and_exhausted;
    }
    o->bytes_transferred_ = static_cast<std::size_t>(n);
    const bool stream = (o->state_ & socket_ops::stream_oriented) != 0;
    if (n == 0 && stream && o->buffer_.size() > 0) {
      o->ec_ = boost::asio::error::eof;
      return done_and_exhausted;
    }
    o->ec_ = boost::system::error_code();
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_TCP && c->cmsg_type == TCP_CM_INQ) {
        int queued = 0;
        std::memcpy(&queued, CMSG_DATA(c), sizeof(queued));
        return queued == 0 ? done_and_exhausted : done;
      }
    }
    return done;
  }

 private:
  socket_type socket_;
  socket_ops::state_type state_;
  boost::asio::mutable_buffer buffer_;
  socket_base::message_flags flags_;
};

}  // namespace boost::asio::detail
