/**
 * Still JPEG/PNG/WebP files decoded in-process with sharp (src/media/still.ts) against the same
 * files decoded by ffmpeg (the media layer's other path, `stillDecoder: 'ffmpeg'`).
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveFfmpeg } from '../../src/media/binaries';
import { MediaError } from '../../src/media/errors';
import { decodeFramesInWorker } from '../../src/media/frame-worker';
import { decodeFrames } from '../../src/media/frame-decoder';
import { probeMedia } from '../../src/media/probe';
import { runningToolPids } from '../../src/media/process';
import { loadSharp, type StillDecoder } from '../../src/media/still';
import type { VideoFrame } from '../../src/media/types';
import { ASTRONAUT_PNG, RAVDESS_CLIP } from '../helpers/testdata';
import { childMediaPids } from './fixtures';

async function frameOf(file: string, stillDecoder: StillDecoder): Promise<VideoFrame> {
  const frames: VideoFrame[] = [];
  for await (const frame of decodeFrames(file, { stillDecoder })) frames.push(frame);
  assert.equal(frames.length, 1, file);
  return frames[0] as VideoFrame;
}

interface Difference {
  readonly max: number;
  readonly mean: number;
  /** Share of the samples more than one level apart. */
  readonly overOne: number;
}

function difference(a: Uint8Array, b: Uint8Array): Difference {
  assert.equal(a.length, b.length);
  let max = 0;
  let sum = 0;
  let overOne = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    if (d > max) max = d;
    sum += d;
    if (d > 1) overOne++;
  }
  return { max, mean: sum / a.length, overOne: overOne / a.length };
}

/** The frame turned 90° clockwise (what EXIF Orientation 6 asks a viewer to do). */
function turnClockwise(frame: VideoFrame): Uint8Array {
  const { width: w, height: h, data } = frame;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const from = (y * w + x) * 3;
      const to = (x * h + (h - 1 - y)) * 3;
      out[to] = data[from] as number;
      out[to + 1] = data[from + 1] as number;
      out[to + 2] = data[from + 2] as number;
    }
  }
  return out;
}

