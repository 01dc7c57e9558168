#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz, FERRY_FUZZ=ON: clang, ASan + UBSan, coverage on every library) and
# runs each for a fixed short time over a copy of its seed corpus (tests/fuzz/corpus/<name>/ is never written).
# Fails when any fuzzer reports a crash, a leak, an UBSan or ASan report, a timeout or an out-of-memory; the
# inputs that did it are kept in <build dir>/fuzz-artifacts/<name>/ (reproduce: <build dir>/tests/fuzz/
# <name>_fuzzer <file>).
#
# Needs, beyond .ci/install-deps.sh: clang, libclang-rt-14-dev (the libFuzzer and sanitizer runtimes) and
# libomp-dev (OpenMP for clang). Run from anywhere: bash .ci/fuzz.sh
# Environment: FERRY_FUZZ_BUILD_DIR (default build-fuzz), FERRY_FUZZ_SECONDS (per fuzzer, default 20),
# FERRY_FUZZ_JOBS (build jobs, default nproc), FERRY_FUZZERS (names to run, default all).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${FERRY_FUZZ_BUILD_DIR:-build-fuzz}
seconds=${FERRY_FUZZ_SECONDS:-20}
jobs=${FERRY_FUZZ_JOBS:-$(nproc)}
fuzzers=${FERRY_FUZZERS:-"json_reader tfserving_codec kserve_codec kserve_binary onnx_loader version_archive model_config daemon_config"}

export CC=clang CXX=clang++

# Say what is missing before CMake does, in package names.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz.sh: clang++ not found (apt-get install clang libclang-rt-14-dev libomp-dev)" >&2
  exit 2
fi
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' >"$probe/f.cc"
if ! clang++ -fsanitize=fuzzer,address,undefined "$probe/f.cc" -o "$probe/f" 2>"$probe/err"; then
  cat "$probe/err" >&2
  echo "fuzz.sh: clang cannot link a fuzzer (apt-get install libclang-rt-14-dev)" >&2
  exit 2
fi
printf '#include <omp.h>\nint main() { return omp_get_max_threads() > 0 ? 0 : 1; }\n' >"$probe/omp.cc"
if ! clang++ -fopenmp "$probe/omp.cc" -o "$probe/omp" 2>"$probe/err"; then
  cat "$probe/err" >&2
  echo "fuzz.sh: clang has no OpenMP (apt-get install libomp-dev)" >&2
  exit 2
fi

cmake_args=(-DCMAKE_BUILD_TYPE=Release -DFERRY_FUZZ=ON -DFERRY_BUILD_TESTS=OFF -DFERRY_BUILD_BENCH=OFF)
if command -v ninja >/dev/null 2>&1; then cmake_args+=(-G Ninja); fi
if command -v ccache >/dev/null 2>&1; then cmake_args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B "$build_dir" "${cmake_args[@]}"
targets=()
for name in $fuzzers; do targets+=("${name}_fuzzer"); done
cmake --build "$build_dir" -j "$jobs" --target "${targets[@]}"

work=$(mktemp -d)
trap 'rm -rf "$probe" "$work"' EXIT
artifacts="$build_dir/fuzz-artifacts"
rm -rf "$artifacts"
failed=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for name in $fuzzers; do
  binary="$build_dir/tests/fuzz/${name}_fuzzer"
  dir="$work/$name"
  mkdir -p "$dir/corpus" "$dir/artifacts" "$dir/tmp"
  cp -R "tests/fuzz/corpus/$name/." "$dir/corpus/"
  options=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
           -artifact_prefix="$dir/artifacts/")
  if [ -f "tests/fuzz/dict/$name.dict" ]; then options+=(-dict="tests/fuzz/dict/$name.dict"); fi
  echo "=== $name: ${seconds}s over $(find "$dir/corpus" -type f | wc -l) seed inputs"
  status=0
  TMPDIR="$dir/tmp" "$binary" "${options[@]}" "$dir/corpus" >"$dir/log" 2>&1 || status=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done )' "$dir/log" || true
  if [ "$status" != 0 ] || [ -n "$(ls -A "$dir/artifacts")" ]; then
    failed+=("$name")
    mkdir -p "$artifacts/$name"
    cp -R "$dir/artifacts/." "$artifacts/$name/"
    tail -n 60 "$dir/log"
    echo "=== $name FAILED (exit $status); inputs kept in $artifacts/$name/"
    for f in "$artifacts/$name"/*; do
      [ -e "$f" ] && echo "    reproduce: $binary $f"
    done
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: findings in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: all fuzzers clean ($fuzzers)"
