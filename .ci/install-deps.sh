#!/usr/bin/env bash
# Installs everything Ferry needs to build, test and benchmark on Debian 12 (bookworm).
# Used by .ci/run and by the README; safe to run again.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
pkgs=(
  build-essential cmake ninja-build pkg-config clang-format
  libonnx-dev libonnx-testdata libprotobuf-dev protobuf-compiler
  libopenblas-openmp-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libyaml-cpp-dev
  libboost-dev libarchive-dev zlib1g-dev libssl-dev openssl
  libgtest-dev libgmock-dev googletest libbenchmark-dev wrk
  python3 python3-numpy python3-onnx python3-sklearn
  # The checks of .ci/run beyond the tests: sanitizer builds, libFuzzer, llvm-symbolizer for their reports.
  clang libclang-rt-14-dev libomp-14-dev llvm
)
# Node.js runs the onnxruntime-node oracle; a machine may already have it from another source.
if ! command -v npm >/dev/null 2>&1; then pkgs+=(nodejs npm); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
