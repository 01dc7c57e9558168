#!/usr/bin/env node
// Times onnxruntime-node on a model and inputs in ferryd's CLI JSON format, set up the way ferryd runs:
// intraOpNumThreads=T, interOpNumThreads=1, sequential execution, graphOptimizationLevel 'all'.
// One warm-up run, then N timed runs; prints `latency_ms median=<x> min=<y>` (ferryd's --repeat format).
//
//   node bench/ort_bench.js MODEL.onnx IN.json [--threads T] [--repeat N] [--check FERRY_OUT.json]
//
// --check compares the outputs with ferryd's (its stdout for the same inputs) and prints
// `check ok max_abs_err=<e>` or `check MISMATCH ...`, using the oracle's tolerance.
'use strict';

const fs = require('fs');
const path = require('path');
const {createSession, feedsFromJson, fromOrtTensor} = require(path.join(__dirname, '..', 'tests', 'oracle', 'ort_run.js'));

function parseArgs(argv) {
  const args = {threads: 1, repeat: 10, positional: []};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--threads') args.threads = Number(argv[++i]);
    else if (a === '--repeat') args.repeat = Number(argv[++i]);
    else if (a === '--check') args.check = argv[++i];
    else args.positional.push(a);
  }
  if (args.positional.length !== 2 || !(args.threads >= 1) || !(args.repeat >= 1)) {
    console.error('usage: ort_bench.js MODEL.onnx IN.json [--threads T] [--repeat N] [--check FERRY_OUT.json]');
    process.exit(2);
  }
  return args;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function check(ferryPath, results) {
  const ferry = JSON.parse(fs.readFileSync(ferryPath, 'utf8'));
  let maxErr = 0;
  for (const [name, t] of Object.entries(results)) {
    const ref = fromOrtTensor(t);
    const got = ferry[name];
    if (!got) return `check MISMATCH: output ${name} missing from ferryd`;
    if (got.shape.join(',') !== ref.shape.join(',')) {
      return `check MISMATCH: ${name} shape [${got.shape}] vs onnxruntime [${ref.shape}]`;
    }
    for (let i = 0; i < ref.data.length; i++) {
      const f = Number(got.data[i]);
      const o = ref.data[i];
      const err = Math.abs(f - o);
      if (!(err <= 1e-4 + 1e-3 * Math.abs(o))) {
        return `check MISMATCH: ${name}[${i}] ferry ${got.data[i]} vs onnxruntime ${o}`;
      }
      maxErr = Math.max(maxErr, err);
    }
  }
  return `check ok max_abs_err=${maxErr.toExponential(2)}`;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const [modelPath, inPath] = args.positional;
  const {session, inputTypes} = await createSession(modelPath, {threads: args.threads});
  const feeds = feedsFromJson(JSON.parse(fs.readFileSync(inPath, 'utf8')), inputTypes);
  let results = await session.run(feeds);  // warm-up
  const times = [];
  for (let i = 0; i < args.repeat; i++) {
    const t0 = process.hrtime.bigint();
    results = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  console.log(`latency_ms median=${median(times).toFixed(3)} min=${Math.min(...times).toFixed(3)}`);
  if (args.check) console.log(check(args.check, results));
}

main().catch((e) => {
  console.error(`ort_bench: ${e.message || e}`);
  process.exit(1);
});
