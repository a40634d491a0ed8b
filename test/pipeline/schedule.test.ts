/**
 * The analysis scheduler (src/pipeline/schedule.ts) on its own, without the models' stages: real
 * ffmpeg decoding of the RAVDESS clip and the sample's audio, real BlazeFace and face mesh for the
 * mouth cue's rate.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AUDIO_ONLY_FPS, MOUTH_CUE_RATE } from '../../src/defaults';
import { resolveFfmpeg } from '../../src/media/binaries';
import { decodeFrames } from '../../src/media/frame-decoder';
import { probeMedia } from '../../src/media/probe';
import type { VideoFrame } from '../../src/media/types';
import { MouthCueSchedule, resultFps, scheduleAudioOnly, scheduleFrames, type FrameStep } from '../../src/pipeline/schedule';
import { MouthOpenCue } from '../../src/stages/mouth';
import { BlazeFaceDetector } from '../../src/vision/blazeface';
import { RAVDESS_CLIP, SAMPLE_MP4 } from '../helpers/testdata';

const md5 = (data: Uint8Array): string => createHash('md5').update(data).digest('hex');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('the analysis scheduler (src/pipeline/schedule.ts)', function () {
  this.timeout(120_000);
  let tmp = '';

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-schedule-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('times results by the input: its own frame rate, or AUDIO_ONLY_FPS without video', async () => {
    const video = await probeMedia(RAVDESS_CLIP);
    assert.ok(video.frameRate);
    assert.equal(resultFps(video), video.frameRate.num / video.frameRate.den);
    const wav = path.join(tmp, 'sample.wav');
    const made = spawnSync(resolveFfmpeg().path, ['-v', 'error', '-y', '-i', SAMPLE_MP4, '-vn', '-ac', '1', '-ar', '16000', wav]);
    assert.equal(made.status, 0, made.stderr.toString());
    const audio = await probeMedia(wav);
    assert.equal(audio.hasVideo, false);
    assert.equal(resultFps(audio), AUDIO_ONLY_FPS);
  });

  for (const vsBatch of [1, 4]) {
    it(`vsBatch ${vsBatch}: every frame begins in order on its own pixels, its step waits for later frames (at most ${vsBatch === 1 ? 1 : 2 * vsBatch}), results leave in frame order`, async () => {
      const info = await probeMedia(RAVDESS_CLIP);
      // The pixels of each frame as ffmpeg's command line decodes them, to check that `begin` sees each frame's own.
      const raw = spawnSync(resolveFfmpeg().path, ['-v', 'error', '-i', RAVDESS_CLIP, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1 << 30 });
      assert.equal(raw.status, 0);
      const frameBytes = (info.width as number) * (info.height as number) * 3;
      const expected = Array.from({ length: raw.stdout.length / frameBytes }, (_, i) => md5(raw.stdout.subarray(i * frameBytes, (i + 1) * frameBytes)));

      const events: string[] = [];
      const begun: string[] = [];
      let maxWaiting = 0;
      let waiting = 0;
      const begin = async (frame: VideoFrame): Promise<FrameStep<number>> => {
        begun.push(md5(frame.data));
        events.push(`begin ${frame.index}`);
        waiting++;
        maxWaiting = Math.max(maxWaiting, waiting);
        return async (emit) => {
          waiting--;
          events.push(`step ${frame.index}`);
          // Results finish out of order: later frames sometimes sooner.
          emit(sleep((frame.index * 7) % 5).then(() => frame.index));
        };
      };
      const out: number[] = [];
      for await (const r of scheduleFrames(RAVDESS_CLIP, info, begin, { fps: resultFps(info), vsBatch })) out.push(r);

      assert.deepEqual(begun, expected, 'each begin saw its own frame, in order');
      assert.deepEqual(out, expected.map((_, i) => i), 'one result per frame, in frame order');
      const limit = vsBatch === 1 ? 1 : 2 * vsBatch;
      assert.equal(maxWaiting, limit + 1, 'steps wait for later frames up to the limit');
      // A frame's step runs only after the frame `limit` later has begun (until the end of the input).
      for (let i = 0; i + limit < expected.length; i++) {
        assert.ok(events.indexOf(`begin ${i + limit}`) < events.indexOf(`step ${i}`), `step ${i} ran before frame ${i + limit} began`);
      }
    });
  }

  it('a failed result fails the schedule at its turn, after the results before it', async () => {
    const info = await probeMedia(RAVDESS_CLIP);
    const out: number[] = [];
    const run = async (): Promise<void> => {
      const begin = async (frame: VideoFrame): Promise<FrameStep<number>> => async (emit) =>
        emit(frame.index === 10 ? Promise.reject(new Error('frame 10 failed')) : Promise.resolve(frame.index));
      for await (const r of scheduleFrames(RAVDESS_CLIP, info, begin, { fps: resultFps(info), vsBatch: 1 })) out.push(r);
    };
    await assert.rejects(run(), /frame 10 failed/);
    assert.deepEqual(out, Array.from({ length: 10 }, (_, i) => i));
  });

  it('an input without video: one result every 1/AUDIO_ONLY_FPS s of its duration, in order', async () => {
    const wav = path.join(tmp, 'sample-only-audio.wav');
    const made = spawnSync(resolveFfmpeg().path, ['-v', 'error', '-y', '-i', SAMPLE_MP4, '-vn', '-ac', '1', '-ar', '16000', wav]);
    assert.equal(made.status, 0);
    const info = await probeMedia(wav);
    const seen: Array<[number, number]> = [];
    const progress: number[] = [];
    for await (const r of scheduleAudioOnly(info, async (i, t) => [i, t] as [number, number], (done) => progress.push(done))) seen.push(r);
    const n = Math.ceil((info.duration as number) * AUDIO_ONLY_FPS);
    assert.equal(seen.length, n);
    seen.forEach(([i, t], k) => {
      assert.equal(i, k);
      assert.equal(t, k / AUDIO_ONLY_FPS);
    });
    assert.deepEqual(progress, seen.map((_, k) => k + 1));
  });

  it(`the mouth cue: measured every round(fps/${MOUTH_CUE_RATE})th frame of a track, held in between; none without a cue model`, async () => {
    const info = await probeMedia(RAVDESS_CLIP);
    const fps = resultFps(info);
    const detector = await BlazeFaceDetector.load('front-128', { intraOpNumThreads: 1 });
    const cue = await MouthOpenCue.load(undefined, { intraOpNumThreads: 1 });
    try {
      const schedule = new MouthCueSchedule(cue, fps);
      assert.equal(schedule.every, Math.round(fps / MOUTH_CUE_RATE));
      const gaps: number[] = [];
      const promises: Array<Promise<number | null>> = [];
      let index = 0;
      for await (const frame of decodeFrames(RAVDESS_CLIP)) {
        if (index >= 2 * schedule.every + 1) break;
        const [face] = await detector.detect(frame);
        assert.ok(face, `a face on frame ${frame.index}`);
        const p = schedule.measure(frame, { ...face, track: 1 });
        promises.push(p);
        gaps.push((await p) as number);
        index++;
      }
      for (let i = 0; i < promises.length; i++) {
        const start = i - (i % schedule.every);
        if (i % schedule.every === 0) assert.ok(i === 0 || promises[i] !== promises[i - 1], `frame ${i} measured anew`);
        else assert.equal(promises[i], promises[start], `frame ${i} holds frame ${start}'s measure`);
        assert.ok(Number.isFinite(gaps[i]) && gaps[i] >= 0);
      }
      const none = new MouthCueSchedule(null, fps);
      assert.equal(await none.measure({ index: 0, t: 0, width: 1, height: 1, data: new Uint8Array(3) }, { box: [0, 0, 1, 1], score: 1, track: 1 }), null);
    } finally {
      await Promise.all([detector.release(), cue.release()]);
    }
  });
});
