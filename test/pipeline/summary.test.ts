import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BASIC_EMOTIONS, COMPOUND_NAMES } from '../../src/core';
import { resolveFfmpeg } from '../../src/media/binaries';
import type { AnalyzeResult, FrameResult } from '../../src/pipeline/analyze';
import { summarizeResults, type ModalitySummary } from '../../src/pipeline/summary';
import { cer } from '../helpers/cli';
import { RAVDESS_CLIP } from '../helpers/testdata';

type Written = Omit<AnalyzeResult, 'seconds'>;

/** Mean of the non-null rows, computed here without the module under test. */
function expectedMean(rows: ReadonlyArray<number[] | null>): { frames: number; mean: number[] | null } {
  const present = rows.filter((r): r is number[] => r !== null);
  if (present.length === 0) return { frames: 0, mean: null };
  const mean = present[0].map((_, i) => present.reduce((s, r) => s + r[i], 0) / present.length);
  return { frames: present.length, mean };
}

function assertClose(actual: ModalitySummary, expected: { frames: number; mean: number[] | null }, what: string): void {
  assert.equal(actual.frames, expected.frames, `${what}.frames`);
  if (expected.mean === null) {
    assert.equal(actual.mean, null, `${what}.mean`);
    return;
  }
  assert.ok(actual.mean !== null, `${what}.mean is null`);
  assert.equal(actual.mean.length, 7);
  actual.mean.forEach((m, i) => assert.ok(Math.abs(m - (expected.mean as number[])[i]) < 1e-12, `${what}.mean[${i}]: ${m} vs ${(expected.mean as number[])[i]}`));
}

/** Index of the largest value, the first on a tie. */
function firstMax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

describe('per-input summary', () => {
  let dir: string;
  let written: Written;
  let stderr: string;
  before(function () {
    this.timeout(300000);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-summary-'));
    const r = cer(['analyze', RAVDESS_CLIP, '--out', dir], { timeoutMs: 300000 });
    assert.equal(r.status, 0, r.stderr);
    stderr = r.stderr;
    written = JSON.parse(fs.readFileSync(path.join(dir, '01-01-01-01-01-01-01.json'), 'utf8')) as Written;
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('holds the means of each modality, the fusion and the compound scores over the frames with votes (RAVDESS clip)', () => {
    const s = written.summary;
    const rows = written.results;
    assert.ok(rows.length > 50);
    assertClose(s.vs, expectedMean(rows.map((r) => r.vs)), 'vs');
    assertClose(s.vd, expectedMean(rows.map((r) => r.vd)), 'vd');
    assertClose(s.a, expectedMean(rows.map((r) => r.a)), 'a');
    assertClose(s.fused, expectedMean(rows.map((r) => r.fused)), 'fused');
    assertClose(s.compound, expectedMean(rows.map((r) => (r.label === null ? null : r.compound))), 'compound');
    // The bundled acoustic model votes on the speech frames only (about 1.1–2.2 s); the face is found on most frames.
    assert.ok(s.a.frames >= 20 && s.a.frames < rows.length / 2, `A on ${s.a.frames} frames`);
    assert.ok(s.fused.frames > rows.length / 2);
    const fusedMean = expectedMean(rows.map((r) => r.fused)).mean as number[];
    const compoundMean = expectedMean(rows.map((r) => (r.label === null ? null : r.compound))).mean as number[];
    assert.equal(s.emotion, BASIC_EMOTIONS[firstMax(fusedMean)]);
    assert.equal(s.label, COMPOUND_NAMES[firstMax(compoundMean)]);
    // The pure function gives the same from the written results.
    assert.deepEqual(summarizeResults(rows), s);
  });

  it("names the dominant emotion and compound expression in the input's last line", () => {
    const line = stderr.split('\n').find((l) => l.includes('→'));
    assert.ok(line !== undefined, stderr);
    assert.ok(line.includes(`dominant: ${written.summary.emotion}, ${written.summary.label} (over ${written.summary.fused.frames} frames`), line);
  });

  it('with several faces a frame (target all), summarises the largest face of each frame', () => {
    // Each real frame gets a second, smaller face whose votes are another frame's: the summary
    // must not change, as the largest face of each frame is the original one.
    const rows = written.results.filter((r) => r.face !== null);
    const doubled: FrameResult[] = [];
    rows.forEach((r, i) => {
      const other = rows[(i + 7) % rows.length];
      const face = r.face as NonNullable<FrameResult['face']>;
      const [x1, y1] = face.box;
      doubled.push({ ...other, frame: r.frame, t: r.t, face: { box: [x1, y1, x1 + 2, y1 + 2], score: face.score, track: 99, detector: face.detector } }, r);
    });
    assert.deepEqual(summarizeResults(doubled), summarizeResults(rows));
    // And a frame with only the other face counts that face.
    const alone = rows.slice(0, 3).map((r) => ({ ...r, vs: rows[10].vs }));
    assertClose(summarizeResults(alone).vs, expectedMean(alone.map((r) => r.vs)), 'vs (one face)');
  });

  it('is empty for audio with the acoustic model off (--no-acoustic): no fused vote, no emotion, no label', function () {
    this.timeout(120000);
    const wav = path.join(dir, 'tone.wav');
    execFileSync(resolveFfmpeg().path, ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=220:duration=1', '-ar', '16000', wav]);
    const r = cer(['analyze', wav, '--out', dir, '--no-acoustic']);
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(fs.readFileSync(path.join(dir, 'tone.json'), 'utf8')) as Written;
    assert.ok(result.results.length >= 20);
    assert.deepEqual(result.summary, {
      vs: { frames: 0, mean: null },
      vd: { frames: 0, mean: null },
      a: { frames: 0, mean: null },
      fused: { frames: 0, mean: null },
      compound: { frames: 0, mean: null },
      emotion: null,
      label: null,
    });
    assert.match(r.stderr, /dominant: none \(no frame has a fused vote\)/);
  });
});
