// Message helpers shared by Ferry's two strict YAML parsers (config.yaml in registry/model_config.cc and
// ferryd.yaml in main/daemon_config.cc), so both describe bad input the same way. Thread-safe free functions.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>

namespace ferry {

// User text echoed in an error: quoted, escaped (\" \\ \xNN) and cut after 64 characters, so a hostile file
// cannot flood a log line.
std::string QuoteUserText(std::string_view text);

// What a node is, for "expected X, got Y" messages: "nothing", "a list", "a map", "\"8\"" or
// "the quoted string \"8\"".
std::string DescribeYamlNode(const YAML::Node& node);

}  // namespace ferry
