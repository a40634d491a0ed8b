import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolveFfmpeg } from '../../src/media/binaries';
import { AUDIO_SAMPLE_RATE, audioFilter, decodeAudio, readAudio } from '../../src/media/audio';
import { ModelError } from '../../src/models/errors';
import { loadManifest, type LoadedManifest } from '../../src/models/manifest';
import { sha256File } from '../../src/models/session';
import { DEFAULT_VAD_MANIFEST, FrameSpeech, frameSpeechProbabilities, SileroVAD, sileroSettings, VAD_WINDOW_SAMPLES } from '../../src/stages/vad';
import { RAVDESS_CLIP } from '../helpers/testdata';
import { DEFAULT_SPEECH_THRESHOLD } from '../../src/defaults';

const WINDOW_SECONDS = VAD_WINDOW_SAMPLES / AUDIO_SAMPLE_RATE;
const NTSC = { num: 30000, den: 1001 };

/**
 * Where the actor speaks, from ffmpeg's silencedetect on the same mono mix (-40 dB, silences of
 * at least 0.1 s): the end of the first silence to the start of the last one.
 */
function speechIntervalBySilencedetect(file: string): [number, number] {
  const run = spawnSync(
    resolveFfmpeg().path,
    ['-nostdin', '-hide_banner', '-nostats', '-i', file, '-vn', '-af', `${audioFilter(2)},silencedetect=noise=-40dB:d=0.1`, '-ar', '16000', '-f', 'null', '-'],
    { encoding: 'utf8' },
  );
  assert.equal(run.status, 0, run.stderr);
  const ends = [...run.stderr.matchAll(/silence_end: ([\d.]+)/g)].map((m) => Number(m[1]));
  const starts = [...run.stderr.matchAll(/silence_start: ([\d.]+)/g)].map((m) => Number(m[1]));
  assert.equal(starts[0], 0, 'the clip starts with silence');
  return [ends[0], starts[starts.length - 1]];
}

