import * as assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveFfmpeg, resolveFfprobe, type ResolvedBinary } from '../../src/media/binaries';
import { MediaError, type MediaErrorCode } from '../../src/media/errors';
import { decodeFrames, decodeImage, LOOKAHEAD_FRAMES, type DecodeFramesOptions } from '../../src/media/frame-decoder';
import { ChunkAssembler, runningToolPids } from '../../src/media/process';
import type { VideoFrame } from '../../src/media/types';
import { ASTRONAUT_PNG, RAVDESS_CLIP } from '../helpers/testdata';
import { childMediaPids, makeMediaFixtures, processExists, type MediaFixtures } from './fixtures';

const FRAME_BYTES = 1280 * 720 * 3;
const STEP = 1001 / 30000;

/** Frames ffprobe counts by decoding the whole stream (-count_frames). */
function countFramesWithFfprobe(file: string): number {
  const out = execFileSync(resolveFfprobe().path, [
    '-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file,
  ]);
  return Number(out.toString().trim());
}

/** md5 of what `ffmpeg -i file -f rawvideo -pix_fmt rgb24 -` writes, run straight from the shell's point of view. */
function cliRgbMd5(ffmpeg: string, file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, ['-nostdin', '-v', 'error', '-i', file, '-map', '0:v:0', '-vsync', 'passthrough', '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1']);
    const hash = createHash('md5');
    child.stdout.on('data', (chunk: Buffer) => hash.update(chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(hash.digest('hex')) : reject(new Error(`ffmpeg exited ${code}`))));
  });
}

interface Collected {
  frames: VideoFrame[];
  pids: number[];
  error: unknown;
  warnings: string[];
}

