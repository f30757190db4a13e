#include "http1/header_arena.hpp"

#include <algorithm>

namespace sluice::http1 {

void* header_arena::allocate_slow(std::size_t n, std::size_t align) {
  if (!first_) {
    first_ = std::make_unique_for_overwrite<std::byte[]>(block_size);
    cur_ = first_.get();
    left_ = block_size;
  } else {
    const std::size_t size = std::max(block_size, n + align);
    more_.push_back(std::make_unique_for_overwrite<std::byte[]>(size));
    cur_ = more_.back().get();
    left_ = size;
  }
  return allocate(n, align);
}

void header_arena::reset() {
  more_.clear();
  cur_ = first_.get();
  left_ = first_ ? block_size : 0;
}

}  // namespace sluice::http1
