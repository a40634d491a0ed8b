/**
 * tools/export/quantize.py (the int8 rewrite with python3-onnx): on small graphs whose inputs and
 * weights are exactly representable in 8 bits, the rewritten graph must give the float graph's
 * outputs in onnxruntime-node up to float rounding — so scales, zero points, layouts, transposes,
 * biases and per-channel orientation are all right — and its MatMul / Gemm / Conv nodes must be
 * gone. Skipped, naming the missing Debian packages, without python3-onnx and friends.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { requireTorch } from '../helpers/python';
import { REPO_ROOT } from '../helpers/testdata';

interface Case {
  name: string;
  shape: number[];
  quantised: { matmul: number; gemm: number; conv: number };
}

const EXPECTED: Readonly<Record<string, Case['quantised']>> = {
  matmul3d: { matmul: 1, gemm: 0, conv: 0 },
  gemm: { matmul: 0, gemm: 1, conv: 0 },
  shared: { matmul: 2, gemm: 0, conv: 0 },
  conv2d: { matmul: 0, gemm: 0, conv: 1 },
  conv1d: { matmul: 0, gemm: 0, conv: 1 },
};

describe('tools/export int8 rewrite (quantize.py) in onnxruntime-node', function () {
  this.timeout(120000);
  let dir = '';
  let cases: Case[] = [];

  before(function () {
    const status = requireTorch(this);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-quantize-'));
    const r = spawnSync(status.python, ['-B', path.join(REPO_ROOT, 'tools', 'export', 'make_quantize_cases.py'), dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    cases = JSON.parse(fs.readFileSync(path.join(dir, 'cases.json'), 'utf8')) as Case[];
  });

  after(function () {
    if (dir !== '') fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reproduces the float outputs exactly on exactly representable data, for every case', async function () {
    assert.deepEqual(cases.map((c) => c.name).sort(), Object.keys(EXPECTED).sort());
    for (const c of cases) {
      assert.deepEqual(c.quantised, EXPECTED[c.name], `${c.name}: nodes rewritten`);
      const bytes = fs.readFileSync(path.join(dir, `${c.name}.input.f32`));
      const x = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      const outputs: Float32Array[] = [];
      for (const file of [`${c.name}.onnx`, `${c.name}-int8.onnx`]) {
        const session = await ort.InferenceSession.create(path.join(dir, file), { intraOpNumThreads: 1 });
        const out = await session.run({ input: new ort.Tensor('float32', x, c.shape) });
        outputs.push(out.output.data as Float32Array);
        await session.release();
      }
      const [fp32, int8] = outputs;
      assert.equal(int8.length, fp32.length);
      let diff = 0;
      let scale = 0;
      for (let i = 0; i < fp32.length; i++) {
        diff = Math.max(diff, Math.abs(int8[i] - fp32[i]));
        scale = Math.max(scale, Math.abs(fp32[i]));
      }
      assert.ok(scale > 0.1, `${c.name}: outputs up to ${scale}`);
      assert.ok(diff <= 1e-5 * Math.max(1, scale), `${c.name}: int8 differs from fp32 by ${diff} (outputs up to ${scale})`);
    }
  });
});
