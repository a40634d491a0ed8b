#!/usr/bin/env node
// Runs an exported acoustic model with onnxruntime-node (the runtime `cer` uses) on the reference
// windows train.py saved, compares with the PyTorch logits and times one window on one thread.
// Usage: node tools/train-acoustic/check_onnx.js MODEL.onnx REFERENCE_DIR [--repeats N]
// Prints one JSON line: { maxAbsDiff, windows, msPerWindow, msPerWindowMedian, runtime }.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function loadRuntime() {
  const candidates = [path.join(__dirname, '..', '..', 'node_modules', 'onnxruntime-node'), 'onnxruntime-node'];
  for (const c of candidates) {
    try {
      return require(c);
    } catch {
      // next
    }
  }
  throw new Error('onnxruntime-node not found (run npm ci in the project)');
}

function readF32(file) {
  const buf = fs.readFileSync(file);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

async function main() {
  const [modelPath, refDir] = process.argv.slice(2);
  const repeatsAt = process.argv.indexOf('--repeats');
  const repeats = repeatsAt > 0 ? Number(process.argv[repeatsAt + 1]) : 50;
  if (!modelPath || !refDir) throw new Error('usage: check_onnx.js MODEL.onnx REFERENCE_DIR [--repeats N]');
  const ort = loadRuntime();
  const ref = JSON.parse(fs.readFileSync(path.join(refDir, 'reference.json'), 'utf8'));
  const input = readF32(path.join(refDir, ref.input));
  const expected = readF32(path.join(refDir, ref.output));
  const [n, t] = ref.inputShape;
  const width = ref.outputShape[1];
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
  const inName = session.inputNames[0];
  const outName = session.outputNames[0];
  const out = await session.run({ [inName]: new ort.Tensor('float32', input, [n, t]) });
  const got = out[outName].data;
  if (got.length !== n * width) throw new Error(`output has ${got.length} values, expected ${n * width}`);
  let maxAbsDiff = 0;
  for (let i = 0; i < got.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(got[i] - expected[i]));
  // Timing: one window per call, one thread, after a warm-up.
  const one = new ort.Tensor('float32', input.slice(0, t), [1, t]);
  for (let i = 0; i < 5; i++) await session.run({ [inName]: one });
  const times = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = process.hrtime.bigint();
    await session.run({ [inName]: one });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  process.stdout.write(JSON.stringify({ maxAbsDiff, windows: n, msPerWindow: mean, msPerWindowMedian: times[times.length >> 1], msPerWindowMin: times[0], runtime: `onnxruntime-node ${ort.env.versions ? ort.env.versions.common : ''}`.trim(), inputName: inName, outputName: outName }) + '\n');
  await session.release();
}

main().catch((err) => {
  process.stderr.write(`check_onnx: ${err.message}\n`);
  process.exit(1);
});
