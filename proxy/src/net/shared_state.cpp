#include "net/shared_state.hpp"

namespace sluice::net {

shared_state::shared_state(std::shared_ptr<const proxy_snapshot> initial)
    : snapshot_(initial), limiter_(initial->cfg().key_table.max_keys) {
  const auto& target = initial->cfg().access_log;
  if (target != "off") access_log_ = std::make_shared<access_log_sink>(target);
}

}  // namespace sluice::net
