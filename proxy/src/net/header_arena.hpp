#pragma once
// Memory for the header fields of one request and its response. Beast allocates every field
// separately; with this arena those allocations are pointer bumps in a block the connection
// keeps, and all of them are let go at once when the next request starts.

#include <cstddef>
#include <memory>
#include <new>
#include <vector>

namespace sluice::net {

/// A bump allocator reset between requests; one per client connection, one thread.
class header_arena {
 public:
  /// Room for `n` bytes aligned to `align`.
  void* allocate(std::size_t n, std::size_t align);
  /// Forgets every allocation; keeps the first block for the next request.
  void reset();

 private:
  static constexpr std::size_t block_size = 4096;
  std::unique_ptr<std::byte[]> first_;             // kept across requests
  std::vector<std::unique_ptr<std::byte[]>> more_; // big heads only; freed by reset()
  std::byte* cur_ = nullptr;
  std::size_t left_ = 0;
};

/// The allocator Beast's fields use: allocations come from a header_arena and are never freed
/// one by one.
template <class T>
class arena_allocator {
 public:
  using value_type = T;

  /// Allocates from `arena`, which must outlive every container using this allocator.
  explicit arena_allocator(header_arena& arena) noexcept : arena_(&arena) {}
  template <class U>
  arena_allocator(const arena_allocator<U>& other) noexcept : arena_(other.arena_) {}

  T* allocate(std::size_t n) {
    return static_cast<T*>(arena_->allocate(n * sizeof(T), alignof(T)));
  }
  void deallocate(T*, std::size_t) noexcept {}

  template <class U>
  bool operator==(const arena_allocator<U>& other) const noexcept {
    return arena_ == other.arena_;
  }

 private:
  template <class U>
  friend class arena_allocator;
  header_arena* arena_;
};

}  // namespace sluice::net