/** Decodes everything (keeping the frames), recording the ffmpeg pid and the error, if any. */
async function collect(input: string, options: DecodeFramesOptions = {}): Promise<Collected> {
  const result: Collected = { frames: [], pids: [], error: null, warnings: [] };
  try {
    for await (const frame of decodeFrames(input, {
      ...options,
      onStart: (s) => result.pids.push(s.pid),
      onWarning: (w) => result.warnings.push(w),
    })) {
      result.frames.push(frame);
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

describe('media/frame-decoder', function () {
  let fx: MediaFixtures;

  before(function () {
    fx = makeMediaFixtures();
  });
  after(() => fx?.cleanup());
  afterEach(() => assertGone([]));

  describe('the RAVDESS clip', () => {
    const binaries: Array<{ label: string; get: () => ResolvedBinary | null }> = [
      { label: 'the resolved ffmpeg', get: () => resolveFfmpeg() },
      {
        label: 'the ffmpeg on the PATH',
        get: () => {
          try {
            return resolveFfmpeg({ packages: false, env: { PATH: process.env.PATH } });
          } catch {
            return null;
          }
        },
      },
    ];
    for (const { label, get } of binaries) {
      it(`decodes every frame ffprobe counts, 1280x720 RGB, t = pts stepping 1001/30000 s (${label})`, async function () {
        const ffmpeg = get();
        if (ffmpeg === null) this.skip();
        const expected = countFramesWithFfprobe(RAVDESS_CLIP);
        assert.equal(expected, 98);
        const started = process.hrtime.bigint();
        const hash = createHash('md5');
        let count = 0;
        let previous: VideoFrame | null = null;
        let pid = 0;
        for await (const frame of decodeFrames(RAVDESS_CLIP, { ffmpeg, onStart: (s) => (pid = s.pid) })) {
          assert.equal(frame.index, count);
          assert.equal(frame.width, 1280);
          assert.equal(frame.height, 720);
          assert.equal(frame.data.length, FRAME_BYTES);
          if (previous === null) assert.equal(frame.t, 0);
          else assert.ok(Math.abs(frame.t - previous.t - STEP) < 1e-9, `t ${previous.t} -> ${frame.t}`);
          // Real pts, not just index × step: equal here because the clip is constant-rate.
          assert.ok(Math.abs(frame.t - frame.index * STEP) < 1e-9);
          hash.update(frame.data);
          previous = frame;
          count++;
        }
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        console.log(`      ${count} frames of 1280x720 RGB24 in ${ms.toFixed(0)} ms with ${ffmpeg.path} (${ffmpeg.source}), probe included`);
        assert.equal(count, expected);
        assert.ok(previous !== null && Math.abs(previous.t - 97 * STEP) < 1e-9);
        // Byte for byte what the ffmpeg command line gives: frames are cut from the pipe correctly.
        assert.equal(hash.digest('hex'), await cliRgbMd5(ffmpeg.path, RAVDESS_CLIP));
        assertGone([pid]);
      });
    }

    it('keeps ffmpeg a few frames ahead of a slow consumer (backpressure)', async function () {
      if (!fs.existsSync('/proc/self/io')) this.skip();
      let pid = 0;
      let written = 0;
      for await (const frame of decodeFrames(RAVDESS_CLIP, { onStart: (s) => (pid = s.pid) })) {
        assert.equal(frame.index, 0);
        await new Promise((resolve) => setTimeout(resolve, 700));
        const io = fs.readFileSync(`/proc/${pid}/io`, 'utf8');
        written = Number(/^wchar:\s*(\d+)/m.exec(io)?.[1]);
        break;
      }
      // The whole clip is 98 frames (271 MB); while the consumer sleeps on frame 0, ffmpeg has written
      // frame 0, the LOOKAHEAD_FRAMES read-ahead frames and what fits in the pipe, then blocks.
      assert.ok(written > FRAME_BYTES && written < (LOOKAHEAD_FRAMES + 2) * FRAME_BYTES, `ffmpeg wrote ${written} bytes`);
      assertGone([pid]);
    });
  });

  for (const stillDecoder of ['sharp', 'ffmpeg'] as const) {
    it(`gives exactly one frame for a still PNG or JPEG (also with % in the name), t = 0 (${stillDecoder})`, async () => {
      for (const file of [ASTRONAUT_PNG, fx.jpeg, fx.percentJpeg, fx.percentPng]) {
        const { frames, error, pids } = await collect(file, { stillDecoder });
        assert.equal(error, null, String(error));
        assert.equal(frames.length, 1, file);
        const [frame] = frames;
        assert.ok(frame);
        assert.equal(frame.index, 0);
        assert.equal(frame.t, 0);
        assert.equal(frame.width, 512);
        assert.equal(frame.height, 512);
        assert.equal(frame.data.length, 512 * 512 * 3);
        // sharp decodes in-process; the ffmpeg path starts one ffmpeg (the % names need its -pattern_type none).
        assert.equal(pids.length, stillDecoder === 'ffmpeg' ? 1 : 0, file);
        assertGone(pids);
      }
    });
  }

  for (const stillDecoder of ['sharp', 'ffmpeg'] as const) {
    it(`decodeImage returns the PNG as RGB, byte for byte what the ffmpeg command line gives (${stillDecoder})`, async () => {
      const image = await decodeImage(ASTRONAUT_PNG, { stillDecoder });
      assert.equal(image.width, 512);
      assert.equal(image.height, 512);
      assert.equal(image.data.length, 512 * 512 * 3);
      const reference = execFileSync(resolveFfmpeg().path, ['-nostdin', '-v', 'error', '-i', ASTRONAUT_PNG, '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1'], {
        maxBuffer: 16 * 1024 * 1024,
      });
      assert.ok(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength).equals(reference));
      // Not a flat picture: the astronaut has many distinct colours.
      assert.ok(new Set(image.data.subarray(0, 30000)).size > 100);
    });
  }

  it('applies rotation: frames of the rotated clip are the originals turned 90° counter-clockwise', async () => {
    const original = await decodeImage(RAVDESS_CLIP);
    const { frames, error } = await collect(fx.rotated);
    assert.equal(error, null, String(error));
    assert.ok(frames.length >= 14);
    const first = frames[0];
    assert.ok(first);
    assert.equal(first.width, 720);
    assert.equal(first.height, 1280);
    const W = original.width;
    let differing = 0;
    for (let y = 0; y < first.height; y++) {
      for (let x = 0; x < first.width; x++) {
        // Counter-clockwise: displayed (x, y) shows stored (W-1-y, x).
        for (let c = 0; c < 3; c++) {
          if (first.data[(y * first.width + x) * 3 + c] !== original.data[(x * W + (W - 1 - y)) * 3 + c]) differing++;
        }
      }
    }
    assert.equal(differing, 0);
  });

  it('gives real presentation times for variable-frame-rate video (the 0.5 s gap shows)', async () => {
    const { frames, error } = await collect(fx.vfr);
    assert.equal(error, null, String(error));
    assert.equal(frames.length, 20);
    const gaps = frames.slice(1).map((f, i) => f.t - (frames[i]?.t ?? 0));
    for (const [i, gap] of gaps.entries()) {
      const expected = i === 9 ? 16 / 30 : 1 / 30;
      assert.ok(Math.abs(gap - expected) < 0.002, `gap ${i}->${i + 1} is ${gap}`);
    }
  });

  describe('bad inputs fail with one line naming the file and leave no ffmpeg behind', () => {
    it('missing, empty, directory, text named .mp4, audio only', async () => {
      const missing = path.join(fx.dir, 'missing.mp4');
      const cases: Array<[string, MediaErrorCode, RegExp]> = [
        [missing, 'NO_SUCH_FILE', /: no such file$/],
        [fx.empty, 'EMPTY_FILE', /: is empty \(0 bytes\)$/],
        [fx.dir, 'NOT_A_FILE', /is a directory/],
        [fx.text, 'NOT_MEDIA', /not a media file ffprobe can read/],
        [fx.moovLess, 'NOT_MEDIA', /moov atom not found/],
        [fx.audioOnly, 'NO_VIDEO', /: has no video stream \(audio only\)$/],
      ];
      for (const [input, code, detail] of cases) {
        const { frames, error, pids } = await collect(input);
        assert.equal(frames.length, 0);
        assertOneLineError(error, input, code, detail);
        assert.deepEqual(pids, []); // failed before ffmpeg started
        assertGone([]);
      }
    });

    it('a truncated mp4 yields the frames before the cut, then a clear error with ffmpeg\'s own line', async () => {
      const { frames, error, pids } = await collect(fx.truncated);
      assert.ok(frames.length > 20 && frames.length < 98, `${frames.length} frames`);
      assert.ok(frames.every((f, i) => f.index === i && f.data.length === FRAME_BYTES));
      assertOneLineError(error, fx.truncated, 'DECODE_FAILED', /: decoding stopped after \d+ frames, the file is truncated or corrupt: .*(partial file|Invalid data found)/);
      assert.match((error as Error).message, new RegExp(`after ${frames.length} frames`));
      assert.equal(pids.length, 1);
      assertGone(pids);
    });

    it('an mp4 cut before its first picture fails with ffmpeg\'s reason', async () => {
      const { frames, error, pids } = await collect(fx.noMediaData);
      assert.equal(frames.length, 0);
      assertOneLineError(error, fx.noMediaData, 'DECODE_FAILED', /: decoding failed after 0 frames(, the file is truncated or corrupt)?: \S/);
      assertGone(pids);
    });

    it('with tolerateCorruption the truncated mp4 just ends, reporting the damage as warnings', async () => {
      const { frames, error, warnings, pids } = await collect(fx.truncated, { tolerateCorruption: true });
      assert.equal(error, null, String(error));
      assert.ok(frames.length > 20 && frames.length < 98);
      assert.ok(warnings.some((w) => /partial file|Invalid data found/.test(w)), warnings.join(' | '));
      assertGone(pids);
    });

    it('a cut MPEG-TS (no index to tell) ends early; ffmpeg\'s complaints come as warnings', async () => {
      const { frames, error, warnings, pids } = await collect(fx.cutTs);
      // ffmpeg decodes what is there and exits 0; any error it does raise must still be one clear line.
      if (error !== null) assertOneLineError(error, fx.cutTs, 'DECODE_FAILED', /truncated|failed/);
      assert.ok(frames.length > 20 && frames.length < 98, `${frames.length} frames`);
      assert.ok(warnings.every((w) => !/[\r\n]/.test(w)));
      assertGone(pids);
    });
  });

  describe('ffmpeg is killed and awaited however the consumer stops', () => {
    it('breaking out of the loop', async () => {
      let pid = 0;
      let seen = 0;
      for await (const frame of decodeFrames(RAVDESS_CLIP, { onStart: (s) => (pid = s.pid) })) {
        seen = frame.index + 1;
        if (seen === 3) break;
      }
      assert.equal(seen, 3);
      assert.ok(pid > 0);
      assertGone([pid]); // already gone when the loop statement has finished, no waiting
    });

    it('throwing inside the loop', async () => {
      let pid = 0;
      await assert.rejects(async () => {
        for await (const frame of decodeFrames(RAVDESS_CLIP, { onStart: (s) => (pid = s.pid) })) {
          if (frame.index === 5) throw new Error('consumer failed');
        }
      }, /consumer failed/);
      assertGone([pid]);
    });

    it('aborting through the signal, while the consumer is busy', async () => {
      const controller = new AbortController();
      let pid = 0;
      let seen = 0;
      await assert.rejects(
        async () => {
          for await (const frame of decodeFrames(RAVDESS_CLIP, { signal: controller.signal, onStart: (s) => (pid = s.pid) })) {
            seen = frame.index + 1;
            if (frame.index === 2) {
              controller.abort();
              // The abort kills ffmpeg at once, before the consumer asks for the next frame.
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
      assert.equal(seen, 3);
      assertGone([pid]);
    });

    it('an already aborted signal starts nothing', async () => {
      const { frames, error, pids } = await collect(RAVDESS_CLIP, { signal: AbortSignal.abort() });
      assert.equal(frames.length, 0);
      assertOneLineError(error, RAVDESS_CLIP, 'ABORTED', /aborted/);
      assert.deepEqual(pids, []);
    });
  });

  describe('live input', () => {
    it('is refused without allowLive', async () => {
      for (const input of ['rtsp://127.0.0.1:1/cam', 'http://127.0.0.1:1/live.m3u8', '/dev/video0']) {
        const { error, pids } = await collect(input);
        assertOneLineError(error, input, 'LIVE_NOT_ALLOWED', /live input is off/);
        assert.deepEqual(pids, []);
      }
    });

    it('is tried with allowLive (nothing listens on port 1: a clear connection error)', async () => {
      const input = 'rtsp://127.0.0.1:1/cam';
      const { error } = await collect(input, { allowLive: true });
      assertOneLineError(error, input, 'PROBE_FAILED', /refused/i);
    });
  });

  it('ChunkAssembler cuts a stream into blocks whatever the chunk boundaries', () => {
    const data = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
    for (const chunkSize of [1, 3, 7, 10, 33, 100]) {
      const assembler = new ChunkAssembler(10);
      const blocks: Buffer[] = [];
      for (let i = 0; i < data.length; i += chunkSize) blocks.push(...assembler.push(data.subarray(i, i + chunkSize)));
      assert.equal(blocks.length, 10);
      assert.ok(Buffer.concat(blocks).equals(data));
      assert.equal(assembler.pendingBytes, 0);
      assert.equal(assembler.flush(), null);
    }
    const assembler = new ChunkAssembler(4);
    assert.deepEqual(assembler.push(Buffer.from([1, 2, 3, 4, 5, 6])).map((b) => [...b]), [[1, 2, 3, 4]]);
    assert.deepEqual([...(assembler.flush() ?? [])], [5, 6]);
  });
});
