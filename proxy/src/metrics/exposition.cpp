#include "metrics/exposition.hpp"

#include <prometheus/text_serializer.h>

#include <sstream>

namespace sluice::metrics {

exposition::exposition(const std::string& version)
    : registry_(std::make_shared<prometheus::Registry>()) {
  prometheus::BuildGauge()
      .Name("sluice_build_info")
      .Help("Always 1; the version label says which sluice is running.")
      .Register(*registry_)
      .Add({{"version", version}})
      .Set(1);
  auto& reloads = prometheus::BuildCounter()
                      .Name("sluice_config_reloads_total")
                      .Help("Config reloads by result; on failure the running config stays.")
                      .Register(*registry_);
  reload_success_ = &reloads.Add({{"result", "success"}});
  reload_failure_ = &reloads.Add({{"result", "failure"}});
  last_success_ = &prometheus::BuildGauge()
                       .Name("sluice_config_last_reload_success_timestamp_seconds")
                       .Help("Unix time the running config was loaded (at start or by the last "
                             "successful reload).")
                       .Register(*registry_)
                       .Add({});
  last_success_->Set(static_cast<double>(
      std::chrono::duration_cast<std::chrono::seconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count()));
}

void exposition::add(std::shared_ptr<const prometheus::Collectable> c) {
  collectables_.push_back(std::move(c));
}

void exposition::reload_succeeded(std::chrono::system_clock::time_point when) {
  reload_success_->Increment();
  last_success_->Set(
      std::chrono::duration<double>(when.time_since_epoch()).count());
}

void exposition::reload_failed() { reload_failure_->Increment(); }

std::string exposition::text() const {
  auto families = registry_->Collect();
  for (const auto& c : collectables_) {
    auto more = c->Collect();
    families.insert(families.end(), std::make_move_iterator(more.begin()),
                    std::make_move_iterator(more.end()));
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace sluice::metrics
