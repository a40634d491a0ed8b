import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { softmax } from '../../src/core/emotions';
import { AUDIO_SAMPLE_RATE, decodeAudio, readAudio, type AudioChunk } from '../../src/media/audio';
import { selectModels, type LoadedManifest } from '../../src/models/manifest';
import {
  AcousticStage,
  DisabledAcousticStage,
  NO_ACOUSTIC_MODEL,
  normaliseWindow,
  openAcousticModel,
  roundHalfEven,
  windowFrameRange,
  type AcousticModel,
  type AcousticSource,
  type AcousticStageOptions,
  type RunWindows,
} from '../../src/stages/acoustic';
import { FrameSpeech, SileroVAD } from '../../src/stages/vad';
import { OTHER_LOGIT, testModelLogits, writeAcousticTestModel } from '../helpers/acoustic-model';
import { RAVDESS_CLIP } from '../helpers/testdata';

const SR = AUDIO_SAMPLE_RATE;
const NTSC = { num: 30000, den: 1001 };
const SESSION = { intraOpNumThreads: 1, interOpNumThreads: 1 };

/**
 * 10 s of test audio: 0.2 for [0, 2) s and −0.2 for [2, 4) s (window 0 is hand-workable), a varied
 * signal for [4, 8) s, then 0.1 for [8, 9) s and −0.1 for [9, 10) s (the padded tail windows are).
 */
function testAudio(): Float32Array {
  const x = new Float32Array(10 * SR);
  let seed = 12345;
  const noise = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648 - 0.5;
  };
  for (let n = 0; n < x.length; n++) {
    const t = n / SR;
    if (t < 2) x[n] = 0.2;
    else if (t < 4) x[n] = -0.2;
    else if (t < 8) x[n] = 0.1 * Math.sin(2 * Math.PI * 220 * t) * (0.5 + 0.5 * Math.sin(2 * Math.PI * 0.7 * t)) + 0.03 * noise() + 0.02 * Math.floor(t * 2);
    else if (t < 9) x[n] = 0.1;
    else x[n] = -0.1;
  }
  return x;
}

interface RefWindow {
  readonly start: number;
  readonly end: number;
  readonly logits: number[];
  readonly first: number;
  readonly last: number;
}

/**
 * The contract written out plainly, offline, as an independent reference: windows every 8000
 * samples while the start is inside the audio, mean padding, normalisation, the test model's
 * logits, frame ranges, per-frame mean of logits, Other dropped, softmax, repeat past the end.
 */
function referenceWindows(samples: Float32Array, fps: number, compat: boolean, classes: 7 | 8): RefWindow[] {
  const out: RefWindow[] = [];
  for (let start = 0; start < samples.length; start += 8000) {
    const end = Math.min(start + 64000, samples.length);
    const chunk = Array.from(samples.subarray(start, end));
    const mean = chunk.reduce((a, b) => a + b, 0) / chunk.length;
    const padded = chunk.concat(new Array<number>(64000 - chunk.length).fill(mean));
    const variance = padded.reduce((a, v) => a + (v - mean) ** 2, 0) / 64000;
    const x = padded.map((v) => Math.fround((v - mean) / Math.sqrt(variance + 1e-7)));
    let first: number;
    let last: number;
    if (compat) {
      const f = Math.trunc(fps);
      first = roundHalfEven((start / SR) * f);
      last = roundHalfEven((end / SR) * f + 1) - 1;
    } else {
      first = Math.round((start / SR) * fps);
      last = Math.round((end / SR) * fps);
    }
    out.push({ start, end, logits: testModelLogits(x, classes), first, last });
  }
  return out;
}

function referenceFrame(windows: readonly RefWindow[], f: number, frameCount: number | null): Float64Array {
  const clip = (w: RefWindow): number => (frameCount === null ? w.last : Math.min(w.last, frameCount - 1));
  const lastCovered = Math.max(...windows.map(clip));
  const g = Math.min(f, lastCovered);
  const covering = windows.filter((w) => w.first <= g && g <= clip(w));
  const mean = [0, 1, 2, 3, 4, 5, 6].map((c) => covering.reduce((a, w) => a + w.logits[c], 0) / covering.length);
  return softmax(mean);
}

