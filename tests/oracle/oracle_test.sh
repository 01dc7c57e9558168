#!/usr/bin/env bash
# Oracle test: Ferry's outputs against onnxruntime's on hand-built "never seen" models.
#
#   tests/oracle/oracle_test.sh PATH/TO/ferryd [--filter SUBSTRING] [--keep DIR]
#
# Builds the models with tests/models/make_models.py (/usr/bin/python3 with python3-onnx), installs
# onnxruntime-node into tests/oracle/node_modules when it is missing (npm, --ignore-scripts: the package ships
# the Linux x64 binary and its install script only fetches GPU extras), then runs oracle_test.js.
# Exit 77 (ctest's SKIP_RETURN_CODE in oracle.cmake) when node/npm or python3-onnx is not on the machine.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

if [[ $# -lt 1 ]]; then
  echo "usage: $0 PATH/TO/ferryd [--filter SUBSTRING] [--keep DIR]" >&2
  exit 2
fi
ferryd="$(realpath "$1")"
shift
if [[ ! -x "$ferryd" ]]; then
  echo "oracle: ferryd not found at $ferryd" >&2
  exit 2
fi

python="${FERRY_PYTHON:-/usr/bin/python3}"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "oracle: SKIP: node and npm are needed (apt-get install nodejs npm)"
  exit 77
fi
if ! "$python" -c 'import onnx, numpy' 2>/dev/null; then
  echo "oracle: SKIP: $python cannot import onnx and numpy (apt-get install python3-onnx python3-numpy)"
  exit 77
fi

bash "$here/ensure_ort.sh"

# With --keep DIR the models, inputs and onnxruntime's outputs of failing cases stay in DIR for debugging.
keep=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  [[ "${args[i]}" == "--keep" ]] && keep="${args[i + 1]:-}"
done
if [[ -n "$keep" ]]; then
  models="$keep/models"
  mkdir -p "$models"
else
  models="$(mktemp -d "${TMPDIR:-/tmp}/ferry-oracle-models.XXXXXX")"
  trap 'rm -rf "$models"' EXIT
fi
"$python" "$repo/tests/models/make_models.py" "$models" >/dev/null

node "$here/oracle_test.js" --ferryd "$ferryd" --models "$models" "$@"
