// In-memory accounts for /api/auth/register and /api/auth/login.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sluice::stub {

/// Users known to the stub, shared by every thread; lost on restart, which is all a test needs.
class user_store {
 public:
  /// Adds a user; false when the name is taken.
  bool add(std::string_view username, std::string_view password);
  /// True when the user exists and the password matches.
  bool verify(std::string_view username, std::string_view password) const;
  /// Accounts registered.
  std::size_t size() const;

 private:
  /// A salted hash of the password, never the password itself.
  struct credentials {
    /// Random per user, so equal passwords hash differently.
    std::uint64_t salt = 0;
    /// hash_password(salt, password).
    std::size_t hash = 0;
  };

  /// std::hash is NOT a password hash (fast, unkeyed, not collision-resistant); it only keeps
  /// clear-text passwords out of memory dumps of a test fixture. A real service needs a KDF.
  static std::size_t hash_password(std::uint64_t salt, std::string_view password);

  /// Guards users_; requests on any thread register and log in.
  mutable std::mutex lock_;
  /// Credentials by username.
  std::unordered_map<std::string, credentials> users_;
};

}  // namespace sluice::stub
