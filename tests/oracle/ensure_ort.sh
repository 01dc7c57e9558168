#!/usr/bin/env bash
# Makes sure onnxruntime-node (pinned in tests/oracle/package.json) is installed in tests/oracle/node_modules.
# Used by tests/oracle/oracle_test.sh and bench/run_bench.sh. --ignore-scripts: the package ships the Linux x64
# binary; its install script only downloads GPU extras, which a machine without that network access cannot get.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usable() {
  node -e 'require(require.resolve("onnxruntime-node", {paths: [process.argv[1]]}))' "$here" 2>/dev/null
}
usable && exit 0
# Serialize installs: ctest may run the oracle test beside the benchmark, and both use this node_modules.
(
  flock 9
  if ! usable; then
    echo "installing onnxruntime-node into $here/node_modules" >&2
    cd "$here"
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2 ||
      npm install --ignore-scripts --no-audit --no-fund --loglevel=error >&2
  fi
) 9>"${TMPDIR:-/tmp}/ferry-oracle-npm.lock"
usable || { echo "onnxruntime-node is not usable after npm install" >&2; exit 1; }
