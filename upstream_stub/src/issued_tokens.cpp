#include "issued_tokens.hpp"

#include "stub_limits.hpp"

#include <cstdio>
#include <random>

namespace sluice::stub {

namespace {

/// 128 random bits as hex, the shape of the seed's tokens.
std::string random_token() {
  std::random_device entropy;
  std::string token;
  for (int i = 0; i < 4; ++i) {
    char word[9];
    std::snprintf(word, sizeof word, "%08x", static_cast<unsigned>(entropy()));
    token += word;
  }
  return token;
}

}  // namespace

std::string issued_tokens::issue() {
  std::string token = random_token();
  const auto expires = std::chrono::steady_clock::now() + token_lifetime;
  const std::scoped_lock guard(lock_);
  while (order_.size() >= max_issued_tokens) {
    expiry_.erase(order_.front());
    order_.pop_front();
  }
  // A repeated 128-bit token is not going to happen; if it did, the later expiry would win.
  if (expiry_.insert_or_assign(token, expires).second) {
    order_.push_back(token);
  }
  return token;
}

bool issued_tokens::valid(std::string_view token) const {
  if (token.empty()) {
    return false;
  }
  const auto now = std::chrono::steady_clock::now();
  const std::scoped_lock guard(lock_);
  const auto it = expiry_.find(std::string(token));
  return it != expiry_.end() && now < it->second;
}

std::chrono::seconds issued_tokens::lifetime() { return token_lifetime; }

}  // namespace sluice::stub
