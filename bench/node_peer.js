#!/usr/bin/env node
// The peer of bench/http_bench.sh: a minimal KServe v2 JSON inference server in Node.js running one ONNX model
// with onnxruntime-node (what a team would write in 40 lines instead of deploying a serving daemon).
//
//   node bench/node_peer.js MODEL.onnx PORT [THREADS]
//
// POST /v2/models/<any>/infer with {"inputs": [{"name", "shape", "datatype": "FP32", "data": [...]}]} answers
// {"model_name", "outputs": [{"name", "datatype", "shape", "data"}]}; GET /v2/health/live answers 200. Prints
// "ready" once listening on 127.0.0.1:PORT. onnxruntime-node comes from tests/oracle (tests/oracle/ensure_ort.sh).
'use strict';

const http = require('http');
const path = require('path');
const ort = require(require.resolve('onnxruntime-node', {paths: [path.join(__dirname, '..', 'tests', 'oracle')]}));

const [modelPath, portText, threadsText] = process.argv.slice(2);
if (!modelPath || !portText) {
  console.error('usage: node_peer.js MODEL.onnx PORT [THREADS]');
  process.exit(2);
}

function reply(res, status, obj) {
  const text = JSON.stringify(obj);
  res.writeHead(status, {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text)});
  res.end(text);
}

(async () => {
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: Number(threadsText || 1),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/v2/health/live') {
      res.writeHead(200, {'Content-Length': 0});
      return res.end();
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString());
        const feeds = {};
        for (const input of body.inputs) {
          feeds[input.name] = new ort.Tensor('float32', Float32Array.from(input.data.flat(Infinity)), input.shape);
        }
        const results = await session.run(feeds);
        const outputs = session.outputNames.map((name) => ({
          name, datatype: 'FP32', shape: results[name].dims, data: Array.from(results[name].data),
        }));
        reply(res, 200, {model_name: req.url.split('/')[3], outputs});
      } catch (e) {
        reply(res, 400, {error: String(e)});
      }
    });
  });
  server.keepAliveTimeout = 60000;
  server.listen(Number(portText), '127.0.0.1', () => console.log('ready'));
})();
