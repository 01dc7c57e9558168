// ferryd's command line: serve (the daemon; also what ferryd does with no subcommand or with flags only), inspect
// and run (offline), token. A function rather than main() so that test builds can register devices first
// (tests/fakes/ferryd_sim_main.cc).
#pragma once

namespace ferry {

// Returns the process's exit status.
int FerrydMain(int argc, char** argv);

}  // namespace ferry
