import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cer } from '../helpers/cli';

const HEADER = 'image_location,Fearfully_Surprised,Happily_Surprised,Sadly_Surprised,Disgustedly_Surprised,Angrily_Surprised,Sadly_Fearful,Sadly_Angry';

function abaw(video: string, labels: number[]): string {
  return [HEADER, ...labels.map((l, i) => `${video}/${String(i + 1).padStart(5, '0')}.jpg,${l}`)].join('\n') + '\n';
}

interface Report {
  f1: number;
  uar: number;
  accuracy: number;
  confusion: number[][];
  perClass: Array<{ label: string; f1: number; support: number }>;
  excluded: number;
  matchedBy: string;
  f1_1to6?: number;
}

describe('cer eval', () => {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-eval-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };

  it('scores ABAW files frame by frame by name, by hand', () => {
    // truth FS FS HS HS SA, predicted FS HS HS HS FS (listed in another order in the prediction file).
    const truth = write('truth.txt', abaw('vid', [0, 0, 1, 1, 6]));
    const predLines = [HEADER, 'vid/00005.jpg,0', 'vid/00001.jpg,0', 'vid/00002.jpg,1', 'vid/00003.jpg,1', 'vid/00004.jpg,1'];
    const pred = write('pred.txt', predLines.join('\n') + '\n');
    const r = cer(['eval', '--pred', pred, '--truth', truth, '--task', 'compound']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.matchedBy, 'name');
    // F1: FS 2·1/(2+1+1) = 0.5, HS 2·2/(4+1+0) = 0.8, SA 0 → macro over present classes 1.3/3.
    assert.ok(Math.abs(report.f1 - 1.3 / 3) < 1e-12);
    assert.ok(Math.abs(report.uar - 0.5) < 1e-12);
    assert.equal(report.accuracy, 0.6);
    assert.deepEqual(report.confusion[0], [1, 1, 0, 0, 0, 0, 0]);
    assert.deepEqual(report.confusion[6], [1, 0, 0, 0, 0, 0, 0]);
    assert.equal(report.perClass[1].label, 'Happily Surprised');
    assert.equal(report.perClass[1].support, 2);
  });

  it('reads cer fuse output, leaves out unlabelled frames, and reports the reference metric', () => {
    const fused = cer(['fuse', '--in', 'docs/samples/fuse-input.json', '--out', path.join(dir, 'fused.json')]);
    assert.equal(fused.status, 0, fused.stderr);
    const truthLines = fs.readFileSync('docs/samples/fuse-truth-basic.txt', 'utf8').trim().split('\n');
    truthLines[3] = '-1';
    truthLines[4] = '7';
    const truth = write('truth-basic.txt', truthLines.join('\n') + '\n');
    const r = cer(['eval', '--pred', path.join(dir, 'fused.json'), '--truth', truth]);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.excluded, 2);
    assert.equal(report.matchedBy, 'position');
    assert.equal(report.confusion.flat().reduce((a, b) => a + b, 0), 28);
    assert.equal(typeof report.f1_1to6, 'number');
    const compound = cer(['eval', '--pred', path.join(dir, 'fused.json'), '--truth', 'docs/samples/fuse-truth-compound.txt', '--task', 'compound']);
    assert.equal(compound.status, 0, compound.stderr);
    assert.equal((JSON.parse(compound.stdout) as Report).confusion.flat().reduce((a, b) => a + b, 0), 30);
  });

  it('a frame on one side only is an error naming it', () => {
    const truth = write('t.txt', abaw('vid', [0, 0, 1]));
    const pred = write('p.txt', abaw('vid', [0, 0]));
    const r = cer(['eval', '--pred', pred, '--truth', truth, '--task', 'compound']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^cer: .*p\.txt: has no prediction for frame vid\/00003\.jpg of .*t\.txt \(1 frames missing\)\n$/);
    const other = write('o.txt', abaw('other', [0, 0, 1]));
    assert.match(cer(['eval', '--pred', other, '--truth', truth, '--task', 'compound']).stderr, /no prediction for frame vid\/00001\.jpg/);
    const short = write('s.json', JSON.stringify({ labels: [0, 1] }));
    assert.match(cer(['eval', '--pred', short, '--truth', truth, '--task', 'compound']).stderr, /s\.json has 2 frames, .*t\.txt has 3/);
    const badLabel = write('b.txt', abaw('vid', [0, 9, 1]));
    assert.match(cer(['eval', '--pred', badLabel, '--truth', truth, '--task', 'compound']).stderr, /b\.txt: line 3: label 9 is not a compound class/);
  });
});

