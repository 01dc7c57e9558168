// ferryd-sim: ferryd with a simulated device (sim_device.h) registered before it starts, for running the daemon
// suites with instances on a device without a GPU. A test binary only: release builds of ferryd have no way to
// reach the simulated device. Its kind gpu instances (and the default instances of models without a config) go to
// the simulated device, "sim:0". Settings from the environment:
//   FERRY_SIM_CAPACITY_MB  the device's memory (default 1024)
//   FERRY_SIM_OPS          "all" (default) or "split" (SimSplitOps: about half the ops, the rest on the CPU)
//   FERRY_SIM_DELAY_US     delay of each stream item (default 0)
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "main/ferryd_main.h"
#include "tests/fakes/sim_device.h"

int main(int argc, char** argv) {
  ferry::testing::SimDeviceOptions options;
  if (const char* mb = std::getenv("FERRY_SIM_CAPACITY_MB"))
    options.capacity_bytes = std::strtoull(mb, nullptr, 10) << 20;
  if (const char* ops = std::getenv("FERRY_SIM_OPS"); ops && std::strcmp(ops, "split") == 0)
    options.runs_op = ferry::testing::SimSplitOps;
  if (const char* delay = std::getenv("FERRY_SIM_DELAY_US")) options.delay_us = std::atoi(delay);
  if (ferry::testing::RegisterSimDevice(options) == nullptr) {
    std::cerr << "ferryd-sim: could not register the simulated device\n";
    return 1;
  }
  return ferry::FerrydMain(argc, argv);
}
