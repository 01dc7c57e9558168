#!/usr/bin/env bash
# Ferry vs onnxruntime latency on CPU: AlexNet (batch 1 and 8), ResNet-18, an MLP and a transformer encoder
# block, at 1 and 2 threads. Prints a markdown table (case, threads, ferry ms, onnxruntime ms, ratio).
#
#   bench/run_bench.sh [PATH/TO/ferryd] [--threads "1 2"] [--cases "alexnet_b1 mlp_b64"] [--repeat N]
#
# ferryd defaults to build-bench/ferryd. Models and inputs are written by bench/make_bench_models.py into
# $FERRY_BENCH_DIR (default: bench_models/ next to ferryd) and reused while that script is unchanged.
# Both engines: one warm-up run, then the median of N timed runs (cases.txt sets N per case; --repeat overrides).
# onnxruntime-node runs with intraOpNumThreads=T, interOpNumThreads=1, sequential, graphOptimizationLevel 'all'.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
ferryd="$repo/build-bench/ferryd"
threads_list="1 2"
only_cases=""
repeat_override=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads_list="$2"; shift 2 ;;
    --cases) only_cases="$2"; shift 2 ;;
    --repeat) repeat_override="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) ferryd="$1"; shift ;;
  esac
done
ferryd="$(realpath "$ferryd")"
[[ -x "$ferryd" ]] || { echo "run_bench: no ferryd at $ferryd (ninja -C build-bench ferryd)" >&2; exit 2; }
python="${FERRY_PYTHON:-/usr/bin/python3}"

bash "$repo/tests/oracle/ensure_ort.sh"

models="${FERRY_BENCH_DIR:-$(dirname "$ferryd")/bench_models}"
stamp="$(cat "$here/make_bench_models.py" "$repo/tests/models/graph_builder.py" | sha256sum | cut -c1-16)"
if [[ "$(cat "$models/stamp" 2>/dev/null)" != "$stamp" ]]; then
  echo "run_bench: writing models and inputs into $models" >&2
  rm -rf "$models"
  mkdir -p "$models"
  "$python" "$here/make_bench_models.py" "$models" >&2
  echo "$stamp" >"$models/stamp"
fi

start=$SECONDS
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
rows=()
warnings=()
scratch="$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

median_of() {  # the median=<x> field of a `latency_ms median=<x> min=<y>` line
  grep -o 'latency_ms median=[0-9.eE+-]*' "$1" | tail -1 | cut -d= -f2
}

while read -r case model inputs repeat; do
  [[ -z "$case" ]] && continue
  if [[ -n "$only_cases" && " $only_cases " != *" $case "* ]]; then continue; fi
  [[ -n "$repeat_override" ]] && repeat="$repeat_override"
  for t in $threads_list; do
    echo "run_bench: $case threads=$t repeat=$repeat" >&2
    ferry_ms="error"
    if "$ferryd" run --model "$models/$model" --inputs "$models/$inputs" --repeat "$repeat" --threads "$t" \
        >"$scratch/ferry.out" 2>"$scratch/ferry.err"; then
      ferry_ms="$(median_of "$scratch/ferry.err")"
      [[ -n "$ferry_ms" ]] || ferry_ms="error"
    fi
    if [[ "$ferry_ms" == "error" ]]; then
      warnings+=("$case threads=$t: ferryd failed: $(tail -2 "$scratch/ferry.err" | tr '\n' ' ')")
    fi
    ort_ms="error"
    check_args=()
    [[ "$ferry_ms" != "error" ]] && check_args=(--check "$scratch/ferry.out")
    if node "$here/ort_bench.js" "$models/$model" "$models/$inputs" --threads "$t" --repeat "$repeat" \
        "${check_args[@]}" >"$scratch/ort.out" 2>"$scratch/ort.err"; then
      ort_ms="$(median_of "$scratch/ort.out")"
      [[ -n "$ort_ms" ]] || ort_ms="error"
      if grep -q 'check MISMATCH' "$scratch/ort.out"; then
        warnings+=("$case threads=$t: ferry's outputs differ from onnxruntime's: $(grep 'check' "$scratch/ort.out")")
      fi
    else
      warnings+=("$case threads=$t: onnxruntime failed: $(tail -2 "$scratch/ort.err" | tr '\n' ' ')")
    fi
    ratio="n/a"
    if [[ "$ferry_ms" != "error" && "$ort_ms" != "error" ]]; then
      ratio="$(awk -v f="$ferry_ms" -v o="$ort_ms" 'BEGIN { printf "%.2f", f / o }')"
      ferry_ms="$(awk -v x="$ferry_ms" 'BEGIN { printf "%.2f", x }')"
      ort_ms="$(awk -v x="$ort_ms" 'BEGIN { printf "%.2f", x }')"
    fi
    rows+=("| $case | $t | $ferry_ms | $ort_ms | $ratio |")
    echo "run_bench: ${rows[-1]}" >&2
  done
done <"$models/cases.txt"

echo "| case | threads | ferry ms | onnxruntime ms | ferry/onnxruntime |"
echo "|---|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
echo "Median of N timed runs after one warm-up (N: $(awk '{printf "%s%s=%s", (NR>1?", ":""), $1, $4}' "$models/cases.txt")${repeat_override:+; overridden to $repeat_override})." \
     "Total bench time $((SECONDS - start)) s; load average (1/5/15 min) before: $load_before," \
     "after: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores."
if [[ ${#warnings[@]} -gt 0 ]]; then
  echo
  printf -- '- WARNING: %s\n' "${warnings[@]}"
  exit 1
fi
