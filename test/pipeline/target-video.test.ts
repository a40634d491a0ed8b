/**
 * The steady target person on real faces in real video (issue 13, item 2): `cer analyze` on
 * synthetic two-person clips made with ffmpeg from the two sample photos (test/helpers/two-person.ts),
 * with a low-score blob at the frame edge that a per-frame `largest` picks.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cer } from '../helpers/cli';
import { A_LEAVES, A_MISSING_FRAME, B_ARRIVES, B_GROWTH, FPS, FRAMES, makeArriving, makeGrowing, who, type Who } from '../helpers/two-person';
import { DEFAULT_CANDIDATE_SECONDS, DEFAULT_SWITCH_SECONDS, DEFAULT_TRACK_GAP_SECONDS } from '../../src/defaults';

interface Face {
  box: number[];
  score: number;
  track: number;
}
interface Analysis {
  frames: number;
  target: string;
  results: Array<{ frame: number; t: number; face: Face | null }>;
}

/** One frame's target: who it is (A, B or the blob) and its track, or null. */
type Pick = { who: Who; track: number } | null;

function picks(a: Analysis): Pick[] {
  return a.results.map((r) => (r.face === null ? null : { who: who(r.face.box), track: r.face.track }));
}

/** The frames at which the target changes to another person (frames without a target skipped). */
function switches(seq: readonly Pick[]): number[] {
  const at: number[] = [];
  let last: Pick = null;
  seq.forEach((p, i) => {
    if (p === null) return;
    if (last !== null && p.who !== last.who) at.push(i);
    last = p;
  });
  return at;
}

