import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FUSION_PRESETS } from '../../src/core';
import { resolveFfmpeg } from '../../src/media/binaries';
import { writeAcousticTestModel } from '../helpers/acoustic-model';
import { cer } from '../helpers/cli';
import { RAVDESS_CLIP, SAMPLE_MP4 } from '../helpers/testdata';

interface Result {
  frame: number;
  t: number;
  face: unknown;
  vs: number[] | null;
  vd: number[] | null;
  a: number[] | null;
  fused: number[] | null;
  speech: number | null;
  mouthOpen: number | null;
}
interface Analysis {
  frames: number;
  models: { a: string | null };
  fusion: { strategy: string; preset?: string };
  results: Result[];
  notes: string[];
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

describe('cer analyze: the audio path', function () {
  let dir: string;
  before(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-audio-path-'));
  });
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  const analyse = (input: string, ...args: string[]): Analysis => {
    const r = cer(['analyze', input, '--out', dir, ...args]);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(fs.readFileSync(path.join(dir, `${path.basename(input).replace(/\.[^.]+$/, '')}.json`), 'utf8')) as Analysis;
  };

  /** A votes on the frames with speech and only there; each vote a distribution, Surprise at its pinned low value. */
  const assertGatedA = (a: Analysis): void => {
    for (const r of a.results) {
      if ((r.speech ?? 0) >= 0.5) {
        assert.ok(r.a !== null, `frame ${r.frame} in speech has A`);
        assert.ok(Math.abs(r.a.reduce((s, p) => s + p, 0) - 1) < 1e-9);
        // The bundled model never heard Surprise (EMO-DB has none): 2 % per window, a little more where windows are averaged.
        assert.ok(r.a[6] > 0.015 && r.a[6] < 0.03, `frame ${r.frame}: Surprise ${r.a[6]}`);
      } else {
        assert.equal(r.a, null, `frame ${r.frame} outside speech`);
      }
    }
  };

  describe('the RAVDESS clip, bundled models and no flags', function () {
    let a: Analysis;
    let stderr: string;
    before(() => {
      const r = cer(['analyze', RAVDESS_CLIP, '--out', dir]);
      assert.equal(r.status, 0, r.stderr);
      stderr = r.stderr;
      a = JSON.parse(fs.readFileSync(path.join(dir, '01-01-01-01-01-01-01.json'), 'utf8')) as Analysis;
    });

    it('runs the bundled acoustic model, fuses with paper-av8, and A votes only in speech', () => {
      assert.match(stderr, /A a-emodb-cnn-8cl/);
      assert.equal(a.models.a, 'a-emodb-cnn-8cl');
      assert.deepEqual(a.notes, []);
      assert.deepEqual(a.fusion, { strategy: 'dirichlet', preset: 'paper-av8' });
      assertGatedA(a);
      // The actor speaks for about a second (1.1–2.2 s): a second's frames at least have A.
      assert.ok(a.results.filter((r) => r.a !== null).length >= 25, `${a.results.filter((r) => r.a !== null).length} frames with A`);
      const W = FUSION_PRESETS['paper-av8'].weights;
      for (const r of a.results) {
        if (r.vs && r.vd && r.a && r.fused) {
          const [vs, vd, ac] = [r.vs, r.vd, r.a];
          r.fused.forEach((p, c) => assert.ok(Math.abs(p - (vs[c] * W[0][c] + vd[c] * W[1][c] + ac[c] * W[2][c])) < 1e-12));
        }
      }
    });

    it('--no-acoustic: A null on every frame, said once, and the visual preset', () => {
      const r = cer(['analyze', RAVDESS_CLIP, '--out', path.join(dir, 'off'), '--no-acoustic']);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr.match(/acoustic model off/g)?.length, 2, r.stderr); // the models line and the input's note
      const off = JSON.parse(fs.readFileSync(path.join(dir, 'off', '01-01-01-01-01-01-01.json'), 'utf8')) as Analysis;
      assert.deepEqual(off.notes, ['acoustic model off: A is null']);
      assert.equal(off.models.a, null);
      assert.ok(off.results.every((x) => x.a === null));
      assert.deepEqual(off.fusion, { strategy: 'dirichlet', preset: 'paper-v' });
      // The visual votes do not depend on A.
      assert.deepEqual(off.results.map((x) => x.vs), a.results.map((x) => x.vs));
    });

    it('finds speech where the actor speaks (about 1.1–2.2 s) and not in the silent lead-in', () => {
      const lead = a.results.filter((r) => r.t < 0.8).map((r) => r.speech as number);
      const talk = a.results.filter((r) => r.t > 1.2 && r.t < 2.1).map((r) => r.speech as number);
      assert.ok(lead.every((p) => p < 0.2), `lead-in ${Math.max(...lead)}`);
      assert.ok(talk.every((p) => p > 0.5), `speech ${Math.min(...talk)}`);
    });

    it('the mouth-open gap is larger while speaking than in the silent lead-in', () => {
      const lead = a.results.filter((r) => r.t < 0.5).map((r) => r.mouthOpen as number);
      const talk = a.results.filter((r) => r.t > 1.1 && r.t < 2.2).map((r) => r.mouthOpen as number);
      assert.ok(median(talk) > 1.5 * median(lead), `speaking ${median(talk)} vs silent ${median(lead)}`);
    });
  });

