/**
 * `cer analyze` on still images decoded by sharp (the default) against the ffmpeg path
 * (CER_STILL_DECODER=ffmpeg): the same faces and labels, near-identical probabilities.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveFfmpeg } from '../../src/media/binaries';
import { CER } from '../helpers/cli';
import { ASTRONAUT_PNG, REPO_ROOT } from '../helpers/testdata';

interface StillResult {
  face: { box: number[]; score: number; track: number } | null;
  vs: number[] | null;
  compound: number[] | null;
  label: string | null;
  mouthOpen: number | null;
}

function analyze(input: string, out: string, decoder: 'sharp' | 'ffmpeg', extra: string[] = []): StillResult {
  fs.rmSync(out, { recursive: true, force: true });
  const r = spawnSync(process.execPath, [CER, 'analyze', input, '--out', out, '--quiet', ...extra], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, CER_STILL_DECODER: decoder },
  });
  assert.equal(r.status, 0, r.stderr);
  const json = path.join(out, `${path.basename(input, path.extname(input))}.json`);
  const a = JSON.parse(fs.readFileSync(json, 'utf8')) as { frames: number; results: StillResult[] };
  assert.equal(a.frames, 1);
  assert.equal(a.results.length, 1);
  return a.results[0] as StillResult;
}

function maxDifference(a: number[] | null, b: number[] | null): number {
  assert.ok(a !== null && b !== null);
  return Math.max(...a.map((x, i) => Math.abs(x - (b[i] as number))));
}

describe('cer analyze: still images through sharp and through ffmpeg', function () {
  this.timeout(240_000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-still-analyze-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('astronaut.png: identical results (the same pixels)', () => {
    const ours = analyze(ASTRONAUT_PNG, path.join(dir, 'sharp'), 'sharp');
    const theirs = analyze(ASTRONAUT_PNG, path.join(dir, 'ffmpeg'), 'ffmpeg');
    assert.ok(ours.face !== null);
    assert.deepEqual(ours, theirs);
  });

  it('astronaut as a 4:2:0 JPEG: the same face and label, probabilities within 0.01', () => {
    const jpeg = path.join(dir, 'astronaut.jpg');
    execFileSync(resolveFfmpeg().path, ['-v', 'error', '-y', '-i', ASTRONAUT_PNG, '-pix_fmt', 'yuvj420p', '-q:v', '3', jpeg]);
    const ours = analyze(jpeg, path.join(dir, 'sharp'), 'sharp');
    const theirs = analyze(jpeg, path.join(dir, 'ffmpeg'), 'ffmpeg');
    assert.equal(ours.label, theirs.label);
    assert.ok(ours.face !== null && theirs.face !== null);
    assert.ok(maxDifference(ours.face.box, theirs.face.box) < 1, `${ours.face.box} / ${theirs.face.box}`);
    const dv = maxDifference(ours.vs, theirs.vs);
    const dc = maxDifference(ours.compound, theirs.compound);
    assert.ok(dv < 0.01 && dc < 0.01, `VS differs by ${dv}, compound by ${dc}`);
  });

  it('--whole-frame-face on a grey 48x48 JPEG (a FER2013-sized face): near-identical', () => {
    const jpeg = path.join(dir, 'face48.jpg');
    // The astronaut's face, cut and scaled to FER2013's 48x48 grey.
    execFileSync(resolveFfmpeg().path, ['-v', 'error', '-y', '-i', ASTRONAUT_PNG, '-vf', 'crop=96:96:176:80,scale=48:48,format=gray', jpeg]);
    const ours = analyze(jpeg, path.join(dir, 'sharp'), 'sharp', ['--whole-frame-face']);
    const theirs = analyze(jpeg, path.join(dir, 'ffmpeg'), 'ffmpeg', ['--whole-frame-face']);
    assert.equal(ours.label, theirs.label);
    const dv = maxDifference(ours.vs, theirs.vs);
    assert.ok(dv < 0.01, `VS differs by ${dv}`);
  });
});
