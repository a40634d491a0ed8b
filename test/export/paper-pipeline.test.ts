/**
 * The paper's pipeline end to end: `cer analyze --models DIR` with exported VS (ResNet-50), VD (LSTM)
 * and A (wav2vec2, a 2-layer backbone here) — random weights, to check the wiring and the shapes:
 * VS features feed VD, A's windows map onto frames, the paper-av8 preset applies.
 * Needs Debian's python3-torch, python3-torchaudio and python3-onnx (skipped with a message without).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FUSION_PRESETS } from '../../src/core';
import { runExportTool } from '../../src/models/export';
import { requireTorch } from '../helpers/python';
import { cer } from '../helpers/cli';
import { RAVDESS_CLIP } from '../helpers/testdata';

interface Result {
  frame: number;
  face: unknown;
  vs: number[] | null;
  vd: number[] | null;
  a: number[] | null;
  fused: number[] | null;
  speech: number | null;
}

describe('the paper pipeline through cer analyze --models DIR (random weights)', function () {
  this.timeout(900000);
  let dir = '';
  let analysis: { models: { vs: string; vd: string; a: string | null }; fusion: unknown; results: Result[]; frames: number };

  before(async function () {
    const status = requireTorch(this);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-paper-'));
    const models = path.join(dir, 'models');
    for (const args of [['vs'], ['vd'], ['a', '--layers', '2']]) {
      await runExportTool(status.python, [...args, '--random-weights', '--seed', '5', '--out', models]);
    }
    const r = cer(['analyze', RAVDESS_CLIP, '--models', models, '--out', dir, '--no-mouth-cue']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /models: faces auto \(blazeface-front-128, blazeface-back-256, blazeface-full-192\) \(cpu\), VS \S+ \(cpu\), VD \S+ \(cpu\), A a-w2v2-\S+;/);
    analysis = JSON.parse(fs.readFileSync(path.join(dir, '01-01-01-01-01-01-01.json'), 'utf8'));
  });
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  it('runs the exported VS, VD and A, with the paper-av8 preset', () => {
    assert.notEqual(analysis.models.vs, 'vs-fer2013-minixception');
    assert.notEqual(analysis.models.vd, 'temporal-smoothing');
    assert.ok(analysis.models.a !== null);
    assert.deepEqual(analysis.fusion, { strategy: 'dirichlet', preset: 'paper-av8' });
    assert.equal(analysis.results.length, analysis.frames);
  });

  it("VD is the LSTM on VS's features: updated every 6th frame, held between", () => {
    const r = analysis.results;
    for (let i = 1; i < 6; i++) assert.deepEqual(r[i].vd, r[0].vd, `held at frame ${i}`);
    assert.notDeepEqual(r[6].vd, r[0].vd, 'a new window at frame 6');
    // Not the smoothing of VS: frame 0's VD is the LSTM's output, not VS itself.
    assert.notDeepEqual(r[0].vd, r[0].vs);
    for (const x of r.filter((y) => y.vd !== null)) assert.ok(Math.abs((x.vd as number[]).reduce((a, b) => a + b, 0) - 1) < 1e-9);
  });

  it('A votes in speech, from windows mapped onto the frames, and fusion uses paper-av8', () => {
    const W = FUSION_PRESETS['paper-av8'].weights;
    const inSpeech = analysis.results.filter((x) => (x.speech ?? 0) >= 0.5);
    assert.ok(inSpeech.length > 20);
    for (const x of analysis.results) {
      assert.equal(x.a !== null, (x.speech ?? 0) >= 0.5, `frame ${x.frame}: A only in speech`);
      if (x.vs && x.vd && x.a && x.fused) {
        const [vs, vd, a] = [x.vs, x.vd, x.a];
        x.fused.forEach((p, c) => assert.ok(Math.abs(p - (vs[c] * W[0][c] + vd[c] * W[1][c] + a[c] * W[2][c])) < 1e-12));
      }
    }
  });
});
