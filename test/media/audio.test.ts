import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveFfmpeg, resolveFfprobe } from '../../src/media/binaries';
import { AUDIO_SAMPLE_RATE, audioFilter, decodeAudio, isNoAudioError, readAudio, type AudioChunk, type DecodeAudioOptions } from '../../src/media/audio';
import { MediaError, type MediaErrorCode } from '../../src/media/errors';
import { runningToolPids } from '../../src/media/process';
import { ASTRONAUT_PNG, RAVDESS_CLIP } from '../helpers/testdata';
import { childMediaPids, makeMediaFixtures, processExists, type MediaFixtures } from './fixtures';

/** ffprobe's duration of the first audio stream. */
function ffprobeAudioDuration(file: string): number {
  const out = execFileSync(resolveFfprobe().path, ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream=duration', '-of', 'csv=p=0', file]);
  return Number(out.toString().trim());
}

/** The audio as ffmpeg's command line gives it, 16 kHz stereo float (no filters of ours). */
function cliStereo(file: string): Float32Array {
  const out = execFileSync(resolveFfmpeg().path, ['-nostdin', '-v', 'error', '-i', file, '-vn', '-ac', '2', '-ar', '16000', '-f', 'f32le', 'pipe:1'], { maxBuffer: 64 << 20 });
  return new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
}

interface Collected {
  chunks: AudioChunk[];
  pids: number[];
  error: unknown;
  warnings: string[];
}

async function collect(input: string, options: DecodeAudioOptions = {}): Promise<Collected> {
  const result: Collected = { chunks: [], pids: [], error: null, warnings: [] };
  try {
    for await (const chunk of decodeAudio(input, { ...options, onStart: (s) => result.pids.push(s.pid), onWarning: (w) => result.warnings.push(w) })) {
      result.chunks.push(chunk);
    }
  } catch (err) {
    result.error = err;
  }
  return result;
}

function assertOneLineError(err: unknown, input: string, code: MediaErrorCode, detail: RegExp): void {
  assert.ok(err instanceof MediaError, `expected a MediaError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.ok(err.message.startsWith(`${input}: `), err.message);
  assert.doesNotMatch(err.message, /[\r\n]/);
  assert.match(err.message, detail);
}

function assertGone(pids: readonly number[]): void {
  for (const pid of pids) assert.equal(processExists(pid), false, `ffmpeg ${pid} still exists`);
  assert.deepEqual(runningToolPids(), []);
  assert.deepEqual(childMediaPids(), []);
}

function concat(chunks: readonly AudioChunk[]): Float32Array {
  const out = new Float32Array(chunks.reduce((n, c) => n + c.samples.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c.samples, at);
    at += c.samples.length;
  }
  return out;
}

describe('media/audio', function () {
  let fx: MediaFixtures;
  let noAudio: string;
  let delayed: string;
  let looped: string;

  before(function () {
    fx = makeMediaFixtures();
    const ffmpeg = resolveFfmpeg().path;
    const run = (...args: string[]): void => {
      execFileSync(ffmpeg, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    };
    noAudio = path.join(fx.dir, 'no-audio.mp4');
    run('-i', RAVDESS_CLIP, '-an', '-c:v', 'copy', noAudio);
    // The same streams, with the audio starting 0.5 s after the video.
    delayed = path.join(fx.dir, 'audio-delayed.mp4');
    run('-i', RAVDESS_CLIP, '-itsoffset', '0.5', '-i', RAVDESS_CLIP, '-map', '0:v', '-map', '1:a', '-c', 'copy', delayed);
    // 6 × the clip's audio, ~20 s (1.27 MB as 16 kHz float).
    looped = path.join(fx.dir, 'looped.m4a');
    run('-stream_loop', '5', '-i', fx.audioOnly, '-c', 'copy', looped);
  });
  after(() => fx?.cleanup());
  afterEach(() => assertGone([]));

  it('decodes the RAVDESS clip to 16 kHz mono floats: ffprobe\'s audio duration, contiguous 0.5 s chunks, t = n/16000', async () => {
    const { chunks, error, pids } = await collect(RAVDESS_CLIP);
    assert.equal(error, null, String(error));
    const samples = concat(chunks);
    const declared = ffprobeAudioDuration(RAVDESS_CLIP);
    assert.ok(Math.abs(declared - 3.303292) < 1e-6, `ffprobe says ${declared} s`);
    // ffmpeg 5.1 keeps the padding of the last AAC frame (1024 samples at 48 kHz at most).
    const seconds = samples.length / AUDIO_SAMPLE_RATE;
    assert.ok(seconds >= declared - 1e-3 && seconds - declared < 1024 / 48000, `${samples.length} samples = ${seconds} s`);
    assert.equal(samples.length, 52907);
    let expectedIndex = 0;
    for (const [i, chunk] of chunks.entries()) {
      assert.equal(chunk.sampleIndex, expectedIndex);
      assert.equal(chunk.start, chunk.sampleIndex / AUDIO_SAMPLE_RATE);
      assert.equal(chunk.samples.length, i < chunks.length - 1 ? 8000 : 52907 - 6 * 8000);
      expectedIndex += chunk.samples.length;
    }
    assert.equal(chunks.length, 7);
    let peak = 0;
    let energy = 0;
    for (const v of samples) {
      assert.ok(Number.isFinite(v) && v >= -1 && v <= 1);
      peak = Math.max(peak, Math.abs(v));
      energy += v * v;
    }
    // A quiet recording, but not silence.
    assert.ok(peak > 0.02 && peak < 0.2, `peak ${peak}`);
    assert.ok(Math.sqrt(energy / samples.length) > 1e-3);
    assertGone(pids);
  });

  it('mixes to mono as the mean of the channels (equal to averaging ffmpeg\'s own stereo output)', async () => {
    const { samples } = await readAudio(RAVDESS_CLIP);
    const stereo = cliStereo(RAVDESS_CLIP);
    assert.equal(stereo.length, 2 * samples.length);
    let maxDiff = 0;
    for (let i = 0; i < samples.length; i++) maxDiff = Math.max(maxDiff, Math.abs(samples[i] - (stereo[2 * i] + stereo[2 * i + 1]) / 2));
    assert.ok(maxDiff < 1e-7, `max difference ${maxDiff}`);
    assert.equal(audioFilter(2), 'aresample=async=1:first_pts=0,pan=mono|c0=0.5*c0+0.5*c1');
    assert.equal(audioFilter(1), 'aresample=async=1:first_pts=0');
  });

  it('puts sample n at n/16000 s on the video clock: audio starting 0.5 s late gets 8000 silent samples first', async () => {
    const original = await readAudio(RAVDESS_CLIP);
    const late = await readAudio(delayed);
    assert.equal(late.samples.length, original.samples.length + 8000);
    for (let i = 0; i < 8000; i++) assert.equal(late.samples[i], 0, `sample ${i}`);
    for (let i = 0; i < original.samples.length; i++) {
      if (late.samples[i + 8000] !== original.samples[i]) assert.fail(`sample ${i + 8000} differs`);
    }
  });

  it('decodes an audio-only file (.m4a) to the same samples', async () => {
    const original = await readAudio(RAVDESS_CLIP);
    const { chunks, error, pids } = await collect(fx.audioOnly, { chunkSeconds: 0.1 });
    assert.equal(error, null, String(error));
    assert.ok(chunks.slice(0, -1).every((c) => c.samples.length === 1600));
    assert.deepEqual(concat(chunks), original.samples);
    assertGone(pids);
  });

  it('a video without audio fails with NO_AUDIO before ffmpeg starts, one clear line', async () => {
    const { chunks, error, pids } = await collect(noAudio);
    assert.equal(chunks.length, 0);
    assertOneLineError(error, noAudio, 'NO_AUDIO', /: has no audio stream \(video only\)$/);
    assert.ok(isNoAudioError(error));
    assert.deepEqual(pids, []);
    const still = await collect(ASTRONAUT_PNG);
    assertOneLineError(still.error, ASTRONAUT_PNG, 'NO_AUDIO', /: has no audio stream \(a still image\)$/);
    assert.ok(!isNoAudioError(new Error('other')));
  });

  it('bad inputs: missing, empty, text named .mp4', async () => {
    const cases: Array<[string, MediaErrorCode, RegExp]> = [
      [path.join(fx.dir, 'missing.mp4'), 'NO_SUCH_FILE', /: no such file$/],
      [fx.empty, 'EMPTY_FILE', /: is empty \(0 bytes\)$/],
      [fx.text, 'NOT_MEDIA', /not a media file ffprobe can read/],
    ];
    for (const [input, code, detail] of cases) {
      const { error, pids } = await collect(input);
      assertOneLineError(error, input, code, detail);
      assert.deepEqual(pids, []);
    }
    await assert.rejects(collect(RAVDESS_CLIP, { chunkSeconds: 0 }).then((r) => { throw r.error; }), RangeError);
  });

  it('a truncated mp4 yields the audio before the cut, then says the file is truncated (a warning with tolerateCorruption)', async () => {
    const { chunks, error, pids } = await collect(fx.truncated);
    const seconds = concat(chunks).length / AUDIO_SAMPLE_RATE;
    assert.ok(seconds > 0.5 && seconds < 3, `${seconds} s`);
    assertOneLineError(error, fx.truncated, 'DECODE_FAILED', /audio decoding stopped after \d\.\d{3} s of audio, \d\.\d{3} s short of the 3\.303 s the file declares: the file is truncated or corrupt$/);
    assertGone(pids);
    const tolerant = await collect(fx.truncated, { tolerateCorruption: true });
    assert.equal(tolerant.error, null);
    assert.equal(concat(tolerant.chunks).length, seconds * AUDIO_SAMPLE_RATE);
    assert.ok(tolerant.warnings.some((w) => /truncated or corrupt/.test(w)), tolerant.warnings.join(' | '));
  });

  describe('ffmpeg is killed and awaited however the consumer stops', () => {
    it('breaking out of the loop', async () => {
      let pid = 0;
      let seen = 0;
      for await (const chunk of decodeAudio(RAVDESS_CLIP, { chunkSeconds: 0.1, onStart: (s) => (pid = s.pid) })) {
        seen++;
        assert.equal(chunk.sampleIndex, (seen - 1) * 1600);
        if (seen === 2) break;
      }
      assert.equal(seen, 2);
      assert.ok(pid > 0);
      assertGone([pid]);
    });

    it('throwing inside the loop', async () => {
      let pid = 0;
      await assert.rejects(async () => {
        for await (const chunk of decodeAudio(RAVDESS_CLIP, { chunkSeconds: 0.1, onStart: (s) => (pid = s.pid) })) {
          if (chunk.sampleIndex > 0) throw new Error('consumer failed');
        }
      }, /consumer failed/);
      assertGone([pid]);
    });

    it('aborting through the signal, while the consumer is busy', async () => {
      const controller = new AbortController();
      let pid = 0;
      await assert.rejects(
        async () => {
          for await (const chunk of decodeAudio(RAVDESS_CLIP, { chunkSeconds: 0.05, signal: controller.signal, onStart: (s) => (pid = s.pid) })) {
            if (chunk.sampleIndex === 0) {
              controller.abort();
              await new Promise((resolve) => setTimeout(resolve, 200));
              assert.equal(processExists(pid), false);
            }
          }
        },
        (err: unknown) => {
          assertOneLineError(err, RAVDESS_CLIP, 'ABORTED', /: aborted$/);
          assert.equal((err as Error).name, 'AbortError');
          return true;
        },
      );
      assertGone([pid]);
    });

    it('an already aborted signal starts nothing', async () => {
      const { chunks, error, pids } = await collect(RAVDESS_CLIP, { signal: AbortSignal.abort() });
      assert.equal(chunks.length, 0);
      assertOneLineError(error, RAVDESS_CLIP, 'ABORTED', /aborted/);
      assert.deepEqual(pids, []);
    });
  });

  it('refuses live input without allowLive', async () => {
    const { error, pids } = await collect('rtsp://127.0.0.1:1/cam');
    assertOneLineError(error, 'rtsp://127.0.0.1:1/cam', 'LIVE_NOT_ALLOWED', /live input is off/);
    assert.deepEqual(pids, []);
  });

  it('keeps memory bounded: ffmpeg waits while the consumer sleeps (backpressure)', async function () {
    if (!fs.existsSync('/proc/self/io')) this.skip();
    let pid = 0;
    let written = 0;
    let total = 0;
    for await (const chunk of decodeAudio(looped, { onStart: (s) => (pid = s.pid) })) {
      if (chunk.sampleIndex === 0) {
        await new Promise((resolve) => setTimeout(resolve, 700));
        written = Number(/^wchar:\s*(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1]);
      }
      total += chunk.samples.length;
    }
    // ~1.27 MB of float audio in all; while the consumer sleeps on the first 32 kB chunk, ffmpeg
    // has written that chunk, the LOOKAHEAD_CHUNKS read-ahead chunks, what the pipe and the stream's
    // read buffer hold (about 0.2–0.4 MB, seen up to 408 kB under load), and then waits: well under
    // half of the whole.
    assert.ok(total * 4 > 1_200_000, `${total} samples`);
    assert.ok(written > 32_000 && written < 640_000, `ffmpeg wrote ${written} bytes`);
    assertGone([pid]);
  });
});
