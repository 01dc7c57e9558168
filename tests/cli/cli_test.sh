#!/usr/bin/env bash
# ferryd's offline CLI on the bundled example model: real files, real process, exit codes and messages.
# usage: cli_test.sh FERRYD REPO_ROOT
set -u
ferryd=$1
root=$2
model="$root/examples/models/digits/1/model.onnx"
sample="$root/examples/digits/sample_input.json"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
check() {  # check NAME WANT_EXIT PATTERN -- CMD...
  local name=$1 want=$2 pattern=$3
  shift 4
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [[ $got -eq $want ]] && grep -qE -- "$pattern" "$tmp/out" "$tmp/err"; then
    echo "PASS $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name: exit $got (want $want), output:"
    cat "$tmp/out" "$tmp/err" | head -5
    failed=$((failed + 1))
  fi
}

# The sample holds a 2 and a 0 (examples/README.md): the labels are known independently of the engine.
check "run labels the sample digits" 0 '"label":\{"data":\[2,0\]' -- "$ferryd" run --model "$model" --inputs "$sample"
check "inspect prints the signature" 0 'pixels: float \[batch, 64\]' -- "$ferryd" inspect "$model"
check "inspect plans batch 64" 0 'activations at batch 64: peak' -- "$ferryd" inspect "$model"
check "repeat prints latency" 0 'latency_ms median=[0-9.]+ min=[0-9.]+' -- "$ferryd" run --model "$model" --inputs "$sample" --repeat 3 --threads 2
check "no arguments serves, and asks for a repository" 2 'model-repository' -- "$ferryd"
check "unknown command is usage" 2 'usage' -- "$ferryd" frobnicate
check "run without --inputs is usage" 2 'usage' -- "$ferryd" run --model "$model"
check "bad --threads is usage" 2 'usage' -- "$ferryd" run --model "$model" --inputs "$sample" --threads zero
check "missing model file" 1 'no such file' -- "$ferryd" inspect "$tmp/nope.onnx"
printf 'garbage' >"$tmp/bad.onnx"
check "garbage model" 1 'not a valid ONNX model' -- "$ferryd" inspect "$tmp/bad.onnx"
printf '{"pixels": ' >"$tmp/trunc.json"
check "truncated JSON" 1 'not a JSON object' -- "$ferryd" run --model "$model" --inputs "$tmp/trunc.json"
echo '{"pixelz": {"shape": [1, 64], "data": []}}' >"$tmp/name.json"
check "unknown input name" 1 'no input "pixelz"' -- "$ferryd" run --model "$model" --inputs "$tmp/name.json"
echo '{"pixels": {"shape": [1, 64], "data": [1, 2, 3]}}' >"$tmp/count.json"
check "too few values" 1 'needs 64 values, got 3' -- "$ferryd" run --model "$model" --inputs "$tmp/count.json"
echo '{"pixels": {"shape": [1, 63], "data": []}}' >"$tmp/dim.json"
check "wrong dimension" 1 'needs 63 values|dimension 1 = 64' -- "$ferryd" run --model "$model" --inputs "$tmp/dim.json"
echo '{"pixels": {"shape": [1, 64], "data": ["a"]}}' >"$tmp/type.json"
check "non-numeric value" 1 'error' -- "$ferryd" run --model "$model" --inputs "$tmp/type.json"
echo '{}' >"$tmp/empty.json"
check "missing input" 1 'missing input "pixels"' -- "$ferryd" run --model "$model" --inputs "$tmp/empty.json"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
