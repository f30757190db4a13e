#include "net/header_arena.hpp"

#include <algorithm>

namespace sluice::net {

void* header_arena::allocate(std::size_t n, std::size_t align) {
  const auto misalign = reinterpret_cast<std::uintptr_t>(cur_) & (align - 1);
  const std::size_t pad = misalign ? align - misalign : 0;
  if (cur_ == nullptr || pad + n > left_) {
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
  void* p = cur_ + pad;
  cur_ += pad + n;
  left_ -= pad + n;
  return p;
}

void header_arena::reset() {
  more_.clear();
  cur_ = first_.get();
  left_ = first_ ? block_size : 0;
}

}  // namespace sluice::net
