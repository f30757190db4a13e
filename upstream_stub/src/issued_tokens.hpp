// Login tokens handed out by /api/auth/login and checked by the authenticated WebSocket.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sluice::stub {

/// Tokens issued by this process, shared by every thread; lost on restart like the users.
class issued_tokens {
 public:
  /// Makes a new random token (128 bits as hex), valid for token_lifetime from now.
  std::string issue();
  /// True when `token` was issued here, has not expired and was not forgotten for the cap.
  bool valid(std::string_view token) const;
  /// Seconds a token stays valid, for the login answer's expires_in.
  static std::chrono::seconds lifetime();

 private:
  /// Guards both containers; logins and WebSocket handshakes run on any thread.
  mutable std::mutex lock_;
  /// Expiry by token.
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> expiry_;
  /// Tokens oldest first, to forget the oldest once max_issued_tokens are held.
  std::deque<std::string> order_;
};

}  // namespace sluice::stub