describe('cer fit-weights', () => {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-fit-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('finds weights at least as good as the preset, reproducibly, and cer fuse takes them as is', () => {
    const out = path.join(dir, 'fitted.json');
    const args = ['fit-weights', '--in', 'docs/samples/fuse-input.json', '--truth', 'docs/samples/fuse-truth-basic.txt', '--samples', '500', '--seed', '7'];
    const r = cer([...args, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /dirichlet search: 100% \(500\/500\)/);
    const fitted = JSON.parse(fs.readFileSync(out, 'utf8')) as { strategy: string; weights: number[][]; search: { score: number } };
    assert.equal(fitted.strategy, 'dirichlet');
    assert.equal(fitted.weights.length, 3);
    const again = cer([...args, '--quiet']);
    assert.equal(again.stderr, '');
    assert.deepEqual(JSON.parse(again.stdout), fitted);

    // The fitted weights, scored by cer eval, give the search's own score.
    const fused = cer(['fuse', '--in', 'docs/samples/fuse-input.json', '--fusion', out, '--out', path.join(dir, 'fused.json')]);
    assert.equal(fused.status, 0, fused.stderr);
    const report = JSON.parse(cer(['eval', '--pred', path.join(dir, 'fused.json'), '--truth', 'docs/samples/fuse-truth-basic.txt']).stdout) as Report;
    assert.ok(Math.abs((report.f1_1to6 ?? NaN) - fitted.search.score) < 1e-12);
    const preset = cer(['fuse', '--in', 'docs/samples/fuse-input.json', '--out', path.join(dir, 'preset.json')]);
    assert.equal(preset.status, 0);
    const presetReport = JSON.parse(cer(['eval', '--pred', path.join(dir, 'preset.json'), '--truth', 'docs/samples/fuse-truth-basic.txt']).stdout) as Report;
    assert.ok(fitted.search.score >= (presetReport.f1_1to6 ?? Infinity));

    // Pasted into the input as its "fusion" field, it is accepted as well.
    const input = JSON.parse(fs.readFileSync('docs/samples/fuse-input.json', 'utf8')) as Record<string, unknown>;
    input.fusion = fitted;
    fs.writeFileSync(path.join(dir, 'with-fitted.json'), JSON.stringify(input));
    const pasted = cer(['fuse', '--in', path.join(dir, 'with-fitted.json')]);
    assert.equal(pasted.status, 0, pasted.stderr);
    assert.equal(pasted.stdout, fs.readFileSync(path.join(dir, 'fused.json'), 'utf8'));
  });

  it('hierarchical: W by Dirichlet search, then v on the grid', () => {
    const input = JSON.parse(fs.readFileSync('docs/samples/fuse-input.json', 'utf8')) as { probs: Record<string, unknown> };
    const twoModels = { models: ['vs', 'vd'], probs: { vs: input.probs.vs, vd: input.probs.vd } };
    fs.writeFileSync(path.join(dir, 'v.json'), JSON.stringify(twoModels));
    const r = cer(['fit-weights', '--in', path.join(dir, 'v.json'), '--truth', 'docs/samples/fuse-truth-basic.txt', '--strategy', 'hierarchical', '--samples', '200', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    const fitted = JSON.parse(r.stdout) as { strategy: string; modelWeights: number[]; search: { score: number; dirichletScore: number } };
    assert.equal(fitted.strategy, 'hierarchical');
    assert.equal(fitted.modelWeights.length, 2);
    fitted.modelWeights.forEach((v) => assert.ok(v >= 0.01 && v <= 0.5 && Math.abs(v * 200 - Math.round(v * 200)) < 1e-9));
    assert.ok(fitted.search.score >= fitted.search.dirichletScore);
  });

  it('names wrong options', () => {
    const base = ['fit-weights', '--in', 'docs/samples/fuse-input.json', '--truth', 'docs/samples/fuse-truth-basic.txt'];
    assert.match(cer([...base, '--samples', 'ten']).stderr, /^cer: --samples: expected an integer from 1 to \d+, got "ten"\n$/);
    assert.match(cer([...base, '--seed', '0']).stderr, /--seed: expected an integer from 1 to 4294967295, got "0"/);
    assert.match(cer([...base, '--metric', 'f1-1to6', '--task', 'compound']).stderr, /--metric f1-1to6 .* applies to --task basic only/);
    assert.match(cer([...base, '--strategy', 'grid']).stderr, /--strategy: expected dirichlet or hierarchical, got "grid"/);
  });
});
