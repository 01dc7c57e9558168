// Message helpers shared by Ferry's two strict YAML parsers (config.yaml in registry/model_config.cc and
// ferryd.yaml in main/daemon_config.cc), so both describe bad input the same way. Thread-safe free functions.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace ferry {

// User text echoed in an error: quoted, escaped (\" \\ \xNN) and cut after 64 characters, so a hostile file
// cannot flood a log line.
std::string QuoteUserText(std::string_view text);

// What a node is, for "expected X, got Y" messages: "nothing", "a list", "a map", "\"8\"" or
// "the quoted string \"8\"".
std::string DescribeYamlNode(const YAML::Node& node);

// A YAML stream read for a parser that takes one document: the first document (a Null node when there is none)
// and how many documents the stream holds.
struct YamlDocuments {
  YAML::Node first;
  size_t count = 0;
};

// Reads `text` as YAML::LoadAll would, but always returns: yaml-cpp 0.7's LoadAll never does on a stream that
// starts with a stray "," (it reads the same empty document again and again, taking memory each time:
// jbeder/yaml-cpp#1040, fixed upstream by #1319), and YAML::Load takes such a text for an empty document. A
// document that starts where the one before it did is refused here with a YAML::ParserException at that place.
// Throws what yaml-cpp throws (YAML::Exception for syntax errors and nesting too deep, std::bad_alloc).
YamlDocuments LoadYamlDocuments(const std::string& text);

}  // namespace ferry
