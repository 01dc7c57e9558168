#!/usr/bin/env bash
# Sanitizer builds with clang, each failing on any report:
#   asan  AddressSanitizer + UndefinedBehaviorSanitizer (build-asan): builds everything and runs every ctest test but
#         the conformance and oracle suites: the unit tests, the cli test and the daemon tests (`ferryd serve`
#         under ASan, labels "daemon": daemon, http_robustness).
#   tsan  ThreadSanitizer (build-tsan): the scheduler and model manager tests (tests/scheduler, tests/server), the
#         code with the most threads and locks, and the device tests (streams on their own threads, events, sessions
#         on one device in parallel).
# Both builds compile everything with -Wthread-safety -Werror=thread-safety (src/common/thread_annotations.h), so
# a lock-discipline error fails the build.
#
# Usage: bash .ci/sanitize.sh [asan|tsan|all]     (default: all; JOBS=n to override the build/test parallelism)
# Needs (Debian 12): clang (14), libclang-rt-14-dev (the sanitizer runtimes), libomp-14-dev (clang's -fopenmp),
# plus what .ci/install-deps.sh installs; ccache is used when present.
#
# OpenMP and TSan: an OpenMP runtime synchronizes its team through its own futexes and spin barriers, which TSan
# cannot see, so a parallel region reports races that are not there (suppressions do not help: the reported frames
# are our outlined loop bodies). clang's -fopenmp links LLVM's libomp, and libomp-14-dev ships Archer
# (libarcher.so), an OMPT tool that libomp loads by itself under TSan and that tells TSan about the runtime's
# barriers, tasks and locks; Archer asks for TSAN_OPTIONS=ignore_noninstrumented_modules=1 (set below), which also
# ignores what the uninstrumented libgomp and OpenBLAS do inside themselves. Beyond that we keep OpenMP out of
# the TSan run's paths: the scheduler and model manager tests use fake instances and loaders that never run a
# kernel or BLAS call. (A TSan run of real inference would need OpenBLAS built against an instrumented runtime.)
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
case "$what" in asan | tsan | all) ;; *)
  echo "usage: $0 [asan|tsan|all]" >&2
  exit 2
  ;;
esac
jobs="${JOBS:-$(nproc)}"
for tool in clang clang++ cmake ninja; do
  command -v "$tool" >/dev/null || {
    echo "sanitize: $tool not found (apt-get install clang libclang-rt-14-dev libomp-14-dev cmake ninja-build)" >&2
    exit 2
  }
done
export CC=clang CXX=clang++
configure=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DFERRY_BUILD_BENCH=OFF
           "-DCMAKE_CXX_FLAGS=-Wthread-safety -Werror=thread-safety")
if command -v ccache >/dev/null; then configure+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi

# Fails when a sanitizer wrote a report file into $1 (log_path=$1/report: one file per process that reported,
# daemons and child processes included, whose stderr a test may not look at).
check_reports() {
  local dir="$1" name="$2"
  if compgen -G "$dir/report*" >/dev/null; then
    echo "sanitize: $name reported errors:" >&2
    for f in "$dir"/report*; do
      echo "--- $f" >&2
      head -n 80 "$f" >&2
    done
    return 1
  fi
}

seconds() { echo $(($(date +%s) - $1)); }

run_asan() {
  local t0 build_s status=0
  t0=$(date +%s)
  cmake -S . -B build-asan "${configure[@]}" -DFERRY_SANITIZE=address,undefined >/dev/null
  cmake --build build-asan -j "$jobs"
  build_s=$(seconds "$t0")
  local reports="$PWD/build-asan/sanitizer-reports"
  # The conformance and oracle suites are left to .ci/test.sh. The tests that cap the address space (RLIMIT_AS)
  # cannot run under ASan, whose shadow memory reserves terabytes of it at start; tests/daemon/test_model_bombs.py
  # skips itself for an ASan ferryd.
  local asan_excluded="conformance|oracle|DecodeBounds\.|OnnxLoaderTest\.DeclaredSizesAreCheckedBeforeAllocating"
  rm -rf "$reports" && mkdir -p "$reports"
  t0=$(date +%s)
  # detect_leaks: LeakSanitizer at exit. A small quarantine keeps the daemon tests' memory bounds (RssAnon growth
  # under floods) meaningful; use-after-free is still caught for recently freed blocks.
  ASAN_OPTIONS="log_path=$reports/report:detect_leaks=1:halt_on_error=1:abort_on_error=0:quarantine_size_mb=16:detect_stack_use_after_return=0:strict_string_checks=1:check_initialization_order=1" \
    UBSAN_OPTIONS="log_path=$reports/report:print_stacktrace=1:halt_on_error=1" \
    ctest --test-dir build-asan --output-on-failure -j "$jobs" -E "$asan_excluded" || status=1
  check_reports "$reports" "ASan/UBSan" || status=1
  echo "sanitize: asan build ${build_s}s, tests $(seconds "$t0")s"
  [ "$status" = 0 ]
}

run_tsan() {
  local t0 build_s
  t0=$(date +%s)
  cmake -S . -B build-tsan "${configure[@]}" -DFERRY_SANITIZE=thread >/dev/null
  cmake --build build-tsan -j "$jobs" --target ferry_scheduler_tests ferry_server_tests ferry_device_tests
  build_s=$(seconds "$t0")
  local reports="$PWD/build-tsan/sanitizer-reports"
  rm -rf "$reports" && mkdir -p "$reports"
  t0=$(date +%s)
  local status=0
  for exe in build-tsan/tests/scheduler/ferry_scheduler_tests build-tsan/tests/server/ferry_server_tests \
    build-tsan/tests/ferry_device_tests; do
    TSAN_OPTIONS="log_path=$reports/report:halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1" \
      "$exe" --gtest_brief=1 || status=1
  done
  check_reports "$reports" "TSan" || status=1
  echo "sanitize: tsan build ${build_s}s, tests $(seconds "$t0")s"
  [ "$status" = 0 ]
}

if [ "$what" = asan ] || [ "$what" = all ]; then run_asan; fi
if [ "$what" = tsan ] || [ "$what" = all ]; then run_tsan; fi
echo "sanitize: $what passed"