function assertClose(actual: ArrayLike<number> | null, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.ok(actual !== null, `${what}: null`);
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

/** Feeds `samples` in chunks of the given sizes (cycled). */
async function pushAll(stage: { push(c: AudioChunk): Promise<void> }, samples: Float32Array, sizes: readonly number[], each?: () => void): Promise<void> {
  let at = 0;
  for (let i = 0; at < samples.length; i++) {
    const n = Math.min(sizes[i % sizes.length], samples.length - at);
    await stage.push({ start: at / SR, sampleIndex: at, samples: samples.slice(at, at + n) });
    at += n;
    each?.();
  }
}

describe('stages/acoustic', function () {
  let dir: string;
  let model8: LoadedManifest;
  let model7: LoadedManifest;
  let model7batch1: LoadedManifest;
  let audio: Float32Array;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acoustic-test-'));
    model8 = await writeAcousticTestModel(dir, { classes: 8 });
    model7 = await writeAcousticTestModel(dir, { classes: 7 });
    model7batch1 = await writeAcousticTestModel(dir, { classes: 7, batch: 1, name: 'acoustic-test-7-b1' });
    audio = testAudio();
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A stage on the real test model whose windows' logits are recorded as they are run. */
  async function recordingStage(manifest: LoadedManifest, options: AcousticStageOptions): Promise<{ stage: AcousticStage; logits: number[][]; batches: number[] }> {
    const model: AcousticModel = await openAcousticModel(manifest, SESSION);
    const logits: number[][] = [];
    const batches: number[] = [];
    const width = model.labels.length;
    const run: RunWindows = async (windows, n) => {
      const out = await model.run(windows, n);
      batches.push(n);
      for (let w = 0; w < n; w++) logits.push(Array.from(out.subarray(w * width, (w + 1) * width)));
      return out;
    };
    const stage = new AcousticStage(run, model.labels, model.outputKind, { maxBatch: Math.min(options.maxBatch ?? 8, model.maxBatch), ...options }, model.release, model.name);
    return { stage, logits, batches };
  }

  it('normalises each window, padding a short one with its own mean (hand-worked windows)', async () => {
    const { stage, logits } = await recordingStage(model8, { fps: 25 });
    await stage.push({ start: 0, sampleIndex: 0, samples: audio });
    await stage.end();
    await stage.release();
    // 20 windows: starts 0, 0.5, …, 9.5 s; the last 8 (from 6.5 s) reach past the end and are padded.
    assert.equal(logits.length, 20);
    assert.equal(stage.windowsRun, 20);
    // Window 0 = 2 s of 0.2 then 2 s of −0.2: mean 0, var 0.04, so x = ±0.2/sqrt(0.04 + 1e-7).
    const a = 0.2 / Math.sqrt(0.04 + 1e-7);
    const v = 0.04 / (0.04 + 1e-7);
    // (1e-5: the test model takes means in float32, which rounds a 64000-term sum by ~2e-6.)
    assertClose(logits[0], [a, -a, 0, v, -a, 2 * a, 0, OTHER_LOGIT], 1e-5, 'window 0');
    // Window 16 = [8, 10) s, 1 s of 0.1 then 1 s of −0.1, padded with its mean 0 to 4 s:
    // var over the padded 4 s = 0.005; padding normalises to 0 (x[32000], x[63999]).
    const s = 0.1 / Math.sqrt(0.005 + 1e-7);
    assertClose([0, 1, 2, 4, 5, 6, 7].map((i) => logits[16][i]), [s, 0, 0, 0, 2 * s, 0, OTHER_LOGIT], 1e-5, 'window 16');
    assert.ok(Math.abs(logits[16][3] - 0.005 / (0.005 + 1e-7)) < 1e-4, `window 16 mean square ${logits[16][3]}`);
    // Windows 18 and 19 ([9, 10) and [9.5, 10) s) are constant: zero variance → all zeros.
    assertClose(logits[18], [0, 0, 0, 0, 0, 0, 0, OTHER_LOGIT], 1e-9, 'window 18');
    assertClose(logits[19], [0, 0, 0, 0, 0, 0, 0, OTHER_LOGIT], 1e-9, 'window 19');
    // Every non-constant window is normalised: mean ~0, mean square = var/(var + 1e-7) ~1.
    for (const [k, l] of logits.entries()) {
      assert.ok(Math.abs(l[2]) < 1e-4, `window ${k} mean ${l[2]}`); // float32 sums in the model
      if (k < 18) assert.ok(Math.abs(l[3] - 1) < 1e-3, `window ${k} mean square ${l[3]}`);
    }
    // The stage's normalisation, directly: a 3-sample window [1, 2, 3] padded with 2.
    const out = new Float32Array(64000);
    normaliseWindow(Float32Array.from([1, 2, 3]), out);
    const scale = 1 / Math.sqrt(2 / 64000 + 1e-7);
    assertClose(out.subarray(0, 4), [-scale, 0, scale, 0], 1e-3, 'normaliseWindow');
    assert.ok(out.subarray(3).every((x) => x === 0));
  });

  it('frames: mean of the covering windows\' logits, Other dropped, softmax (hand-worked frame 0)', async () => {
    const stage = await AcousticStage.load(model8, { fps: 25 }, SESSION);
    await stage.push({ start: 0, sampleIndex: 0, samples: audio });
    await stage.end();
    // At 25 fps frames 0–12 are covered by window 0 alone ([0, 4) s → frames 0…100; window 1 starts at frame 13).
    const a = 0.2 / Math.sqrt(0.04 + 1e-7);
    const frame0 = softmax([a, -a, 0, 0.04 / (0.04 + 1e-7), -a, 2 * a, 0]);
    assertClose(stage.frame(0), frame0, 1e-5, 'frame 0');
    assertClose(stage.frame(12), stage.frame(0) ?? [], 0, 'frame 12');
    assert.ok(Math.abs((stage.frame(13)?.[0] ?? 0) - frame0[0]) > 1e-3, 'window 1 joins at frame 13');
    // Other (logit 50) is gone: each frame is a 7-vector summing to 1, not ~0 everywhere.
    for (let f = 0; f < 260; f++) {
      const p = stage.frame(f);
      assert.ok(p !== null && p.length === 7);
      assert.ok(Math.abs(p.reduce((x, y) => x + y, 0) - 1) < 1e-12);
    }
    // Against the plain offline reference, every frame, including frames past the audio.
    const ref = referenceWindows(audio, 25, false, 8);
    for (let f = 0; f < 300; f++) assertClose(stage.frame(f), referenceFrame(ref, f, null), 2e-5, `frame ${f}`);
    // The 7-class model (no Other) gives the same frames.
    const seven = await AcousticStage.load(model7, { fps: 25 }, SESSION);
    await seven.push({ start: 0, sampleIndex: 0, samples: audio });
    await seven.end();
    for (let f = 0; f < 260; f++) assertClose(seven.frame(f), stage.frame(f) ?? [], 1e-12, `7-class frame ${f}`);
    await seven.release();
    await stage.release();
  });

  it('which windows cover which frames, at 25 and 29.97 fps (1 to 9 windows a frame), and referenceCompat', async () => {
    // window [s, e) covers round(s·fps) … round(e·fps).
    assert.deepEqual(windowFrameRange(0, 64000, 25), [0, 100]);
    assert.deepEqual(windowFrameRange(8000, 72000, 25), [13, 113]); // 12.5 → 13, 112.5 → 113
    assert.deepEqual(windowFrameRange(8000, 72000, 25, true), [12, 113]); // Python: round(12.5) = 12, round(113.5) - 1 = 113
    assert.deepEqual(windowFrameRange(152000, 160000, 25), [238, 250]);
    assert.deepEqual(windowFrameRange(8000, 72000, 30000 / 1001), [15, 135]); // 14.985 → 15, 134.865 → 135
    assert.deepEqual(windowFrameRange(8000, 72000, 30000 / 1001, true), [14, 131]); // fps 29: round(14.5) = 14, round(131.5) - 1 = 131
    assert.deepEqual(windowFrameRange(0, 64000, 30000 / 1001), [0, 120]); // 119.88 → 120
    assert.equal(roundHalfEven(2.5), 2);
    assert.equal(roundHalfEven(3.5), 4);
    assert.equal(roundHalfEven(-0.5), -0);

    const cases: Array<{ fps: number | { num: number; den: number }; compat: boolean; counts: Record<number, number> }> = [
      // 25 fps: frames 0–12 only window 0; 13–24 windows 0–1; frame 100 windows 0–8 (9); 101 windows 1–8.
      { fps: 25, compat: false, counts: { 0: 1, 12: 1, 13: 2, 24: 2, 25: 3, 88: 8, 99: 8, 100: 9, 101: 8, 237: 8, 238: 9, 250: 8 } },
      { fps: 25, compat: true, counts: { 0: 1, 11: 1, 12: 2, 100: 9, 101: 8 } },
      // 29.97 fps: frames 0–14 window 0 only; frame 120 windows 0–8 (9), 121 windows 1–8.
      { fps: NTSC, compat: false, counts: { 0: 1, 14: 1, 15: 2, 29: 2, 30: 3, 119: 8, 120: 9, 121: 8 } },
      // referenceCompat at 29.97: fps 29, window 1 starts at frame round(14.5) = 14; window 0 ends at 116, window 8 starts there.
      { fps: 30000 / 1001, compat: true, counts: { 0: 1, 13: 1, 14: 2, 115: 8, 116: 9, 117: 8 } },
    ];
    for (const { fps, compat, counts } of cases) {
      const stage = await AcousticStage.load(model8, { fps, referenceCompat: compat }, SESSION);
      await stage.push({ start: 0, sampleIndex: 0, samples: audio });
      await stage.end();
      const fpsValue = typeof fps === 'number' ? fps : fps.num / fps.den;
      const ref = referenceWindows(audio, fpsValue, compat, 8);
      const seen = new Set<number>();
      const lastFrame = Math.max(...ref.map((w) => w.last));
      for (let f = 0; f <= lastFrame; f++) {
        const expected = ref.filter((w) => w.first <= f && f <= w.last).length;
        assert.equal(stage.coverCount(f), expected, `fps ${fpsValue} compat ${compat} frame ${f}`);
        seen.add(expected);
        assertClose(stage.frame(f), referenceFrame(ref, f, null), 2e-5, `fps ${fpsValue} compat ${compat} frame ${f}`);
      }
      for (const [f, n] of Object.entries(counts)) assert.equal(stage.coverCount(Number(f)), n, `fps ${fpsValue} compat ${compat}: frame ${f}`);
      assert.deepEqual([...seen].sort(), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
      assert.equal(stage.coverCount(lastFrame + 1), 0);
      await stage.release();
    }
  });

  it('repeats the last prediction past the last window, and clips coverage to the frames that exist', async () => {
    const stage = await AcousticStage.load(model8, { fps: 25, frameCount: 300 }, SESSION);
    await stage.push({ start: 0, sampleIndex: 0, samples: audio });
    await stage.end();
    assert.equal(stage.finalFrames, 300);
    const last = stage.frame(250); // the last window, [9.5, 10) s, ends at frame round(250) = 250
    for (const f of [251, 260, 299]) assert.deepEqual(stage.frame(f), last);
    assert.throws(() => stage.frame(300), /not final/);
    await stage.release();

    const short = await AcousticStage.load(model8, { fps: 25, frameCount: 200 }, SESSION);
    await short.push({ start: 0, sampleIndex: 0, samples: audio });
    await short.end();
    const ref = referenceWindows(audio, 25, false, 8);
    assert.equal(short.coverCount(199), ref.filter((w) => w.first <= 199 && 199 <= w.last).length);
    assert.equal(short.coverCount(200), 0);
    for (const f of [0, 150, 199]) assertClose(short.frame(f), referenceFrame(ref, f, 200), 2e-5, `frame ${f}`);
    await short.release();
  });

  it('gating: frames outside speech get null (no vote), the others are unchanged', async () => {
    const plain = await AcousticStage.load(model8, { fps: 25 }, SESSION);
    const gated = await AcousticStage.load(model8, { fps: 25, gate: (f) => f >= 50 && f < 120 }, SESSION);
    for (const stage of [plain, gated]) {
      await stage.push({ start: 0, sampleIndex: 0, samples: audio });
      await stage.end();
    }
    for (let f = 0; f < 280; f++) {
      if (f >= 50 && f < 120) assert.deepEqual(gated.frame(f), plain.frame(f));
      else assert.equal(gated.frame(f), null, `frame ${f}`);
    }
    await plain.release();
    await gated.release();
  });

  it('is incremental: any chunking and batching gives the all-at-once frames, each frame final as soon as no window can change it', async () => {
    const whole = await AcousticStage.load(model8, { fps: NTSC }, SESSION);
    await whole.push({ start: 0, sampleIndex: 0, samples: audio });
    await whole.end();
    const expected = Array.from({ length: 320 }, (_, f) => whole.frame(f));
    await whole.release();

    for (const [sizes, maxBatch] of [[[8000], 8], [[1234, 77, 30001], 3], [[100000], 8], [[64001, 1], 1]] as Array<[number[], number]>) {
      const { stage, batches } = await recordingStage(model8, { fps: NTSC, maxBatch });
      const got = new Map<number, Float64Array | null>();
      let final = 0;
      await pushAll(stage, audio, sizes, () => {
        assert.ok(stage.finalFrames >= final, 'finalFrames never goes back');
        // A frame is final once the next window to run starts after it.
        const next = stage.windowsRun;
        assert.equal(stage.finalFrames, Math.round(((next * 8000) / SR) * (30000 / 1001)));
        for (; final < stage.finalFrames; final++) got.set(final, stage.frame(final));
        assert.throws(() => stage.frame(stage.finalFrames), /not final/);
      });
      // Before end() only full windows have run: 13 of them ([0, 4) … [6, 10) s); frames < round(6.5·29.97) = 195 are final.
      assert.equal(stage.windowsRun, 13);
      assert.equal(stage.finalFrames, 195);
      await stage.end();
      assert.equal(stage.finalFrames, Infinity);
      for (let f = final; f < 320; f++) got.set(f, stage.frame(f));
      assert.ok(batches.every((n) => n >= 1 && n <= maxBatch), `batches ${batches.join(',')}`);
      for (let f = 0; f < 320; f++) assertClose(got.get(f) ?? null, expected[f] ?? [], 1e-12, `sizes ${sizes.join(',')} batch ${maxBatch} frame ${f}`);
      await stage.release();
    }
    // A model with a fixed batch of 1 is run one window at a time.
    const fixed = await AcousticStage.load(model7batch1, { fps: NTSC }, SESSION);
    await pushAll(fixed, audio, [50000]);
    await fixed.end();
    for (let f = 0; f < 320; f += 7) assertClose(fixed.frame(f), expected[f] ?? [], 1e-6, `batch-1 model frame ${f}`);
    await fixed.release();
  });

  it('refuses chunks that are not contiguous, and use after end', async () => {
    const stage = await AcousticStage.load(model8, { fps: 25 }, SESSION);
    await stage.push({ start: 0, sampleIndex: 0, samples: audio.slice(0, 100) });
    await assert.rejects(stage.push({ start: 0.5, sampleIndex: 8000, samples: audio.slice(0, 100) }), /starts at sample 8000, expected 100/);
    await stage.end();
    await assert.rejects(stage.push({ start: 0, sampleIndex: 100, samples: audio.slice(0, 100) }), /after end/);
    // 100 samples: one window, padded; it covers frames round(0) … round(0.00625·25) = 0.
    assert.equal(stage.windowsRun, 1);
    assert.equal(stage.coverCount(0), 1);
    assert.deepEqual(stage.frame(5), stage.frame(0));
    await stage.release();
  });

  it('without a model: NO_ACOUSTIC_MODEL, every frame final and null', async () => {
    const none: AcousticSource = new DisabledAcousticStage();
    assert.ok(none instanceof DisabledAcousticStage);
    assert.equal(none.enabled, false);
    assert.equal(none.status, NO_ACOUSTIC_MODEL);
    assert.equal(none.status, 'no acoustic model configured');
    await none.push({ start: 0, sampleIndex: 0, samples: audio.slice(0, 8000) });
    assert.equal(none.finalFrames, Infinity);
    assert.equal(none.frame(0), null);
    await none.end();
    assert.equal(none.frame(1000), null);
    await none.release();
    // A folder with no acoustic manifest has none to give; one with several does not pick one.
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'acoustic-none-'));
    try {
      assert.equal((await selectModels([empty], ['acoustic'])).size, 0);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
    await assert.rejects(selectModels([dir], ['acoustic']), /: 3 acoustic models \(acoustic-test-7-b1\.json, acoustic-test-7\.json, acoustic-test-8\.json\): name the one to use by its manifest file$/);
    assert.equal((await selectModels([model8.manifestPath, dir], ['acoustic'])).get('acoustic')?.id, 'acoustic-test-8');
    const some: AcousticSource = await AcousticStage.load(model8, { fps: 25 }, SESSION);
    assert.equal(some.enabled, true);
    assert.match(some.status, /^acoustic model acoustic-test-8 \(cpu\)$/);
    await some.release();
  });

  describe('on the RAVDESS clip, streamed from the decoder, gated by Silero VAD', () => {
    it('A is null in the silent lead-in and equals the offline result where the actor speaks', async () => {
      const vad = await SileroVAD.load();
      const speech = new FrameSpeech(NTSC);
      const stage = await AcousticStage.load(model8, { fps: NTSC, frameCount: 98, gate: speech.gate() }, SESSION);
      for await (const chunk of decodeAudio(RAVDESS_CLIP)) {
        speech.addWindows(await vad.process(chunk.samples));
        await stage.push(chunk);
        // 3.3 s of audio: every window is shorter than 4 s, so nothing is final before end().
        assert.equal(stage.finalFrames, 0);
      }
      speech.addWindows(await vad.flush());
      speech.end();
      await stage.end();
      await vad.release();
      assert.equal(stage.windowsRun, 7); // starts 0, 0.5, …, 3.0 s
      const samples = (await readAudio(RAVDESS_CLIP)).samples;
      const ref = referenceWindows(samples, 30000 / 1001, false, 8);
      let voted = 0;
      for (let f = 0; f < 98; f++) {
        const t = f / (30000 / 1001);
        const a = stage.frame(f);
        if (t + 1 / 29.97 <= 1.0) assert.equal(a, null, `lead-in frame ${f} (${t.toFixed(2)} s)`);
        if (t >= 1.15 && t <= 2.1) assert.ok(a !== null, `speech frame ${f} (${t.toFixed(2)} s)`);
        if (a !== null) {
          voted++;
          assertClose(a, referenceFrame(ref, f, 98), 1e-5, `frame ${f}`);
        }
      }
      assert.ok(voted >= 30 && voted <= 45, `${voted} frames with a vote`);
      await stage.release();
    });

    it('with skip, a window whose frames are all silent is not run, and every frame is as without it', async () => {
      const vad = await SileroVAD.load();
      const speech = new FrameSpeech(NTSC);
      const gate = speech.gate();
      const all = await AcousticStage.load(model8, { fps: NTSC, frameCount: 98, gate }, SESSION);
      const lean = await AcousticStage.load(model8, { fps: NTSC, frameCount: 98, gate, skip: speech.skip() }, SESSION);
      for await (const chunk of decodeAudio(RAVDESS_CLIP)) {
        speech.addWindows(await vad.process(chunk.samples));
        for (const stage of [all, lean]) await stage.push(chunk);
      }
      speech.addWindows(await vad.flush());
      speech.end();
      for (const stage of [all, lean]) await stage.end();
      await vad.release();
      // The windows that cover no speech frame, worked out from the VAD and the window → frame rule.
      const samples = (await readAudio(RAVDESS_CLIP)).samples;
      const silent = referenceWindows(samples, 30000 / 1001, false, 8).filter((w) => {
        for (let f = w.first; f <= Math.min(w.last, 97); f++) if (gate(f)) return false;
        return true;
      }).length;
      assert.ok(silent >= 1, 'the clip ends in silence: its last windows cover no speech');
      assert.equal(all.windowsRun, 7);
      assert.equal(lean.windowsSkipped, silent);
      assert.equal(lean.windowsRun, 7 - silent);
      for (let f = 0; f < 98; f++) assert.deepEqual(lean.frame(f), all.frame(f), `frame ${f}`);
      for (const stage of [all, lean]) await stage.release();
    });
  });
});
