#include "app/server.hpp"

namespace sluice::app {

int run_server(std::shared_ptr<const config::config>) { return 1; }

}  // namespace sluice::app