describe('media/still: JPEG, PNG and WebP files through sharp', function () {
  this.timeout(60_000);
  let dir: string;
  const file = (name: string): string => path.join(dir, name);

  before(async function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-still-'));
    const ffmpeg = resolveFfmpeg().path;
    const run = (...args: string[]): void => {
      execFileSync(ffmpeg, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    };
    run('-i', ASTRONAUT_PNG, '-vf', 'format=rgba', file('rgba.png'));
    run('-i', ASTRONAUT_PNG, '-vf', 'format=gray', file('grey.png'));
    run('-i', ASTRONAUT_PNG, '-pix_fmt', 'rgb48be', file('deep.png'));
    run('-i', ASTRONAUT_PNG, '-q:v', '3', file('yuv444.jpg'));
    run('-i', ASTRONAUT_PNG, '-pix_fmt', 'yuvj420p', '-q:v', '3', file('yuv420.jpg'));
    run('-i', ASTRONAUT_PNG, '-vf', 'format=gray', '-q:v', '3', file('grey.jpg'));
    run('-i', RAVDESS_CLIP, '-frames:v', '1', '-q:v', '2', file('ravdess.jpg'));
    run('-i', ASTRONAUT_PNG, '-c:v', 'libwebp', '-q:v', '80', file('astronaut.webp'));
    // A 1280x720 picture stored with EXIF Orientation 6 (shown turned 90° clockwise, 720x1280).
    const sharp = await loadSharp();
    await sharp(file('ravdess.jpg')).withMetadata({ orientation: 6 }).jpeg({ quality: 95, chromaSubsampling: '4:4:4' }).toFile(file('sideways.jpg'));
    const whole = fs.readFileSync(file('yuv444.jpg'));
    fs.writeFileSync(file('truncated.jpg'), whole.subarray(0, Math.floor(whole.length * 0.4)));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  afterEach(() => {
    assert.deepEqual(runningToolPids(), []);
    assert.deepEqual(childMediaPids(), []);
  });

  it('probes a still JPEG, PNG or WebP without ffprobe, and reads as ffprobe does', async () => {
    for (const f of [ASTRONAUT_PNG, file('yuv420.jpg'), file('astronaut.webp'), file('grey.jpg')]) {
      const ours = await probeMedia(f);
      const theirs = await probeMedia(f, { stillDecoder: 'ffmpeg' });
      assert.equal(ours.decoder, 'sharp', f);
      assert.equal(theirs.decoder, undefined, f);
      for (const key of ['input', 'kind', 'width', 'height', 'rotation', 'frameRate', 'frameCount', 'duration', 'hasVideo', 'hasAudio', 'videoCodec', 'audio'] as const) {
        assert.deepEqual(ours[key], theirs[key], `${f}: ${key}`);
      }
    }
    // A video is still ffprobe's.
    assert.equal((await probeMedia(RAVDESS_CLIP)).decoder, undefined);
  });

  it('PNG: byte for byte the frame ffmpeg decodes (RGB, RGBA with alpha dropped, grey)', async () => {
    for (const f of [ASTRONAUT_PNG, file('rgba.png'), file('grey.png')]) {
      const ours = await frameOf(f, 'sharp');
      const theirs = await frameOf(f, 'ffmpeg');
      assert.equal(ours.width, theirs.width);
      assert.equal(ours.height, theirs.height);
      assert.ok(Buffer.from(ours.data).equals(Buffer.from(theirs.data)), f);
    }
    // 16 bits a sample: within one level (ffmpeg rounds to 8 bits, libvips shifts).
    const deep = difference((await frameOf(file('deep.png'), 'sharp')).data, (await frameOf(file('deep.png'), 'ffmpeg')).data);
    assert.ok(deep.max <= 1, JSON.stringify(deep));
  });

  it('JPEG: within one level of ffmpeg but for IDCT rounding; 4:2:0 chroma upsampled differently', async () => {
    // 4:4:4 and grey: the same colour conversion, the decoders' IDCTs round apart by a few levels on few samples.
    for (const f of [file('yuv444.jpg'), file('grey.jpg'), file('ravdess.jpg')]) {
      const d = difference((await frameOf(f, 'sharp')).data, (await frameOf(f, 'ffmpeg')).data);
      assert.ok(d.mean < 0.1 && d.overOne < 0.005 && d.max <= 5, `${path.basename(f)}: ${JSON.stringify(d)}`);
    }
    // 4:2:0: libjpeg's smooth ("fancy") chroma upsampling against swscale's: edges of colour differ.
    const d = difference((await frameOf(file('yuv420.jpg'), 'sharp')).data, (await frameOf(file('yuv420.jpg'), 'ffmpeg')).data);
    assert.ok(d.mean < 0.5 && d.overOne < 0.1, JSON.stringify(d));
  });

  it('WebP: as close to ffmpeg as 4:2:0 chroma upsampling allows', async () => {
    const d = difference((await frameOf(file('astronaut.webp'), 'sharp')).data, (await frameOf(file('astronaut.webp'), 'ffmpeg')).data);
    assert.ok(d.mean < 0.5 && d.overOne < 0.1, JSON.stringify(d));
  });

  it('EXIF Orientation: the picture comes upright, the stored one turned 90° clockwise', async () => {
    const info = await probeMedia(file('sideways.jpg'));
    assert.equal(info.rotation, 90);
    assert.equal(info.width, 720);
    assert.equal(info.height, 1280);
    assert.equal(info.video?.codedWidth, 1280);
    const upright = await frameOf(file('sideways.jpg'), 'sharp');
    // ffmpeg (5.x, and the static 4.x) ignores the tag: its frame is the stored picture.
    const stored = await frameOf(file('sideways.jpg'), 'ffmpeg');
    assert.equal(stored.width, 1280);
    assert.deepEqual([upright.width, upright.height], [720, 1280]);
    const d = difference(upright.data, turnClockwise(stored));
    assert.ok(d.mean < 0.1 && d.overOne < 0.005, JSON.stringify(d));
  });

  it('the worker-thread decoder gives the same frame, decoded on the calling thread', async () => {
    const frames: VideoFrame[] = [];
    let started = 0;
    for await (const frame of decodeFramesInWorker(file('yuv420.jpg'), { onStart: () => started++ })) frames.push(frame);
    assert.equal(frames.length, 1);
    assert.equal(started, 0, 'no ffmpeg started');
    assert.ok(Buffer.from((frames[0] as VideoFrame).data).equals(Buffer.from((await frameOf(file('yuv420.jpg'), 'sharp')).data)));
  });

  it('a truncated JPEG fails in one line naming the file', async () => {
    const f = file('truncated.jpg');
    await assert.rejects(frameOf(f, 'sharp'), (err: unknown) => {
      assert.ok(err instanceof MediaError, String(err));
      assert.equal(err.code, 'DECODE_FAILED');
      assert.ok(err.message.startsWith(`${f}: `), err.message);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
  });
});
