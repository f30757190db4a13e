#include "user_store.hpp"

#include <functional>
#include <random>

namespace sluice::stub {

bool user_store::add(std::string_view username, std::string_view password) {
  std::random_device entropy;
  const std::uint64_t salt = (std::uint64_t{entropy()} << 32) | entropy();
  const credentials entry{salt, hash_password(salt, password)};
  const std::scoped_lock guard(lock_);
  return users_.emplace(std::string(username), entry).second;
}

bool user_store::verify(std::string_view username, std::string_view password) const {
  credentials entry;
  {
    const std::scoped_lock guard(lock_);
    const auto it = users_.find(std::string(username));
    if (it == users_.end()) {
      return false;
    }
    entry = it->second;
  }
  return hash_password(entry.salt, password) == entry.hash;
}

std::size_t user_store::size() const {
  const std::scoped_lock guard(lock_);
  return users_.size();
}

std::size_t user_store::hash_password(std::uint64_t salt, std::string_view password) {
  std::string salted = std::to_string(salt);
  salted += ':';
  salted += password;
  return std::hash<std::string>{}(salted);
}

}  // namespace sluice::stub