describe('cer analyze: a steady target person (two people on real faces)', function () {
  this.timeout(300_000);
  let dir: string;
  let growing: string;
  let arriving: string;

  const analyze = (input: string, ...args: string[]): Analysis => {
    const out = fs.mkdtempSync(path.join(dir, 'out-'));
    const r = cer(['analyze', input, '--out', out, '--no-acoustic', '--no-mouth-cue', '--no-vad', '--quiet', ...args]);
    assert.equal(r.status, 0, r.stderr);
    const a = JSON.parse(fs.readFileSync(path.join(out, `${path.basename(input, '.mp4')}.json`), 'utf8')) as Analysis;
    assert.equal(a.frames, FRAMES);
    if (a.target !== 'all') assert.equal(a.results.length, FRAMES, 'one result per frame');
    return a;
  };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-target-'));
    growing = path.join(dir, 'growing.mp4');
    arriving = path.join(dir, 'arriving.mp4');
    makeGrowing(growing);
    makeArriving(arriving);
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('growing: B grows past A at about 1.85 s; A missing on one frame; the blob throughout', function () {
    let all: Analysis;
    before(() => {
      all = analyze(growing, '--target', 'all');
    });

    it('the clip is as meant: the detector finds A, B and the blob (0.5–0.6), and the largest real face changes once', () => {
      const frames = new Map<number, Map<Who, Face>>();
      for (const r of all.results) if (r.face) (frames.get(r.frame) ?? frames.set(r.frame, new Map()).get(r.frame))?.set(who(r.face.box), r.face);
      const area = (f: Face | undefined): number => (f ? (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]) : 0);
      let larger: Who | null = null;
      const changes: number[] = [];
      for (let i = 0; i < FRAMES; i++) {
        const here = frames.get(i) ?? new Map<Who, Face>();
        assert.ok(here.has('B'), `B on frame ${i}`);
        assert.equal(here.has('A'), i !== A_MISSING_FRAME, `A on frame ${i}`);
        const blob = here.get('blob');
        if (i !== A_MISSING_FRAME) {
          assert.ok(blob && blob.score >= 0.5 && blob.score < 0.6, `the blob on frame ${i}: ${JSON.stringify(blob)}`);
          assert.ok(area(blob) > area(here.get('A')), `the blob is larger than A on frame ${i}`);
        }
        if (!here.has('A')) continue;
        const now: Who = area(here.get('B')) > area(here.get('A')) ? 'B' : 'A';
        if (larger !== null && now !== larger) changes.push(i);
        larger = now;
      }
      assert.deepEqual(changes, [B_GROWTH[1]?.from], 'B is the larger real face from its first grown frame on');
    });

    it('--target largest: one switch, within the switch time after the real change; never the blob; a dropped frame keeps the track', () => {
      const seq = picks(analyze(growing, '--target', 'largest'));
      const change = B_GROWTH[1]?.from as number;
      const at = switches(seq);
      assert.equal(at.length, 1, `switches at frames ${at.join(', ')}`);
      const delay = ((at[0] as number) - change) / FPS;
      // The switch time, plus a frame or two for B to grow past the 1.2× margin.
      assert.ok(delay > 0 && delay <= DEFAULT_SWITCH_SECONDS + 2 / FPS, `switch ${delay.toFixed(2)} s after the change`);
      assert.ok(seq.every((p) => p?.who !== 'blob'), 'the blob is never the target');
      assert.deepEqual(seq[0], { who: 'A', track: 1 }, 'A from frame 0');
      assert.equal(seq[A_MISSING_FRAME], null, 'no face where A was not found');
      assert.deepEqual(seq[A_MISSING_FRAME + 1], { who: 'A', track: 1 }, 'then A again, the same track');
      assert.equal(new Set(seq.filter((p) => p !== null).map((p) => p?.track)).size, 2, 'two tracks: A, then B');
      assert.ok(seq.slice(at[0]).every((p) => p?.who === 'B'));
    });

    it('--target largest --reference-compat keeps the per-frame choice: the blob first, several switches', () => {
      const seq = picks(analyze(growing, '--target', 'largest', '--reference-compat'));
      assert.equal(seq[0]?.who, 'blob');
      assert.ok(switches(seq).length >= 3, `switches at ${switches(seq).join(', ')}`);
      assert.equal(seq[A_MISSING_FRAME]?.who, 'B', 'with A missing, the largest of the others');
    });

    it('--target longest-seen: A throughout (B came with her, and is no older); the gap does not count against her', () => {
      const seq = picks(analyze(growing, '--target', 'longest-seen'));
      assert.deepEqual(switches(seq), []);
      assert.ok(seq.every((p, i) => (i === A_MISSING_FRAME ? p === null : p?.who === 'A' && p.track === 1)));
    });
  });

  describe('arriving: A from frame 0, a larger B from 1.0 s, A leaves at 3.0 s; the blob as long as A', function () {
    it('--target largest: one switch to B, within the candidate and switch times of her arrival; never the blob', () => {
      const seq = picks(analyze(arriving, '--target', 'largest'));
      const at = switches(seq);
      assert.equal(at.length, 1, `switches at ${at.join(', ')}`);
      const delay = (at[0] as number) / FPS - B_ARRIVES;
      assert.ok(delay > 0 && delay <= DEFAULT_CANDIDATE_SECONDS + DEFAULT_SWITCH_SECONDS + 2 / FPS, `switch ${delay.toFixed(2)} s after B came`);
      assert.equal(seq[at[0] as number]?.who, 'B');
      assert.ok(seq.every((p) => p !== null && p.who !== 'blob'), 'a face on every frame, never the blob');
    });

    it('--target longest-seen: A until she leaves, then B once A\'s track ends (at most the gap later); never the blob', () => {
      const seq = picks(analyze(arriving, '--target', 'longest-seen'));
      const at = switches(seq);
      assert.equal(at.length, 1, `switches at ${at.join(', ')}`);
      const leaves = Math.round(A_LEAVES * FPS);
      assert.ok(seq.slice(0, leaves).every((p) => p?.who === 'A'), 'A while she is there (a larger B notwithstanding)');
      const delay = ((at[0] as number) - leaves) / FPS;
      assert.ok(delay >= 0 && delay <= DEFAULT_TRACK_GAP_SECONDS + 1 / FPS, `B ${delay.toFixed(2)} s after A left`);
      assert.ok(seq.slice(leaves, at[0]).every((p) => p === null), 'no one while A\'s track waits out its gap');
      assert.ok(seq.slice(at[0]).every((p) => p?.who === 'B'));
      assert.ok(seq.every((p) => p?.who !== 'blob'));
    });

    it('--target longest-seen --reference-compat: the per-frame choice takes the blob (seen as long as A, larger)', () => {
      const seq = picks(analyze(arriving, '--target', 'longest-seen', '--reference-compat'));
      assert.equal(seq[0]?.who, 'blob');
    });

    it('--min-target-score 0.5 lets the blob (0.52) be a target: the minimum is what keeps it out', () => {
      const seq = picks(analyze(arriving, '--target', 'largest', '--min-target-score', '0.5'));
      assert.equal(seq[0]?.who, 'blob', 'the largest face that passes');
    });
  });

  it('--min-target-score that is not a score from 0 to 1: a one-line error, nothing analysed', () => {
    for (const bad of ['1.5', 'high', '-0.2', '']) {
      const out = fs.mkdtempSync(path.join(dir, 'bad-'));
      const r = cer(['analyze', arriving, '--out', out, '--no-acoustic', '--quiet', '--min-target-score', bad]);
      assert.notEqual(r.status, 0, bad);
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.equal(lines[0], `cer: --min-target-score: expected a score from 0 to 1, got "${bad}"`);
      assert.deepEqual(fs.readdirSync(out), []);
    }
  });
});
