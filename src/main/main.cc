// ferryd: the Ferry model server. Subcommands: inspect, run (offline); serving arrives with the daemon.
#include <unistd.h>

#include <cstdlib>
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
  // OpenMP threads that spin between parallel regions stall each other whenever the cores are shared (other
  // workers, other processes): measured 2-7x slower at 2 threads under load (bench/RESULTS.md). libgomp
  // reads OMP_WAIT_POLICY once, when it loads, so ferryd re-executes itself once with a passive policy
  // unless the user chose one. If the re-exec fails, it carries on with the default.
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    execv("/proc/self/exe", argv);
  }
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
