/**
 * npm run bench:core — the core's speed targets on this machine:
 *  - fusing one hour of 30 fps video (108,000 frames × 3 models) with rules: under 2 s;
 *  - a 10,000-sample Dirichlet search over 10,000 frames: under 30 s.
 * Also times `cer fuse` end to end on the same hour as a JSON file (parsing and writing included).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { applyRule, dirichletSearch, fuseFrames, resolveFusion, RULES } from '../../src/core';
import { CER } from '../helpers/cli';

function randomProbs(frames: number, seed: number): Float64Array {
  let s = seed;
  const rand = () => ((s = (s * 48271) % 2147483647), s / 2147483647);
  const out = new Float64Array(frames * 7);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < 7; c++) sum += out[f * 7 + c] = rand() ** 2;
    for (let c = 0; c < 7; c++) out[f * 7 + c] /= sum;
  }
  return out;
}

function line(label: string, seconds: number, target?: number): void {
  const verdict = target === undefined ? '' : seconds <= target ? `  (target < ${target} s: met)` : `  (target < ${target} s: MISSED)`;
  console.log(`${label.padEnd(72)} ${seconds.toFixed(3)} s${verdict}`);
}

const HOUR = 108000;
const probs = [randomProbs(HOUR, 1), randomProbs(HOUR, 2), randomProbs(HOUR, 3)];
console.log(`core benchmark: node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'})`);

for (const strategy of ['dirichlet', 'hierarchical'] as const) {
  const fusion = resolveFusion({ strategy, preset: 'paper-av8' }, ['vs', 'vd', 'a']);
  for (const rule of RULES) {
    fuseFrames(fusion, probs); // warm-up
    const t0 = performance.now();
    const fused = fuseFrames(fusion, probs);
    const { indices } = applyRule(fused, rule);
    const seconds = (performance.now() - t0) / 1000;
    if (indices.length !== HOUR) throw new Error('wrong frame count');
    line(`fuse 1 h of 30 fps (108,000 frames × 3 models), ${strategy}, ${rule}`, seconds, 2);
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-bench-'));
try {
  const toRows = (p: Float64Array) => Array.from({ length: HOUR }, (_, f) => Array.from(p.subarray(f * 7, f * 7 + 7)));
  const input = path.join(dir, 'hour.json');
  fs.writeFileSync(input, JSON.stringify({ models: ['vs', 'vd', 'a'], probs: { vs: toRows(probs[0]), vd: toRows(probs[1]), a: toRows(probs[2]) }, fusion: { strategy: 'dirichlet', preset: 'paper-av8' }, rule: 'rule1' }));
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CER, 'fuse', '--in', input, '--out', path.join(dir, 'out.json')], { encoding: 'utf8' });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(r.stderr);
  line(`cer fuse end to end on the hour (${(fs.statSync(input).size / 1e6).toFixed(0)} MB JSON in, process start included)`, seconds);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

const FRAMES = 10000;
const truthSeed = randomProbs(FRAMES, 9);
const truth = Int32Array.from({ length: FRAMES }, (_, f) => Math.floor(truthSeed[f * 7] * 7 * 7) % 7);
const data = { probs: [randomProbs(FRAMES, 4), randomProbs(FRAMES, 5), randomProbs(FRAMES, 6)], truth };
const t0 = performance.now();
const found = dirichletSearch(data, { samples: 10000, seed: 1, metric: 'f1-1to6', task: 'basic' });
line('Dirichlet search, 10,000 samples over 10,000 frames × 3 models', (performance.now() - t0) / 1000, 30);
console.log(`  best f1-1to6 ${found.score.toFixed(4)} at sample ${found.sample}`);