describe('stages/vad (Silero VAD v5)', function () {
  let manifest: LoadedManifest;
  let vad: SileroVAD;
  let samples: Float32Array;
  let probs: Float32Array;
  let speech: [number, number];

  before(async function () {
    manifest = await loadManifest(DEFAULT_VAD_MANIFEST);
    vad = await SileroVAD.load();
    samples = (await readAudio(RAVDESS_CLIP)).samples;
    speech = speechIntervalBySilencedetect(RAVDESS_CLIP);
    const started = process.hrtime.bigint();
    probs = await vad.process(samples);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const seconds = samples.length / AUDIO_SAMPLE_RATE;
    console.log(`      VAD: ${probs.length} windows of ${seconds.toFixed(2)} s of audio in ${ms.toFixed(1)} ms (${(ms / seconds).toFixed(1)} ms per second of audio, first call included)`);
    await vad.reset();
  });
  after(async () => vad?.release());

  it('the bundled model is the pinned Silero v5 file, with a valid voice-activity manifest', async () => {
    assert.equal(manifest.task, 'voice-activity');
    assert.equal(manifest.sha256, '2623a2953f6ff3d2c1e61740c6cdb7168133479b267dfef114a4a3cc5bdd788f');
    assert.equal(await sha256File(manifest.modelPath), manifest.sha256);
    const s = sileroSettings(manifest);
    assert.deepEqual([s.sampleRate, s.windowSamples, s.contextSamples, s.stateInput, s.stateOutput, s.sampleRateInput], [16000, 512, 64, 'state', 'stateN', 'sr']);
    assert.deepEqual(s.stateShape, [2, 1, 128]);
    assert.equal(s.speechThreshold, DEFAULT_SPEECH_THRESHOLD);
    assert.deepEqual([...vad.manifest.input.shape], [1, 576]);
    assert.throws(() => sileroSettings({ ...manifest, extra: { ...manifest.extra, sampleRate: 8000 } }), (err: unknown) => err instanceof ModelError && /extra\.sampleRate must be 16000/.test(err.message));
  });

  it('finds speech where the actor speaks (silencedetect: 1.09–2.16 s) and none in the silent lead-in', () => {
    const [start, end] = speech;
    // The interval silencedetect finds, stated: speech from 1.090 s to 2.160 s.
    assert.ok(start > 1.0 && start < 1.2, `speech starts at ${start}`);
    assert.ok(end > 2.0 && end < 2.4, `speech ends at ${end}`);
    assert.equal(probs.length, Math.floor(samples.length / VAD_WINDOW_SAMPLES));
    let inside = 0;
    for (let w = 0; w < probs.length; w++) {
      const t0 = w * WINDOW_SECONDS;
      const t1 = t0 + WINDOW_SECONDS;
      if (t0 >= start + 0.05 && t1 <= end - 0.05) {
        inside++;
        assert.ok(probs[w] >= 0.9, `window at ${t0.toFixed(3)} s inside the speech has p = ${probs[w]}`);
      }
      if (t1 <= start - 0.1) assert.ok(probs[w] < 0.1, `window at ${t0.toFixed(3)} s in the lead-in has p = ${probs[w]}`);
      if (t0 >= end + 0.3) assert.ok(probs[w] < 0.1, `window at ${t0.toFixed(3)} s after the speech has p = ${probs[w]}`);
    }
    assert.ok(inside >= 25, `${inside} windows inside the speech`);
    const speaking = [...probs.keys()].filter((w) => probs[w] >= DEFAULT_SPEECH_THRESHOLD);
    const first = speaking[0] * WINDOW_SECONDS;
    const last = (speaking[speaking.length - 1] + 1) * WINDOW_SECONDS;
    console.log(`      silencedetect (-40 dB): speech ${start.toFixed(3)}–${end.toFixed(3)} s; VAD p >= 0.5: ${first.toFixed(3)}–${last.toFixed(3)} s (${speaking.length} windows)`);
  });

  it('carries state and context across calls: any chunking gives the probabilities of one long call', async () => {
    for (const sizes of [[1], [100, 777, 8000, 3], [512], [513, 511], [8000]]) {
      await vad.reset();
      const parts: number[] = [];
      let at = 0;
      for (let i = 0; at < samples.length; i++) {
        const n = sizes[i % sizes.length];
        parts.push(...(await vad.process(samples.subarray(at, at + n))));
        at += n;
      }
      assert.deepEqual(Float32Array.from(parts), probs, `chunk sizes ${sizes.join(', ')}`);
    }
    // Straight from the decoder, in its 0.5 s chunks, with calls queued without awaiting each.
    await vad.reset();
    const pending: Array<Promise<Float32Array>> = [];
    for await (const chunk of decodeAudio(RAVDESS_CLIP)) pending.push(vad.process(chunk.samples));
    const streamed = (await Promise.all(pending)).flatMap((p) => [...p]);
    assert.deepEqual(Float32Array.from(streamed), probs);
    // The held tail (52907 = 103·512 + 171 samples) is evaluated by flush(), zero-padded.
    assert.equal(vad.pendingSamples, samples.length % VAD_WINDOW_SAMPLES);
    const tail = await vad.flush();
    assert.equal(tail.length, 1);
    assert.ok(tail[0] < 0.1);
    assert.equal(vad.windowsDone, probs.length + 1);
    assert.equal((await vad.flush()).length, 0);
    await vad.reset();
    assert.equal(vad.windowsDone, 0);
  });

  it('without the carried state the same windows give different probabilities (the state matters)', async () => {
    await vad.reset();
    const fresh: number[] = [];
    for (let w = 40; w < 60; w++) {
      await vad.reset();
      fresh.push((await vad.process(samples.subarray(w * 512, (w + 1) * 512)))[0]);
    }
    const differing = fresh.filter((p, i) => Math.abs(p - probs[40 + i]) > 0.05).length;
    assert.ok(differing > 0);
    await vad.reset();
  });

  it('maps windows onto frames: max over the windows overlapping [f/fps, (f+1)/fps)', () => {
    // 25 fps: a frame is 640 samples; frame 4 = [2560, 3200) overlaps windows 5 and 6 only.
    const speech25 = new FrameSpeech(25);
    assert.deepEqual(speech25.windowsOfFrame(0), [0, 1]);
    assert.deepEqual(speech25.windowsOfFrame(4), [5, 6]);
    assert.deepEqual(speech25.windowsOfFrame(5), [6, 7]);
    // 29.97 fps: frame 0 = [0, 533.87) → windows 0, 1; frame 960 starts exactly at window 1001.
    const ntsc = new FrameSpeech(NTSC);
    assert.deepEqual(ntsc.windowsOfFrame(0), [0, 1]);
    assert.deepEqual(ntsc.windowsOfFrame(960), [1001, 1002]);
    assert.deepEqual(ntsc.windowsOfFrame(959), [999, 1000]); // [511978.1, 512512): ends exactly where window 1000 does

    const made = [0.1, 0.9, 0.2, 0.3, 0.4, 0.45, 0.8, 0.0];
    const max = frameSpeechProbabilities(made, 25, 8);
    const mean = frameSpeechProbabilities(made, 25, 8, { reduce: 'mean' });
    assert.ok(Math.abs(max[0] - 0.9) < 1e-7 && Math.abs(mean[0] - 0.5) < 1e-7);
    // frame 4 → windows 5, 6: max 0.8, mean 0.625; frame 5 → windows 6, 7 (7 is 0.0).
    assert.ok(Math.abs(max[4] - 0.8) < 1e-7 && Math.abs(mean[4] - 0.625) < 1e-7);
    assert.ok(Math.abs(max[5] - 0.8) < 1e-7 && Math.abs(mean[5] - 0.4) < 1e-7);
    // Frames after the last window: 0.
    assert.equal(max[7], 0);
  });

  it('streams frames: final once all their windows are in; speech frames are those of the actor', () => {
    const frames = new FrameSpeech(NTSC);
    assert.equal(frames.finalFrames, 0);
    frames.addWindows(probs.subarray(0, 50));
    // 50 windows = 1.6 s = 47.95 frames: frames 0…46 are final, 47 not (it ends at 1.6016 s).
    assert.equal(frames.finalFrames, 47);
    assert.equal(frames.probability(47), null);
    assert.throws(() => frames.gate()(47), /not known yet/);
    frames.addWindows(probs.subarray(50));
    frames.end();
    assert.equal(frames.finalFrames, Infinity);
    const gate = frames.gate();
    const fps = 30000 / 1001;
    const [start, end] = speech;
    for (let f = 0; f < 98; f++) {
      const t0 = f / fps;
      const t1 = (f + 1) / fps;
      if (t0 >= start + 0.05 && t1 <= end - 0.05) assert.equal(gate(f), true, `frame ${f}`);
      if (t1 <= start - 0.1) assert.equal(gate(f), false, `frame ${f}`);
    }
    assert.equal(frames.isSpeech(500), false); // past the audio
  });
});
