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
  auto& admin = prometheus::BuildCounter()
                    .Name("sluice_admin_refused_total")
                    .Help("Connections and requests the admin listener refused, by reason "
                          "(token: a wrong bearer token; token_throttled: refused unchecked "
                          "after too many).")
                    .Register(*registry_);
  for (std::size_t k = 0; k < admin_refusal_count; ++k)
    admin_refused_[k] = &admin.Add({{"reason", admin_refusal_names[k]}});
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

void exposition::admin_refused(admin_refusal why) {
  admin_refused_[static_cast<std::size_t>(why)]->Increment();
}

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
