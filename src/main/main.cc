// ferryd: the Ferry model server. Subcommands: inspect, run (offline); serving arrives with the daemon.
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "main/cli.h"

namespace {

constexpr const char* kUsage =
    "usage: ferryd <command> [args]\n"
    "commands:\n"
    "  inspect MODEL.onnx                     print a model's signature, ops, weights and planned memory\n"
    "  run --model M --inputs IN.json [--repeat N] [--threads T]\n"
    "                                         run a model once on JSON inputs; print the outputs as JSON\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::cerr << kUsage;
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (cmd == "inspect") return ferry::InspectCommand(args);
  if (cmd == "run") return ferry::RunCommand(args);
  std::cerr << "unknown command: " << cmd << "\n" << kUsage;
  return 2;
}
