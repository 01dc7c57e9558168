// `ferryd serve`: the daemon. Reads the config and flags (daemon_config.h), loads the repository, serves the
// REST APIs until SIGTERM or SIGINT, then shuts down gracefully.
#pragma once

#include <string>
#include <vector>

namespace ferry {

// Exit codes: 0 after a clean shutdown, 1 when the daemon cannot start (repository missing, port in use),
// 2 for bad flags or config.
int ServeCommand(const std::vector<std::string>& args);

}  // namespace ferry
