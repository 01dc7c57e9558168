// `ferryd token create`: makes a bearer token for a shared ferryd (see auth/token_set.h for the file format).
#pragma once

#include <string>
#include <vector>

namespace ferry {

// `args` are the arguments after `token`. Exit codes: 0 created (the secret is printed once on stdout), 1 the
// tokens file cannot be read or written, 2 bad usage.
int TokenCommand(const std::vector<std::string>& args);

}  // namespace ferry
