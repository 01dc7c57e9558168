#!/usr/bin/env node
// The oracle driver: for each model in MODELS_DIR/models.json (written by tests/models/make_models.py) and
// each of its batch sizes, makes seeded random inputs, runs `ferryd run` and onnxruntime on them, and checks
// |ferry - ort| <= ATOL + RTOL * |ort| element by element. Prints one line per case and a closing
// "N passed, M failed"; exits 1 on any failure.
//
//   node oracle_test.js --ferryd PATH --models DIR [--filter SUBSTRING] [--keep DIR]
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const {spawnSync} = require('child_process');
const {runModel, stringify} = require('./ort_run.js');

const ATOL = 1e-4;
const RTOL = 1e-3;
const FERRY_TIMEOUT_MS = 120000;

function parseArgs(argv) {
  const args = {filter: ''};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--ferryd') args.ferryd = next();
    else if (a === '--models') args.models = next();
    else if (a === '--filter') args.filter = next();
    else if (a === '--keep') args.keep = next();
    else throw new Error(`unknown argument ${a}`);
  }
  if (!args.ferryd || !args.models) throw new Error('usage: oracle_test.js --ferryd PATH --models DIR');
  return args;
}

// mulberry32: a tiny seeded PRNG, so every run feeds the same inputs.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hashString(s) {
  let h = 2166136261;
  for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return h >>> 0;
}

function makeInputs(model, batch) {
  const rand = prng(hashString(`${model.name}/${batch}`));
  const inputs = {};
  for (const spec of model.inputs) {
    const shape = spec.shape.map((d) => (d === 'batch' ? batch : d));
    const count = shape.reduce((a, b) => a * b, 1);
    const data = new Array(count);
    const isFloat = spec.dtype === 'float' || spec.dtype === 'double';
    for (let i = 0; i < count; i++) {
      const r = rand();
      // Floats are rounded to float32 first so both engines see exactly the same values.
      data[i] = isFloat ? Math.fround(spec.low + (spec.high - spec.low) * r)
                        : Math.floor(spec.low + (spec.high - spec.low + 1) * r);
    }
    inputs[spec.name] = isFloat && spec.dtype === 'float' ? {shape, data} : {dtype: spec.dtype, shape, data};
  }
  return inputs;
}

function toNumber(v) {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v === null) return NaN;
  const s = String(v).toLowerCase();
  if (s === 'nan' || s === '-nan') return NaN;
  if (s === 'inf' || s === 'infinity' || s === '+inf') return Infinity;
  if (s === '-inf' || s === '-infinity') return -Infinity;
  return Number(s);
}

function close(f, o) {
  if (Number.isNaN(o)) return Number.isNaN(f);
  if (!Number.isFinite(o)) return f === o;
  return Math.abs(f - o) <= ATOL + RTOL * Math.abs(o);
}

// Returns null when they match, or a one-line reason.
function compare(ferryOut, ortOut) {
  const notes = [];
  for (const [name, ref] of Object.entries(ortOut)) {
    const got = ferryOut[name];
    if (!got) return `output "${name}" missing from ferryd (has: ${Object.keys(ferryOut).join(', ')})`;
    if (got.dtype !== ref.dtype) return `output "${name}": dtype ${got.dtype}, onnxruntime ${ref.dtype}`;
    const gotShape = (got.shape || []).map(Number);
    if (gotShape.join(',') !== ref.shape.join(',')) {
      return `output "${name}": shape [${gotShape}], onnxruntime [${ref.shape}]`;
    }
    if (!Array.isArray(got.data) || got.data.length !== ref.data.length) {
      return `output "${name}": ${Array.isArray(got.data) ? got.data.length : 'no'} values, expected ${ref.data.length}`;
    }
    let bad = 0;
    let first = -1;
    let maxErr = 0;
    for (let i = 0; i < ref.data.length; i++) {
      const f = toNumber(got.data[i]);
      const o = ref.data[i];
      if (!close(f, o)) {
        if (first < 0) first = i;
        bad++;
      }
      if (Number.isFinite(f) && Number.isFinite(o)) maxErr = Math.max(maxErr, Math.abs(f - o));
    }
    if (bad) {
      return `output "${name}": ${bad}/${ref.data.length} values off, first at flat index ${first}: ` +
          `ferry ${got.data[first]} vs onnxruntime ${ref.data[first]}; max abs err ${maxErr.toExponential(2)}`;
    }
    notes.push(`${name} max_abs_err=${maxErr.toExponential(2)}`);
  }
  const extra = Object.keys(ferryOut).filter((n) => !(n in ortOut));
  if (extra.length) return `ferryd printed outputs onnxruntime does not have: ${extra.join(', ')}`;
  return {ok: notes.join(' ')};
}

function runFerry(ferryd, modelPath, inputsPath, threads) {
  const r = spawnSync(ferryd, ['run', '--model', modelPath, '--inputs', inputsPath, '--threads', String(threads)],
                      {encoding: 'utf8', maxBuffer: 512 * 1024 * 1024, timeout: FERRY_TIMEOUT_MS});
  if (r.error) return {error: `ferryd did not run: ${r.error.message}`};
  if (r.status !== 0) {
    const why = r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
    const tail = (r.stderr || '').trim().split('\n').slice(-3).join(' | ');
    return {error: `ferryd ${why}: ${tail}`};
  }
  try {
    return {out: JSON.parse(r.stdout)};
  } catch (e) {
    return {error: `ferryd printed no valid JSON (${e.message}): ${r.stdout.slice(0, 200)}`};
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const manifest = JSON.parse(fs.readFileSync(path.join(args.models, 'models.json'), 'utf8'));
  const work = args.keep || fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-oracle-'));
  fs.mkdirSync(work, {recursive: true});
  let passed = 0;
  let failed = 0;
  for (const model of manifest) {
    if (!model.name.includes(args.filter)) continue;
    const modelPath = path.join(args.models, model.file);
    model.batch_sizes.forEach((batch, i) => {
      model.cases = model.cases || [];
      // The first batch size runs on one thread, the next ones on two, so both code paths get checked.
      model.cases.push({batch, threads: i === 0 ? 1 : 2});
    });
    for (const {batch, threads} of model.cases) {
      const label = `${model.name} (opset ${model.opset}) batch=${batch} threads=${threads}`;
      const inputs = makeInputs(model, batch);
      const inputsPath = path.join(work, `${model.name}.b${batch}.inputs.json`);
      fs.writeFileSync(inputsPath, stringify(inputs));
      let reason;
      let ortOut;
      try {
        ortOut = await runModel(modelPath, inputs);
      } catch (e) {
        reason = `onnxruntime failed: ${e.message || e}`;
      }
      if (!reason) {
        const ferry = runFerry(args.ferryd, modelPath, inputsPath, threads);
        if (ferry.error) reason = ferry.error;
        else {
          const r = compare(ferry.out, ortOut);
          if (typeof r === 'string') reason = r;
          else console.log(`PASS ${label}: ${r.ok}`);
        }
      }
      if (reason) {
        failed++;
        console.log(`FAIL ${label}: ${reason}`);
        if (args.keep) fs.writeFileSync(path.join(work, `${model.name}.b${batch}.ort.json`), stringify(ortOut || {}));
      } else {
        passed++;
      }
    }
  }
  if (!args.keep) fs.rmSync(work, {recursive: true, force: true});
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed || passed === 0 ? 1 : 0);
}

main().catch((e) => {
  console.error(`oracle_test: ${e.stack || e}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
});
