#include "net/deadline.hpp"

#include <algorithm>

namespace sluice::net {

using clock = std::chrono::steady_clock;

struct deadline::state : std::enable_shared_from_this<state> {
  explicit state(socket_t& s) : socket(&s), timer(s.get_executor()) {}

  void arm() {
    armed = true;
    const unsigned gen = ++generation;
    timer.expires_at(std::min(at, clock::now() + max_sleep));
    timer.async_wait([self = shared_from_this(), gen](boost::system::error_code ec) {
      if (gen != self->generation) return;  // a cancelled wait: a newer one is armed
      self->armed = false;
      if (ec || self->socket == nullptr || self->at == clock::time_point::max()) return;
      if (clock::now() >= self->at) {
        self->fired = true;
        boost::system::error_code ignored;
        self->socket->close(ignored);
      } else {
        self->arm();  // the deadline moved while we slept
      }
    });
  }

  socket_t* socket;  // null once the owner is gone
  timer_t timer;
  clock::time_point at = clock::time_point::max();
  bool armed = false;
  bool fired = false;
  unsigned generation = 0;
  clock::duration max_sleep = std::chrono::hours(24);
};

deadline::deadline(socket_t& socket)
    : state_(std::make_shared<state>(socket)) {}

deadline::~deadline() {
  state_->socket = nullptr;
  state_->timer.cancel();
}

void deadline::expires_after(clock::duration d) {
  state_->fired = false;
  state_->at = clock::now() + d;
  // A later deadline needs no timer work: the pending wait fires early and re-arms. Only an
  // earlier one (rare: a shorter timeout after a longer) moves the timer.
  if (!state_->armed) {
    state_->arm();
  } else if (state_->timer.expiry() > state_->at) {
    state_->arm();  // expires_at cancels the pending wait; its handler sees a stale generation
  }
}

void deadline::max_sleep(clock::duration d) { state_->max_sleep = d; }

void deadline::expires_never() {
  // Lazy: a pending wait fires once more, finds no deadline and stops. Cancelling here instead
  // would cost a timer operation on every request that waits on its upstream.
  state_->at = clock::time_point::max();
}

void deadline::cancel() {
  state_->at = clock::time_point::max();
  if (state_->armed) {
    ++state_->generation;
    state_->armed = false;
    state_->timer.cancel();
  }
}

bool deadline::expired() const { return state_->fired; }

}  // namespace sluice::net
