#!/usr/bin/env python3
"""Integration tests for `ferryd serve`: the real binary on a free loopback port, a temporary model repository,
every endpoint and every error class over real HTTP (the contract is notes/daemon_contract.md; the protocols are
the public TF Serving REST API and KServe v2 with Triton's extensions).

usage: daemon_test.py --ferryd PATH [--keep] [-k PATTERN ...] [-v]

Exit: 0 all passed, 1 a failure, 77 when a prerequisite is missing (python3-onnx for the test models).
Needs only the Python 3 standard library itself; the models are written by make_daemon_models.py, run with
/usr/bin/python3 (python3-onnx). The digits oracle part needs node + onnxruntime-node and skips without them.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)

from daemon_harness import CONFIG, STARTED  # noqa: E402

MODULES = ["test_serving", "test_management", "test_lifecycle", "test_batching"]


class LogDumpingResult(unittest.TextTestResult):
    """Prints the logs of the daemons a failing test used."""

    def startTest(self, test):
        self._first_daemon = len(STARTED)
        super().startTest(test)

    def _dump(self, test):
        daemons = []
        cls_daemon = getattr(type(test), "daemon", None)
        if cls_daemon is not None:
            daemons.append(cls_daemon)
        daemons += [d for d in STARTED[getattr(self, "_first_daemon", 0):] if d not in daemons]
        if not daemons and STARTED:
            daemons.append(STARTED[-1])  # setUpClass failures
        for d in daemons:
            self.stream.write(f"\n----- ferryd log ({d.log_path}), last lines -----\n{d.log_tail(80)}\n-----\n")
        self.stream.flush()

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._dump(test)

    def addError(self, test, err):
        super().addError(test, err)
        self._dump(test)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ferryd", required=True, help="path of the ferryd binary")
    ap.add_argument("--source-dir", default=os.path.normpath(os.path.join(HERE, "..", "..")),
                    help="repository root (default: two levels above this file)")
    ap.add_argument("--python-onnx", default="/usr/bin/python3", help="a python3 with python3-onnx and numpy")
    ap.add_argument("--keep", action="store_true", help="keep temporary directories")
    ap.add_argument("-k", action="append", default=[], dest="patterns", help="only tests matching (unittest -k)")
    ap.add_argument("-v", action="store_true", help="verbose")
    ap.add_argument("--gpus", default="", help="comma-separated ids of the binary's accelerators (ferryd-sim: sim:0)")
    ap.add_argument("--modules", default=",".join(MODULES),
                    help=f"comma-separated test modules (default: {','.join(MODULES)}; also: test_http)")
    args = ap.parse_args()

    ferryd = os.path.abspath(args.ferryd)
    if not os.access(ferryd, os.X_OK):
        print(f"daemon_test: {ferryd} is not an executable", file=sys.stderr)
        return 1
    if not os.path.exists(args.python_onnx):
        print(f"daemon_test: {args.python_onnx} not found; skipping", file=sys.stderr)
        return 77
    models_tmp = tempfile.mkdtemp(prefix="ferry-daemon-models-")
    gen = subprocess.run([args.python_onnx, os.path.join(HERE, "make_daemon_models.py"), models_tmp])
    if gen.returncode == 77:
        return 77
    if gen.returncode != 0:
        print("daemon_test: make_daemon_models.py failed", file=sys.stderr)
        return 1
    CONFIG.update(ferryd=ferryd, models=models_tmp, source_dir=os.path.abspath(args.source_dir), keep=args.keep,
                  gpus=[g for g in args.gpus.split(",") if g])

    loader = unittest.TestLoader()
    if args.patterns:
        loader.testNamePatterns = [p if "*" in p else f"*{p}*" for p in args.patterns]
    suite = unittest.TestSuite(loader.loadTestsFromName(m) for m in args.modules.split(",") if m)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2 if args.v else 1, resultclass=LogDumpingResult)
    t0 = time.monotonic()
    result = runner.run(suite)
    print(f"daemon_test: {result.testsRun} tests in {time.monotonic() - t0:.1f}s, {len(result.failures)} failures, "
          f"{len(result.errors)} errors, {len(result.skipped)} skipped")
    for d in STARTED:  # never leave a daemon behind
        d.kill()
    if not args.keep:
        shutil.rmtree(models_tmp, ignore_errors=True)
    else:
        print(f"daemon_test: models kept in {models_tmp}")
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
