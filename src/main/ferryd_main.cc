#include "main/ferryd_main.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "main/cli.h"
#include "main/serve.h"
#include "main/token_command.h"

namespace {

constexpr const char* kUsage =
    "usage: ferryd [serve] [--config FILE] [--model-repository DIR] [--host H] [--port P] ...\n"
    "       ferryd <command> [args]\n"
    "commands:\n"
    "  serve [flags]                          serve the models of a repository over REST (the default;\n"
    "                                         `ferryd serve --help` lists the flags)\n"
    "  inspect MODEL.onnx                     print a model's signature, ops, weights and planned memory\n"
    "  run --model M --inputs IN.json [--repeat N] [--threads T]\n"
    "                                         run a model once on JSON inputs; print the outputs as JSON\n"
    "  token create --name N --scope S ...   make a bearer token (`ferryd token --help`)\n";

}  // namespace

namespace ferry {

int FerrydMain(int argc, char** argv) {
  // OpenMP threads spin-wait between parallel regions; libgomp's default (300k spins) stalls badly whenever
  // the cores are shared with other processes (2-7x slower at 2 threads), while no spinning at all costs up
  // to 1.7x on an idle machine (bench/RESULTS.md). A short spin (5k) is within a few percent of the best on
  // an idle machine and degrades far less under load. libgomp reads its settings once, when it loads, so
  // ferryd re-executes itself once with GOMP_SPINCOUNT set, unless the user chose a policy. If the re-exec
  // fails, it carries on with the default.
  if (std::getenv("OMP_WAIT_POLICY") == nullptr && std::getenv("GOMP_SPINCOUNT") == nullptr) {
    setenv("GOMP_SPINCOUNT", "5000", 1);
    execv("/proc/self/exe", argv);
  }
  if (argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::cout << kUsage;
    return 0;
  }
  // No subcommand, or flags only: serve.
  if (argc < 2 || argv[1][0] == '-') return ServeCommand(std::vector<std::string>(argv + 1, argv + argc));
  std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (cmd == "serve") return ServeCommand(args);
  if (cmd == "inspect") return InspectCommand(args);
  if (cmd == "run") return RunCommand(args);
  if (cmd == "token") return TokenCommand(args);
  std::cerr << "unknown command: " << cmd << "\n" << kUsage;
  return 2;
}

}  // namespace ferry
