#!/usr/bin/env node
// Runs an ONNX model with onnxruntime-node on inputs in ferryd's CLI JSON format and writes the outputs in the
// same format, so the two can be compared value by value.
//
//   node ort_run.js MODEL.onnx IN.json [OUT.json]      (stdout when OUT.json is left out)
//
// IN.json:  {"<input>": {"shape": [..], "data": [..], "dtype": "float" (optional)}, ...}
// OUT.json: {"<output>": {"dtype": "float", "shape": [..], "data": [..]}, ...}
'use strict';

const fs = require('fs');
const path = require('path');

// onnxruntime-node lives in tests/oracle/node_modules; resolve it from there wherever the caller runs from.
const ort = require(require.resolve('onnxruntime-node', {paths: [__dirname]}));

// ferryd's dtype names (src/common/dtype.cc) <-> onnxruntime-node's tensor types.
const FERRY_TO_ORT = {
  float: 'float32', double: 'float64', int64: 'int64', int32: 'int32', int16: 'int16', int8: 'int8',
  uint8: 'uint8', uint16: 'uint16', uint32: 'uint32', uint64: 'uint64', bool: 'bool', float16: 'float16',
  string: 'string',
};
const ORT_TO_FERRY = Object.fromEntries(Object.entries(FERRY_TO_ORT).map(([k, v]) => [v, k]));
const ARRAYS = {
  float32: Float32Array, float64: Float64Array, int32: Int32Array, int16: Int16Array, int8: Int8Array,
  uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, bool: Uint8Array,
};

// Element types of the model's graph inputs (ONNX TensorProto.DataType numbers), read from the model file so
// that an input without "dtype" gets the model's type, as ferryd does. Protobuf is walked by hand to avoid a
// dependency: ModelProto.graph = 7, GraphProto.input = 11, ValueInfoProto.name = 1, .type = 2,
// TypeProto.tensor_type = 1, Tensor.elem_type = 1.
const ONNX_ELEM_TO_FERRY = {
  1: 'float', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool',
  10: 'float16', 11: 'double', 12: 'uint32', 13: 'uint64',
};

function readVarint(buf, pos) {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    const b = buf[pos++];
    result |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return [result, pos];
    shift += 7n;
  }
}

function* fields(buf, start, end) {
  let pos = start;
  while (pos < end) {
    let key;
    [key, pos] = readVarint(buf, pos);
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) {
      let v;
      [v, pos] = readVarint(buf, pos);
      yield {field, wire, value: v};
    } else if (wire === 2) {
      let len;
      [len, pos] = readVarint(buf, pos);
      yield {field, wire, start: pos, end: pos + Number(len)};
      pos += Number(len);
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 5) {
      pos += 4;
    } else {
      throw new Error(`unsupported protobuf wire type ${wire}`);
    }
  }
}

function modelInputTypes(buf) {
  const types = {};
  for (const g of fields(buf, 0, buf.length)) {
    if (g.field !== 7 || g.wire !== 2) continue;
    for (const inp of fields(buf, g.start, g.end)) {
      if (inp.field !== 11 || inp.wire !== 2) continue;
      let name = null;
      let elem = null;
      for (const f of fields(buf, inp.start, inp.end)) {
        if (f.field === 1 && f.wire === 2) name = buf.toString('utf8', f.start, f.end);
        if (f.field === 2 && f.wire === 2) {
          for (const t of fields(buf, f.start, f.end)) {
            if (t.field !== 1 || t.wire !== 2) continue;
            for (const e of fields(buf, t.start, t.end)) {
              if (e.field === 1 && e.wire === 0) elem = Number(e.value);
            }
          }
        }
      }
      if (name !== null && elem !== null) types[name] = ONNX_ELEM_TO_FERRY[elem] || 'undefined';
    }
  }
  return types;
}

function toOrtTensor(name, spec, modelType) {
  const dtype = spec.dtype || modelType || 'float';
  const type = FERRY_TO_ORT[dtype];
  if (!type) throw new Error(`input ${name}: unsupported dtype ${dtype}`);
  const shape = spec.shape.map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  if (spec.data.length !== count) {
    throw new Error(`input ${name}: shape [${shape}] needs ${count} values, got ${spec.data.length}`);
  }
  let data;
  if (type === 'int64') {
    data = BigInt64Array.from(spec.data, (v) => BigInt(v));
  } else if (type === 'uint64') {
    data = BigUint64Array.from(spec.data, (v) => BigInt(v));
  } else if (type === 'string') {
    data = spec.data.map(String);
  } else if (type === 'float16') {
    throw new Error(`input ${name}: float16 inputs are not supported by this oracle`);
  } else if (type === 'bool') {
    data = Uint8Array.from(spec.data, (v) => (v ? 1 : 0));
  } else {
    data = ARRAYS[type].from(spec.data);
  }
  return new ort.Tensor(type, data, shape);
}

function fromOrtTensor(t) {
  const dtype = ORT_TO_FERRY[t.type] || t.type;
  let data;
  if (t.type === 'int64' || t.type === 'uint64') {
    data = Array.from(t.data, (v) => Number(v));
  } else if (t.type === 'bool') {
    data = Array.from(t.data, (v) => (v ? 1 : 0));
  } else {
    data = Array.from(t.data);
  }
  return {dtype, shape: t.dims.map(Number), data};
}

// JSON cannot hold NaN or Infinity; write them as strings, the way ferryd's tensor_json is expected to.
function stringify(obj) {
  return JSON.stringify(obj, (k, v) => {
    if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
    return v;
  });
}

async function createSession(modelPath, options = {}) {
  const bytes = fs.readFileSync(modelPath);
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: options.threads || 1,
    interOpNumThreads: 1,
    logSeverityLevel: 4,  // errors come back as exceptions; keep ORT's own log quiet
    ...options.sessionOptions,
  });
  return {session, inputTypes: modelInputTypes(bytes)};
}

function feedsFromJson(inputs, inputTypes) {
  const feeds = {};
  for (const [name, spec] of Object.entries(inputs)) feeds[name] = toOrtTensor(name, spec, inputTypes[name]);
  return feeds;
}

async function runModel(modelPath, inputs, options = {}) {
  const {session, inputTypes} = await createSession(modelPath, options);
  const results = await session.run(feedsFromJson(inputs, inputTypes));
  const out = {};
  for (const name of session.outputNames) out[name] = fromOrtTensor(results[name]);
  return out;
}

module.exports = {ort, createSession, feedsFromJson, runModel, fromOrtTensor, stringify, modelInputTypes};

if (require.main === module) {
  const [modelPath, inPath, outPath] = process.argv.slice(2);
  if (!modelPath || !inPath) {
    console.error(`usage: node ${path.basename(__filename)} MODEL.onnx IN.json [OUT.json]`);
    process.exit(2);
  }
  runModel(modelPath, JSON.parse(fs.readFileSync(inPath, 'utf8')))
      .then((out) => {
        const text = stringify(out) + '\n';
        if (outPath) fs.writeFileSync(outPath, text);
        else process.stdout.write(text);
      })
      .catch((err) => {
        console.error(`ort_run: ${err.message || err}`);
        process.exit(1);
      });
}
