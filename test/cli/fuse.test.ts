import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cer } from '../helpers/cli';

/**
 * The paper's formulas written out plainly, independently of src/core, with the weights typed in
 * from the paper (rows = classes Ne An Di Fe Ha Sa Su, columns = models; last row Mo = v).
 */
const PAPER_TABLES: Record<string, { models: string[]; classRows: number[][]; mo: number[] }> = {
  'paper-v': {
    models: ['vs', 'vd'],
    classRows: [
      [0.42633145, 0.57366855], [0.57803352, 0.42196648], [0.01878466, 0.98121534], [0.86451425, 0.13548575],
      [0.16464752, 0.83535248], [0.03786653, 0.96213347], [0.81048546, 0.18951454],
    ],
    mo: [0.365, 0.23],
  },
  'paper-av7': {
    models: ['vs', 'vd', 'a'],
    classRows: [
      [0.85806901, 0.11491265, 0.02701833], [0.2579578, 0.46222294, 0.27981925], [0.2579578, 0.62411413, 0.17148297],
      [0.72010502, 0.16716238, 0.1127326], [0.62082661, 0.31962795, 0.05954545], [0.06281922, 0.16603196, 0.77114883],
      [0.70875895, 0.24433032, 0.04691073],
    ],
    mo: [0.06, 0.21, 0.01],
  },
  'paper-av8': {
    models: ['vs', 'vd', 'a'],
    classRows: [
      [0.89900098, 0.01223291, 0.08876611], [0.10362151, 0.21364307, 0.68273542], [0.08577635, 0.66688002, 0.24734363],
      [0.04428126, 0.93791526, 0.01780348], [0.89679865, 0.0398964, 0.06330495], [0.02656456, 0.48670648, 0.48672896],
      [0.63040305, 0.22089692, 0.14870002],
    ],
    mo: [0.16, 0.36, 0.01],
  },
};
// Table 1: [E1, CW1, E2, CW2] with canonical indices Ne0 An1 Di2 Fe3 Ha4 Sa5 Su6.
const TABLE1: Array<[number, number, number, number]> = [
  [3, 5 / 7, 6, 2 / 7], [4, 6 / 8, 6, 2 / 8], [5, 4 / 6, 6, 2 / 6], [2, 6 / 8, 6, 2 / 8],
  [1, 5 / 7, 6, 2 / 7], [5, 4 / 9, 3, 5 / 9], [5, 4 / 9, 1, 5 / 9],
];
const NAMES = ['Fearfully Surprised', 'Happily Surprised', 'Sadly Surprised', 'Disgustedly Surprised', 'Angrily Surprised', 'Sadly Fearful', 'Sadly Angry'];

function paperFused(preset: string, strategy: string, frame: number[][]): number[] {
  const t = PAPER_TABLES[preset];
  return [0, 1, 2, 3, 4, 5, 6].map((c) => {
    let s = 0;
    for (let m = 0; m < t.models.length; m++) {
      if (strategy === 'average') s += frame[m][c] / t.models.length;
      else if (strategy === 'dirichlet') s += frame[m][c] * t.classRows[c][m];
      else s += frame[m][c] * t.classRows[c][m] * t.mo[m];
    }
    return s;
  });
}

function paperCompound(p: number[], rule: string): number[] {
  return TABLE1.map(([e1, cw1, e2, cw2]) => {
    if (rule === 'rule2') return p[e1] * cw1 + p[e2] * cw2;
    // Rule 1's mask (p > 1/7 kept), then Rule 2's weights.
    if (rule === 'rule1+rule2') return (p[e1] > 1 / 7 ? p[e1] : 0) * cw1 + (p[e2] > 1 / 7 ? p[e2] : 0) * cw2;
    const keep = (x: number) => (rule === 'rule1' ? (x > 1 / 7 ? x : 0) : x);
    return keep(p[e1]) + keep(p[e2]);
  });
}

