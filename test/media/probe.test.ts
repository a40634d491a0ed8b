import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { resolveFfprobe } from '../../src/media/binaries';
import { MediaError, type MediaErrorCode } from '../../src/media/errors';
import { chooseFrameRate, parseRate, probeMedia } from '../../src/media/probe';
import { runningToolPids } from '../../src/media/process';
import { ASTRONAUT_PNG, RAVDESS_CLIP } from '../helpers/testdata';
import { childMediaPids, makeMediaFixtures, type MediaFixtures } from './fixtures';

/** Asserts a one-line MediaError with this code whose message starts with the input and matches `detail`. */
async function rejectsWith(promise: Promise<unknown>, input: string, code: MediaErrorCode, detail: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof MediaError, `not a MediaError: ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.ok(err.message.startsWith(`${input}: `), err.message);
    assert.doesNotMatch(err.message, /\n/);
    assert.match(err.message, detail);
    return true;
  });
}

describe('media/probe', () => {
  let fx: MediaFixtures;

  before(function () {
    fx = makeMediaFixtures();
  });
  after(() => fx?.cleanup());
  afterEach(() => {
    assert.deepEqual(runningToolPids(), []);
    assert.deepEqual(childMediaPids(), []);
  });

  it('reads the RAVDESS clip: 1280x720 H.264 at exactly 30000/1001 fps, 3.35 s, AAC 48 kHz stereo', async () => {
    const info = await probeMedia(RAVDESS_CLIP);
    assert.equal(info.kind, 'video');
    assert.equal(info.input, RAVDESS_CLIP);
    assert.deepEqual(info.frameRate, { num: 30000, den: 1001 });
    assert.equal(info.width, 1280);
    assert.equal(info.height, 720);
    assert.equal(info.rotation, 0);
    assert.equal(info.videoCodec, 'h264');
    assert.ok(info.duration !== null && Math.abs(info.duration - 3.35) < 0.01, String(info.duration));
    assert.equal(info.hasVideo, true);
    assert.equal(info.hasAudio, true);
    assert.equal(info.frameCount, 99); // header count; the decoder yields 98 (see frames.test)
    assert.deepEqual(info.audio, { index: 1, codec: 'aac', sampleRate: 48000, channels: 2, channelLayout: 'stereo', duration: info.audio?.duration ?? null });
    assert.ok(info.audio !== null && info.audio.duration !== null && Math.abs(info.audio.duration - 3.3) < 0.01);
    assert.equal(info.video?.variableFrameRate, false);
    assert.equal(info.video?.pixelFormat, 'yuv420p');
  });

  for (const stillDecoder of ['sharp', 'ffmpeg'] as const) {
    it(`takes a still PNG and JPEG (also with % in the name) as an image of one frame, without a frame rate (${stillDecoder})`, async () => {
      // sharp reads the header in-process: an ffprobe that cannot start shows that none is started.
      const ffprobe = stillDecoder === 'sharp' ? { ...resolveFfprobe(), path: path.join(fx.dir, 'no-such-ffprobe') } : undefined;
      for (const file of [ASTRONAUT_PNG, fx.jpeg, fx.percentJpeg, fx.percentPng]) {
        const info = await probeMedia(file, { stillDecoder, ffprobe });
        assert.equal(info.kind, 'image', file);
        assert.equal(info.width, 512);
        assert.equal(info.height, 512);
        assert.equal(info.frameCount, 1);
        assert.equal(info.frameRate, null);
        assert.equal(info.duration, null);
        assert.equal(info.hasAudio, false);
        if (stillDecoder === 'sharp') {
          assert.equal(info.decoder, 'sharp', file);
        } else {
          // ffprobe's account: no sharp mark, and the pixel format only ffprobe reports.
          assert.equal(info.decoder, undefined, file);
          assert.equal(info.video?.pixelFormat, file.endsWith('.png') ? 'rgb24' : 'yuvj444p', file);
        }
      }
    });
  }

  it('reports rotation from the display matrix and the displayed (rotated) size', async () => {
    const info = await probeMedia(fx.rotated);
    assert.equal(info.kind, 'video');
    // ffprobe says "rotation": 90 (counter-clockwise); ffmpeg turns the picture 270° clockwise.
    assert.equal(info.rotation, 270);
    assert.equal(info.width, 720);
    assert.equal(info.height, 1280);
    assert.equal(info.video?.codedWidth, 1280);
    assert.equal(info.video?.codedHeight, 720);
  });

  it('takes an audio-only file as audio', async () => {
    const info = await probeMedia(fx.audioOnly);
    assert.equal(info.kind, 'audio');
    assert.equal(info.hasVideo, false);
    assert.equal(info.video, null);
    assert.equal(info.width, 0);
    assert.equal(info.frameRate, null);
    assert.equal(info.audio?.sampleRate, 48000);
    assert.equal(info.audio?.channels, 2);
  });

  it('sees a variable frame rate: avg_frame_rate is taken when it disagrees with r_frame_rate', async () => {
    const info = await probeMedia(fx.vfr);
    assert.equal(info.video?.variableFrameRate, true);
    assert.deepEqual(info.frameRate, info.video?.avgFrameRate);
  });

  it('probes an MPEG-TS cut mid-stream, asking the system ffprobe when the static one dies on it', async function () {
    const info = await probeMedia(fx.cutTs);
    assert.equal(info.kind, 'video');
    assert.equal(info.width, 1280);
    assert.equal(info.height, 720);
    assert.equal(info.hasAudio, true);
    // Why the fallback exists: the package's ffprobe (when it is the one in use) is killed by SIGSEGV.
    const ffprobe = resolveFfprobe();
    if (ffprobe.source !== '@ffprobe-installer') this.skip();
    const direct = spawnSync(ffprobe.path, ['-v', 'error', '-show_format', fx.cutTs]);
    assert.equal(direct.signal, 'SIGSEGV');
  });

  it('fails with one line naming the file: missing, empty, directory, text named .mp4, mp4 without moov', async () => {
    const missing = path.join(fx.dir, 'nope.mp4');
    await rejectsWith(probeMedia(missing), missing, 'NO_SUCH_FILE', /: no such file$/);
    await rejectsWith(probeMedia(fx.empty), fx.empty, 'EMPTY_FILE', /: is empty \(0 bytes\)$/);
    await rejectsWith(probeMedia(fx.dir), fx.dir, 'NOT_A_FILE', /is a directory/);
    await rejectsWith(probeMedia(fx.text), fx.text, 'NOT_MEDIA', /: not a media file ffprobe can read \(Invalid data found when processing input\)$/);
    await rejectsWith(probeMedia(fx.moovLess), fx.moovLess, 'NOT_MEDIA', /not a complete MP4\/MOV file.*truncated.*\(moov atom not found\)$/);
  });

  it('refuses live input unless allowLive, and unknown URL schemes always', async () => {
    await rejectsWith(probeMedia('rtsp://127.0.0.1:1/cam'), 'rtsp://127.0.0.1:1/cam', 'LIVE_NOT_ALLOWED', /live rtsp:\/\/ stream; live input is off/);
    await rejectsWith(probeMedia('https://example.invalid/a.mp4'), 'https://example.invalid/a.mp4', 'LIVE_NOT_ALLOWED', /live input is off \(--allow-live on the command line; "Allow network streams and capture devices" in the media node\)$/);
    await rejectsWith(probeMedia('/dev/video0'), '/dev/video0', 'LIVE_NOT_ALLOWED', /capture device/);
    await rejectsWith(probeMedia('ftp://example.invalid/a.mp4', { allowLive: true }), 'ftp://example.invalid/a.mp4', 'UNSUPPORTED_INPUT', /unsupported URL scheme 'ftp:\/\/'/);
    // Allowed, the stream is tried: nothing listens on port 1.
    await rejectsWith(probeMedia('rtsp://127.0.0.1:1/cam', { allowLive: true }), 'rtsp://127.0.0.1:1/cam', 'PROBE_FAILED', /ffprobe failed: .*refused/i);
  });

  it('parses and chooses frame rates', () => {
    assert.deepEqual(parseRate('30000/1001'), { num: 30000, den: 1001 });
    assert.deepEqual(parseRate('50/2'), { num: 25, den: 1 });
    assert.equal(parseRate('0/0'), null);
    assert.equal(parseRate('N/A'), null);
    // 29.97 written as 2997/100 snaps to the exact NTSC rate.
    assert.deepEqual(chooseFrameRate({ num: 2997, den: 100 }, { num: 2997, den: 100 }), { num: 30000, den: 1001 });
    // r_frame_rate a time-base-like 90000/1 against an average of 25: the average wins.
    assert.deepEqual(chooseFrameRate({ num: 90000, den: 1 }, { num: 25, den: 1 }), { num: 25, den: 1 });
    // Close to each other: the nominal r_frame_rate.
    assert.deepEqual(chooseFrameRate({ num: 30, den: 1 }, { num: 2999, den: 100 }), { num: 30, den: 1 });
    assert.deepEqual(chooseFrameRate(null, { num: 1311000, den: 87437 }), { num: 1311000, den: 87437 });
    assert.equal(chooseFrameRate(null, null), null);
  });
});
