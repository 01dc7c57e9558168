#include "registry/yaml_text.h"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>

#include <optional>
#include <sstream>

namespace ferry {
namespace {

// Notes where each document starts; ignores everything else.
class DocumentStarts final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { last = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  std::optional<YAML::Mark> last;
};

}  // namespace

std::string QuoteUserText(std::string_view text) {
  constexpr size_t kMaxShown = 64;
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMaxShown) out += "...";
  out += '"';
  return out;
}

std::string DescribeYamlNode(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return node.Tag() == "!" ? "the quoted string " + QuoteUserText(node.Scalar()) : QuoteUserText(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

YamlDocuments LoadYamlDocuments(const std::string& text) {
  // First only the events, to count the documents and to stop a parser that no longer moves; then the first
  // document as nodes (YAML::Load reads only the first, which the count pass has shown to end).
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts starts;
  YamlDocuments docs;
  std::optional<size_t> previous;
  while (true) {
    starts.last.reset();
    if (!parser.HandleNextDocument(starts)) break;
    const YAML::Mark at = starts.last.value_or(YAML::Mark());
    // Every document takes at least one character; one that starts where the one before it did never ends.
    if (!starts.last || previous == static_cast<size_t>(at.pos) || docs.count > text.size()) {
      throw YAML::ParserException(at, "unexpected text here (a stray ',' or the like)");
    }
    previous = static_cast<size_t>(at.pos);
    ++docs.count;
  }
  if (docs.count > 0) docs.first = YAML::Load(text);
  return docs;
}

}  // namespace ferry
