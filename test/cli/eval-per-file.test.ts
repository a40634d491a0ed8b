import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BASIC_EMOTIONS, COMPOUND_NAMES } from '../../src/core';
import type { AnalyzeResult } from '../../src/pipeline/analyze';
import { cer } from '../helpers/cli';
import { PROSODY, synthesise } from '../helpers/speech';
import { ASTRONAUT_PNG, RAVDESS_CLIP, SAMPLES_DIR } from '../helpers/testdata';

const GRACE_HOPPER = path.join(SAMPLES_DIR, 'grace_hopper.jpg');

interface PerFileReport {
  task: string;
  matchedBy: string;
  frames: number;
  accuracy: number;
  uar: number;
  f1: number;
  classes: number[];
  confusion: number[][];
  perClass: Array<{ label: string; recall: number; support: number; predicted: number }>;
  files: Array<{ file: string; truth: string; pred: string }>;
  missingPrediction: string[];
  notInTruth: string[];
  noVote: string[];
}

/** Accuracy, UAR over the classes present on either side, and the confusion matrix, by hand. */
function expected(pairs: ReadonlyArray<[string, string]>, names: readonly string[]): { accuracy: number; uar: number; confusion: number[][] } {
  const confusion = names.map(() => names.map(() => 0));
  for (const [t, p] of pairs) confusion[names.indexOf(t)][names.indexOf(p)]++;
  const present = names.map((_, c) => c).filter((c) => pairs.some(([t, p]) => t === names[c] || p === names[c]));
  const recall = (c: number): number => {
    const support = confusion[c].reduce((a, b) => a + b, 0);
    return support > 0 ? confusion[c][c] / support : 0;
  };
  return {
    accuracy: pairs.filter(([t, p]) => t === p).length / pairs.length,
    uar: present.reduce((s, c) => s + recall(c), 0) / present.length,
    confusion,
  };
}