  it('the bundled sample: the synthetic voice (2.0–5.4 s) gets A votes, the silence none, with no flags', function () {
    const a = analyse(SAMPLE_MP4);
    assert.equal(a.models.a, 'a-emodb-cnn-8cl');
    assertGatedA(a);
    const withA = a.results.filter((r) => r.a !== null);
    assert.ok(withA.length >= 50, `${withA.length} frames with A`);
    assert.ok(withA.every((r) => r.t > 1.8 && r.t < 5.8), `A at ${withA[0]?.t}…${withA[withA.length - 1]?.t} s`);
  });

  it('a video without audio: speech and A null, said once', function () {
    const silent = path.join(dir, 'silent.mp4');
    execFileSync(resolveFfmpeg().path, ['-v', 'error', '-y', '-i', RAVDESS_CLIP, '-an', '-c:v', 'copy', silent]);
    const r = cer(['analyze', silent, '--out', dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.match(/no audio stream/g)?.length, 1, r.stderr);
    const a = JSON.parse(fs.readFileSync(path.join(dir, 'silent.json'), 'utf8')) as Analysis;
    // A stream copy of the video keeps a frame the original's edit list hid: 98 or 99 frames.
    assert.ok(a.frames >= 98 && a.results.length === a.frames, `${a.frames} frames`);
    assert.ok(a.results.filter((x) => x.face !== null).every((x) => x.speech === null && x.a === null && x.vs !== null));
  });

  it('audio without video: speech per 1/25 s, no face, said once', function () {
    const voice = path.join(dir, 'voice.m4a');
    execFileSync(resolveFfmpeg().path, ['-v', 'error', '-y', '-i', RAVDESS_CLIP, '-vn', '-c:a', 'copy', voice]);
    const r = cer(['analyze', voice, '--out', dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.match(/no video stream/g)?.length, 1, r.stderr);
    const a = JSON.parse(fs.readFileSync(path.join(dir, 'voice.json'), 'utf8')) as Analysis;
    assert.ok(Math.abs(a.results.length - 3.3 * 25) <= 2, `${a.results.length} results`);
    assert.ok(a.results.every((x) => x.face === null && x.vs === null && x.mouthOpen === null));
    assert.ok(a.results.filter((x) => x.t > 1.2 && x.t < 2.1).every((x) => (x.speech ?? 0) > 0.5));
    assert.ok(a.results.filter((x) => x.t < 0.8).every((x) => (x.speech ?? 1) < 0.2));
  });

  describe('with an acoustic model (a test-built ONNX model of the paper contract)', function () {
    let modelsDir: string;
    before(async () => {
      modelsDir = path.join(dir, 'models');
      fs.mkdirSync(modelsDir, { recursive: true });
      await writeAcousticTestModel(modelsDir);
    });

    it('fuses VS, VD and A with paper-av8, and A votes only in speech', () => {
      const a = analyse(RAVDESS_CLIP, '--models', modelsDir);
      assert.equal(a.models.a, 'acoustic-test-8');
      assert.deepEqual(a.fusion, { strategy: 'dirichlet', preset: 'paper-av8' });
      assert.deepEqual(a.notes, []);
      const W = FUSION_PRESETS['paper-av8'].weights;
      for (const r of a.results) {
        if ((r.speech ?? 0) >= 0.5) {
          assert.ok(r.a !== null, `frame ${r.frame} in speech has A`);
          assert.ok(Math.abs(r.a.reduce((s, p) => s + p, 0) - 1) < 1e-9);
        } else {
          assert.equal(r.a, null, `frame ${r.frame} outside speech`);
        }
        if (r.vs && r.vd && r.a && r.fused) {
          const [vs, vd, ac] = [r.vs, r.vd, r.a];
          r.fused.forEach((p, c) => assert.ok(Math.abs(p - (vs[c] * W[0][c] + vd[c] * W[1][c] + ac[c] * W[2][c])) < 1e-12));
        }
      }
      assert.ok(a.results.some((r) => r.a !== null));
    });

    it('--reference-compat turns the gating off: A on every frame', () => {
      const a = analyse(RAVDESS_CLIP, '--models', modelsDir, '--reference-compat');
      assert.ok(a.results.every((r) => r.a !== null));
    });
  });
});
