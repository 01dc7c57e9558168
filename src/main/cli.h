// ferryd's offline subcommands: `inspect` and `run`. Each returns the process exit code
// (0 success, 1 the model or input was refused, 2 bad usage) and prints errors to stderr.
#pragma once

#include <string>
#include <vector>

namespace ferry {

int InspectCommand(const std::vector<std::string>& args);
int RunCommand(const std::vector<std::string>& args);

}  // namespace ferry