describe('cer eval --per-file', () => {
  let dir: string;
  let results: string;
  const summaries = new Map<string, Omit<AnalyzeResult, 'seconds'>['summary']>();
  const write = (name: string, text: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };

  before(function () {
    this.timeout(400000);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-eval-files-'));
    results = path.join(dir, 'results');
    const r = cer(['analyze', ASTRONAUT_PNG, RAVDESS_CLIP, GRACE_HOPPER, '--out', results, '--quiet'], { timeoutMs: 400000 });
    assert.equal(r.status, 0, r.stderr);
    for (const name of ['astronaut', '01-01-01-01-01-01-01', 'grace_hopper']) {
      const json = JSON.parse(fs.readFileSync(path.join(results, `${name}.json`), 'utf8')) as Omit<AnalyzeResult, 'seconds'>;
      summaries.set(name, json.summary);
    }
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const predicted = (name: string, task: 'basic' | 'compound'): string => {
    const s = summaries.get(name);
    assert.ok(s !== undefined);
    const v = task === 'basic' ? s.emotion : s.label;
    assert.ok(v !== null, `${name} has no ${task} prediction`);
    return v;
  };

  it('scores the summaries of a results folder against a CSV of basic emotions', () => {
    // Header, any case, paths and extensions in the truth: matched by base name.
    const truth = write('truth.csv', 'file,label\nimages/astronaut.png,happiness\n01-01-01-01-01-01-01.mp4,NEUTRAL\ngrace_hopper,Neutral\n');
    const r = cer(['eval', '--per-file', '--pred', results, '--truth', truth, '--task', 'basic']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as PerFileReport;
    const pairs: Array<[string, string]> = [
      ['Happiness', predicted('astronaut', 'basic')],
      ['Neutral', predicted('01-01-01-01-01-01-01', 'basic')],
      ['Neutral', predicted('grace_hopper', 'basic')],
    ];
    const want = expected(pairs, BASIC_EMOTIONS);
    assert.equal(report.matchedBy, 'file');
    assert.equal(report.frames, 3);
    assert.ok(Math.abs(report.accuracy - want.accuracy) < 1e-12);
    assert.ok(Math.abs(report.uar - want.uar) < 1e-12);
    assert.deepEqual(report.confusion, want.confusion);
    assert.deepEqual(
      report.files.map((f) => [f.truth, f.pred]),
      pairs,
    );
    assert.equal(report.perClass[BASIC_EMOTIONS.indexOf('Neutral')].support, 2);
  });

  it('scores summary.label for compound expressions, results named one by one', () => {
    const truth = write('truth-compound.csv', 'astronaut,Happily Surprised\n01-01-01-01-01-01-01,sadly_fearful\ngrace_hopper,Sadly Angry\n');
    const preds = ['astronaut', '01-01-01-01-01-01-01', 'grace_hopper'].map((n) => path.join(results, `${n}.json`));
    const r = cer(['eval', '--per-file', '--pred', ...preds, '--truth', truth, '--task', 'compound']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as PerFileReport;
    const pairs: Array<[string, string]> = [
      ['Happily Surprised', predicted('astronaut', 'compound')],
      ['Sadly Fearful', predicted('01-01-01-01-01-01-01', 'compound')],
      ['Sadly Angry', predicted('grace_hopper', 'compound')],
    ];
    const want = expected(pairs, COMPOUND_NAMES);
    assert.ok(Math.abs(report.accuracy - want.accuracy) < 1e-12);
    assert.ok(Math.abs(report.uar - want.uar) < 1e-12);
    assert.deepEqual(report.confusion, want.confusion);
  });

  it('leaves out a file labelled Other or Boredom (EMO-DB\'s class outside the basic emotions)', () => {
    const truth = write('boredom.csv', 'astronaut,Happiness\n01-01-01-01-01-01-01,boredom\ngrace_hopper,Other\n');
    const r = cer(['eval', '--per-file', '--pred', results, '--truth', truth]);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as PerFileReport;
    assert.equal(report.frames, 1);
    assert.deepEqual(report.files.map((f) => f.truth), ['Happiness']);
  });

  it('refuses files on one side only, unless --intersection', () => {
    const missing = write('missing.csv', 'astronaut,Happiness\nnot-analysed.wav,Neutral\n01-01-01-01-01-01-01,Neutral\ngrace_hopper,Neutral\n');
    let r = cer(['eval', '--per-file', '--pred', results, '--truth', missing]);
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /missing\.csv: line 2: not-analysed has no result among --pred/);

    const partial = write('partial.csv', 'astronaut,Happiness\n');
    r = cer(['eval', '--per-file', '--pred', results, '--truth', partial]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /(grace_hopper|01-01-01-01-01-01-01)\.json: .* is not in .*partial\.csv/);

    r = cer(['eval', '--per-file', '--intersection', '--pred', results, '--truth', missing]);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as PerFileReport;
    assert.equal(report.frames, 3);
    assert.deepEqual(report.missingPrediction, ['not-analysed']);
    r = cer(['eval', '--per-file', '--intersection', '--pred', results, '--truth', partial]);
    assert.equal(r.status, 0, r.stderr);
    const one = JSON.parse(r.stdout) as PerFileReport;
    assert.equal(one.frames, 1);
    assert.equal(one.accuracy, predicted('astronaut', 'basic') === 'Happiness' ? 1 : 0);
    assert.deepEqual([...one.notInTruth].sort(), ['01-01-01-01-01-01-01', 'grace_hopper']);
  });

  it('says in one line what is wrong with the truth or the predictions', () => {
    const cases: Array<[string, string[], RegExp]> = [
      [write('unknown.csv', 'astronaut,Joy\n'), [], /unknown\.csv: line 1: label "Joy" is not a basic class/],
      [write('cells.csv', 'astronaut,Happiness,extra\n'), [], /cells\.csv: line 1: expected "<file>,<label>"/],
      [write('twice.csv', 'astronaut,Happiness\nastronaut.png,Neutral\n'), [], /twice\.csv: line 2: astronaut is labelled twice/],
      [write('empty.csv', '\n'), [], /empty\.csv: no labelled file/],
      [write('compound-name.csv', 'astronaut,Happiness\n'), ['--task', 'compound'], /compound-name\.csv: line 1: label "Happiness" is not a compound class/],
    ];
    for (const [truth, extra, message] of cases) {
      const r = cer(['eval', '--per-file', '--pred', results, '--truth', truth, ...extra]);
      assert.equal(r.status, 1, truth);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, message);
    }
    const notResult = write('not-result.json', '{"labels": [1, 2]}');
    const truth = write('ok.csv', 'astronaut,Happiness\n');
    let r = cer(['eval', '--per-file', '--pred', notResult, '--truth', truth]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not-result\.json: not a cer analyze result/);
    r = cer(['eval', '--per-file', '--pred', path.join(dir, 'nowhere'), '--truth', truth]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--pred: .*nowhere: no such file or folder/);
  });

  describe('a folder of utterances (.wav), with the bundled acoustic model and no flags', function () {
    this.timeout(300000);
    const speech = (): string => path.join(dir, 'speech');
    const names: string[] = [];
    before(function () {
      // Two voices, each saying one sentence angrily, sadly and neutrally (espeak-ng prosody).
      const emotions = ['anger', 'sadness', 'neutral'];
      const utterances = ['en-us', 'en-gb+f3'].flatMap((voice, v) =>
        emotions.map((emotion) => ({ file: `v${v}-${emotion}.wav`, text: 'The object is on the table.', voice, ...PROSODY[emotion] })),
      );
      synthesise(speech(), utterances);
      names.push(...utterances.map((u) => u.file.replace(/\.wav$/, '')));
      fs.writeFileSync(path.join(speech(), 'labels.csv'), ['file,label', ...utterances.map((u) => `${u.file},${u.file.split('-')[1].replace('.wav', '')}`)].join('\n') + '\n');
      const r = cer(['analyze', speech(), '--format', 'json', '--out', path.join(dir, 'speech-results')], { timeoutMs: 300000 });
      assert.equal(r.status, 0, r.stderr);
      // The last line per input names its dominant emotion.
      for (const n of names) assert.match(r.stderr, new RegExp(`${n}\\.wav → .*dominant: (${BASIC_EMOTIONS.join('|')}), `));
    });

    it('each utterance\'s summary holds A (the bundled model) and the fusion, which is A alone without a face', () => {
      for (const n of names) {
        const json = JSON.parse(fs.readFileSync(path.join(dir, 'speech-results', `${n}.json`), 'utf8')) as Omit<AnalyzeResult, 'seconds'>;
        assert.equal(json.models.a, 'a-emodb-cnn-8cl');
        const s = json.summary;
        assert.ok(s.a.frames >= 10, `${n}: A on ${s.a.frames} frames`);
        assert.equal(s.vs.frames, 0);
        assert.equal(s.fused.frames, s.a.frames);
        s.fused.mean?.forEach((p, c) => assert.ok(Math.abs(p - (s.a.mean as number[])[c]) < 1e-9, `${n}: fused = A`));
        assert.equal(s.emotion, BASIC_EMOTIONS[(s.a.mean as number[]).indexOf(Math.max(...(s.a.mean as number[])))]);
      }
    });

    it('cer eval --per-file scores them against a file,label CSV: accuracy, UAR and the confusion matrix per utterance', () => {
      const r = cer(['eval', '--per-file', '--pred', path.join(dir, 'speech-results'), '--truth', path.join(speech(), 'labels.csv')]);
      assert.equal(r.status, 0, r.stderr);
      const report = JSON.parse(r.stdout) as PerFileReport;
      const pairs = names.map((n): [string, string] => {
        const emotion = n.split('-')[1];
        return [emotion[0].toUpperCase() + emotion.slice(1), JSON.parse(fs.readFileSync(path.join(dir, 'speech-results', `${n}.json`), 'utf8')).summary.emotion as string];
      });
      const want = expected(pairs, BASIC_EMOTIONS);
      assert.equal(report.frames, 6, 'one decision per utterance');
      assert.ok(Math.abs(report.accuracy - want.accuracy) < 1e-12);
      assert.ok(Math.abs(report.uar - want.uar) < 1e-12);
      assert.deepEqual(report.confusion, want.confusion);
      console.log(`      per utterance: accuracy ${report.accuracy.toFixed(3)}, UAR ${report.uar.toFixed(3)} (synthetic voices: a check of the plumbing, not of the model)`);
    });
  });
});
