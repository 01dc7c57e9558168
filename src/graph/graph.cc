#include "graph/graph.h"

#include <queue>

namespace ferry {

int Graph::AddValue(const std::string& name) {
  auto it = by_name_.find(name);
  if (it != by_name_.end()) return it->second;
  int id = static_cast<int>(values.size());
  ValueInfo info;
  info.name = name;
  values.push_back(std::move(info));
  by_name_[name] = id;
  return id;
}

int Graph::FindValue(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? -1 : it->second;
}

int Graph::NewValue(const std::string& hint) {
  std::string name = hint;
  for (int i = 1; by_name_.count(name); ++i) name = hint + "__" + std::to_string(i);
  return AddValue(name);
}

std::string Graph::Describe(const Node& node) const {
  std::string s = "node ";
  s += node.name.empty() ? "#" + std::to_string(&node - nodes.data()) : "\"" + node.name + "\"";
  s += " (" + (node.domain.empty() ? node.op_type : node.domain + "." + node.op_type);
  auto it = opsets.find(node.domain);
  if (it != opsets.end()) s += ", opset " + std::to_string(it->second);
  return s + ")";
}

Status Graph::TopologicalSort() {
  const size_t n = nodes.size();
  std::vector<int> producer(values.size(), -1);
  std::vector<bool> defined(values.size(), false);
  for (int v : inputs) defined[v] = true;
  for (auto& [v, t] : initializers) defined[v] = true;
  for (size_t i = 0; i < n; ++i) {
    for (int v : nodes[i].outputs) {
      if (v < 0) continue;
      if (defined[v] || producer[v] >= 0) {
        return InvalidArgument("value \"{}\" is defined more than once ({})", values[v].name, Describe(nodes[i]));
      }
      producer[v] = static_cast<int>(i);
    }
  }
  std::vector<int> pending(n, 0);
  std::vector<std::vector<int>> consumers(n);
  for (size_t i = 0; i < n; ++i) {
    for (int v : nodes[i].inputs) {
      if (v < 0) continue;
      if (producer[v] >= 0) {
        ++pending[i];
        consumers[producer[v]].push_back(static_cast<int>(i));
      } else if (!defined[v]) {
        return InvalidArgument("{} reads \"{}\", which no node, input or initializer defines", Describe(nodes[i]),
                               values[v].name);
      }
    }
  }
  std::queue<int> ready;
  for (size_t i = 0; i < n; ++i)
    if (pending[i] == 0) ready.push(static_cast<int>(i));
  std::vector<Node> sorted;
  sorted.reserve(n);
  while (!ready.empty()) {
    int i = ready.front();
    ready.pop();
    for (int c : consumers[i])
      if (--pending[c] == 0) ready.push(c);
    sorted.push_back(std::move(nodes[i]));
  }
  if (sorted.size() != n) return InvalidArgument("the graph has a cycle");
  nodes = std::move(sorted);
  for (int v : outputs) {
    bool ok = defined[v] || producer[v] >= 0;
    if (!ok) return InvalidArgument("graph output \"{}\" is never computed", values[v].name);
  }
  return Status::Ok();
}

}  // namespace ferry
