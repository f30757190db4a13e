#pragma once
// Memory for the header fields of one request and its response. Beast allocates every field
// separately; with this arena those allocations are pointer bumps in a block the connection
// keeps, and all of them are let go at once when the next request starts.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

namespace sluice::http1 {

/// A bump allocator reset between requests; one per client connection, one thread.
class header_arena {
 public:
  /// Room for `n` bytes aligned to `align`. The common case, a bump in the current block, is
  /// inline: it runs for every field of every head.
  void* allocate(std::size_t n, std::size_t align) {
    const auto misalign = reinterpret_cast<std::uintptr_t>(cur_) & (align - 1);
    const std::size_t pad = misalign ? align - misalign : 0;
    if (cur_ == nullptr || pad + n > left_) return allocate_slow(n, align);
    void* p = cur_ + pad;
    cur_ += pad + n;
    left_ -= pad + n;
    return p;
  }
  /// Forgets every allocation; keeps the first block for the next request.
  void reset();

 private:
  void* allocate_slow(std::size_t n, std::size_t align);

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

}  // namespace sluice::http1