function randomFrames(frames: number, seed: number): number[][] {
  let s = seed;
  const rand = () => ((s = (s * 48271) % 2147483647), s / 2147483647);
  return Array.from({ length: frames }, () => {
    const raw = Array.from({ length: 7 }, () => rand() ** 3);
    const sum = raw.reduce((a, b) => a + b, 0);
    return raw.map((x) => x / sum);
  });
}

describe('cer fuse', function () {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-fuse-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function writeJson(name: string, value: unknown): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, JSON.stringify(value));
    return file;
  }

  for (const preset of Object.keys(PAPER_TABLES)) {
    for (const strategy of ['dirichlet', 'hierarchical', 'average']) {
      for (const rule of ['none', 'rule1', 'rule2', 'rule1+rule2']) {
        it(`agrees with the formulas to 1e-12: ${preset} × ${strategy} × ${rule}`, () => {
          const models = PAPER_TABLES[preset].models;
          const perModel = models.map((_, m) => randomFrames(40, 1000 + m * 17 + preset.length));
          const probs = Object.fromEntries(models.map((name, m) => [name, perModel[m]]));
          const file = writeJson(`${preset}-${strategy}-${rule}.json`, { models, probs, fusion: { strategy, preset }, rule });
          const r = cer(['fuse', '--in', file]);
          assert.equal(r.status, 0, r.stderr);
          const out = JSON.parse(r.stdout) as { fused: number[][]; compound: number[][]; labels: string[]; indices: number[] };
          assert.equal(out.fused.length, 40);
          for (let f = 0; f < 40; f++) {
            const fused = paperFused(preset, strategy, perModel.map((frames) => frames[f]));
            const compound = paperCompound(fused, rule);
            fused.forEach((x, c) => assert.ok(Math.abs(out.fused[f][c] - x) <= 1e-12, `frame ${f} fused ${c}`));
            compound.forEach((x, k) => assert.ok(Math.abs(out.compound[f][k] - x) <= 1e-12, `frame ${f} compound ${k}`));
            const best = compound.indexOf(Math.max(...compound));
            assert.equal(out.indices[f], best);
            assert.equal(out.labels[f], NAMES[best]);
          }
        });
      }
    }
  }

  it('writes to --out, and --fusion/--rule override the input', () => {
    const out = path.join(dir, 'out.json');
    const r = cer(['fuse', '--in', 'docs/samples/fuse-input.json', '--fusion', 'paper-av7', '--rule', 'rule2', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    const written = JSON.parse(fs.readFileSync(out, 'utf8')) as { labels: string[] };
    assert.equal(written.labels.length, 30);
  });

  it('gives a frame no model voted for nulls, and fuses the others renormalised', () => {
    const vs = [0.1, 0.2, 0.05, 0.05, 0.4, 0.1, 0.1];
    const file = writeJson('gaps.json', { models: ['vs', 'vd'], probs: { vs: [vs, null], vd: [null, null] }, fusion: { strategy: 'dirichlet', preset: 'paper-v' } });
    const r = cer(['fuse', '--in', file]);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { fused: (number[] | null)[]; labels: (string | null)[] };
    out.fused[0]?.forEach((x, c) => assert.ok(Math.abs(x - vs[c]) < 1e-15));
    assert.equal(out.fused[1], null);
    assert.equal(out.labels[1], null);
  });

  describe('wrong input: one line naming the problem, non-zero exit, no stack trace', () => {
    const frame = [0.1, 0.2, 0.05, 0.05, 0.4, 0.1, 0.1];
    const cases: Array<[string, () => string[], RegExp]> = [
      ['missing file', () => ['fuse', '--in', path.join(dir, 'absent.json')], /absent\.json: no such file/],
      ['bad JSON', () => { fs.writeFileSync(path.join(dir, 'bad.json'), '{"models": ['); return ['fuse', '--in', path.join(dir, 'bad.json')]; }, /bad\.json: not valid JSON/],
      ['wrong vector length', () => ['fuse', '--in', writeJson('short.json', { models: ['vs'], probs: { vs: [frame, [0.5, 0.5]] } })], /short\.json: probs\.vs\[1\]: expected 7 probabilities, got an array of 2/],
      ['NaN', () => ['fuse', '--in', writeJson('nan.json', { models: ['vs'], probs: { vs: [[0.1, 'NaN', 0, 0, 0, 0, 0]] } })], /nan\.json: probs\.vs\[0\]\[1\]: expected a probability in \[0, 1\], got "NaN"/],
      ['infinite value', () => { fs.writeFileSync(path.join(dir, 'inf.json'), '{"models":["vs"],"probs":{"vs":[[1e400,0,0,0,0,0,0]]}}'); return ['fuse', '--in', path.join(dir, 'inf.json')]; }, /inf\.json: probs\.vs\[0\]\[0\]: expected a probability in \[0, 1\], got Infinity/],
      ['frame counts differ', () => ['fuse', '--in', writeJson('counts.json', { models: ['vs', 'vd'], probs: { vs: [frame, frame], vd: [frame] } })], /counts\.json: probs\.vd has 1 frames, probs\.vs has 2/],
      ['weights of the wrong shape', () => ['fuse', '--in', writeJson('w.json', { models: ['vs', 'vd'], probs: { vs: [frame], vd: [frame] }, fusion: { strategy: 'dirichlet', weights: [[1, 0, 0, 0, 0, 0, 0]] } })], /w\.json: fusion: fusion\.weights has 1 rows, expected one per model \(2: vs, vd\)/],
      ['short weight row', () => ['fuse', '--in', writeJson('w2.json', { models: ['vs'], probs: { vs: [frame] }, fusion: { strategy: 'dirichlet', weights: [[1, 0]] } })], /w2\.json: fusion\.weights\[0\]: expected 7 numbers/],
      ['unknown preset', () => ['fuse', '--in', writeJson('p.json', { models: ['vs', 'vd'], probs: { vs: [frame], vd: [frame] }, fusion: { strategy: 'dirichlet', preset: 'paper-x' } })], /p\.json: fusion\.preset: unknown preset "paper-x"; expected one of paper-v, paper-av7, paper-av8/],
      ['unknown --fusion preset', () => ['fuse', '--in', 'docs/samples/fuse-input.json', '--fusion', 'paper-y'], /--fusion: "paper-y" is neither a preset \(paper-v, paper-av7, paper-av8\) nor a file/],
      ['missing --fusion file', () => ['fuse', '--in', 'docs/samples/fuse-input.json', '--fusion', 'mine.json'], /mine\.json: no such file/],
      ['preset for other models', () => ['fuse', '--in', writeJson('pm.json', { models: ['vs', 'a'], probs: { vs: [frame], a: [frame] }, fusion: { strategy: 'dirichlet', preset: 'paper-v' } })], /preset paper-v needs the models \[vs, vd\] in that order, got \[vs, a\]/],
      ['unknown rule', () => ['fuse', '--in', 'docs/samples/fuse-input.json', '--rule', 'rule3'], /--rule: expected one of none, rule1, rule2, rule1\+rule2, got "rule3"/],
      ['probs for an unlisted model', () => ['fuse', '--in', writeJson('x.json', { models: ['vs'], probs: { vs: [frame], vd: [frame] } })], /x\.json: probs\.vd: "vd" is not in models \[vs\]/],
    ];
    for (const [name, args, message] of cases) {
      it(name, () => {
        const r = cer(args());
        assert.notEqual(r.status, 0);
        assert.equal(r.stdout, '');
        const lines = r.stderr.trimEnd().split('\n');
        assert.equal(lines.length, 1, `one line: ${r.stderr}`);
        assert.match(lines[0], /^cer: /);
        assert.match(lines[0], message);
        assert.doesNotMatch(r.stderr, /\n\s+at /);
      });
    }

    it('an unwritable --out leaves no partial file', () => {
      const target = path.join(dir, 'no-such-folder', 'out.json');
      const r = cer(['fuse', '--in', 'docs/samples/fuse-input.json', '--out', target]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /out\.json: cannot write/);
      assert.equal(fs.existsSync(path.dirname(target)), false);
    });
  });
});
