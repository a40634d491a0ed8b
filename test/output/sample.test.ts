/**
 * The bundled sample (docs/samples/sample.mp4): its streams, its audio (silence, speech, silence),
 * that the analysis finds the faces and that the compound expression changes with the portrait,
 * and that tools/make-sample.sh makes it again.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveFfmpeg } from '../../src/media/binaries';
import { analyzeWithCli, decodeAudio, ffprobeJson, rms } from '../helpers/output-media';
import { COMPOUND_NAMES } from '../../src/core';
import { ASTRONAUT_PNG, REPO_ROOT, SAMPLE_MP4, SAMPLES_DIR } from '../helpers/testdata';

const GRACE_HOPPER_JPG = path.join(SAMPLES_DIR, 'grace_hopper.jpg');
/** Where Debian's python-matplotlib-data puts the same photo (when it is installed). */
const MATPLOTLIB_GRACE_HOPPER = '/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg';
/** Where Debian's python3-skimage puts the astronaut (when it is installed). */
const SKIMAGE_ASTRONAUT = '/usr/lib/python3/dist-packages/skimage/data/astronaut.png';

const sha256 = (file: string): string => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** The tools docs/samples/sample.mp4 was made with: the same ones make the same bytes. */
const MADE_WITH = { ffmpeg: 'ffmpeg version N-47683-g0e8eb07980-static', espeak: 'eSpeak NG text-to-speech: 1.51' };

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n')[0].trim() : '';
}

describe('docs/samples/sample.mp4', function () {
  this.timeout(300000);

  it('is H.264 1280x720 25 fps with AAC audio, 10 s, under 1 MB', function () {
    const p = ffprobeJson(SAMPLE_MP4);
    const video = p.streams.filter((s) => s.codec_type === 'video');
    const audio = p.streams.filter((s) => s.codec_type === 'audio');
    assert.equal(video.length, 1);
    assert.equal(audio.length, 1);
    const v = video[0];
    assert.equal(v.codec_name, 'h264');
    assert.equal(v.pix_fmt, 'yuv420p');
    assert.equal(v.width, 1280);
    assert.equal(v.height, 720);
    assert.equal(v.r_frame_rate, '25/1');
    assert.equal(v.nb_frames, '250');
    const a = audio[0];
    assert.equal(a.codec_name, 'aac');
    assert.equal(a.channels, 1);
    assert.equal(a.sample_rate, '48000');
    assert.ok(Math.abs(Number(p.format.duration) - 10) < 0.1, `duration ${p.format.duration}`);
    assert.ok(Number(p.format.size) < 1e6, `size ${p.format.size}`);
  });

  it('has silence, then speech, then silence (for a voice-activity detector)', function () {
    const rate = 16000;
    const audio = decodeAudio(SAMPLE_MP4, rate);
    assert.ok(Math.abs(audio.length / rate - 10) < 0.1);
    const before = rms(audio, rate, 0.1, 1.9);
    const speech = rms(audio, rate, 2.1, 5.2);
    const after = rms(audio, rate, 5.6, 9.9);
    assert.ok(before < 1e-3, `silence before: rms ${before}`);
    assert.ok(after < 1e-3, `silence after: rms ${after}`);
    assert.ok(speech > 0.02, `speech: rms ${speech}`);
  });

  it('cer analyze finds a face on every frame, and the compound expression changes with the portrait', function () {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-sample-'));
    try {
      const { result } = analyzeWithCli(SAMPLE_MP4, out);
      assert.equal(result.frames, 250);
      assert.equal(result.fps, 25);
      assert.ok(result.results.every((r) => r.face !== null && r.label !== null && COMPOUND_NAMES.includes(r.label)), 'a face and a label on every frame');
      const tally = (rs: typeof result.results): Map<string, number> => {
        const m = new Map<string, number>();
        for (const r of rs) m.set(r.label as string, (m.get(r.label as string) ?? 0) + 1);
        return m;
      };
      // 0-5 s the astronaut smiles; 5-10 s Grace Hopper, with a straight face (a hard cut at frame 125).
      const astronaut = tally(result.results.filter((r) => r.frame < 125));
      const hopper = tally(result.results.filter((r) => r.frame >= 125));
      console.log(`      astronaut: ${[...astronaut].map(([l, n]) => `${l} ${n}`).join(', ')}; Grace Hopper: ${[...hopper].map(([l, n]) => `${l} ${n}`).join(', ')}`);
      assert.ok((astronaut.get('Happily Surprised') ?? 0) >= 0.9 * 125, 'the smile: Happily Surprised');
      assert.ok((hopper.get('Happily Surprised') ?? 0) <= 0.1 * 125, 'no smile, hardly ever Happily Surprised');
      const top = [...hopper].sort((x, y) => y[1] - x[1])[0][0];
      assert.notEqual(top, 'Happily Surprised');
      assert.ok(tally(result.results).size >= 2, 'at least two different compound expressions win over the sample');
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('its first image is the public-domain astronaut photo as scikit-image ships it', function () {
    const p = ffprobeJson(ASTRONAUT_PNG);
    assert.equal(p.streams[0].codec_name, 'png');
    assert.deepEqual([p.streams[0].width, p.streams[0].height], [512, 512]);
    // scikit-image 0.19.3's skimage/data/astronaut.png (Debian 12's python3-skimage), unchanged.
    assert.equal(sha256(ASTRONAUT_PNG), '88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5');
    if (fs.existsSync(SKIMAGE_ASTRONAUT)) assert.equal(sha256(ASTRONAUT_PNG), sha256(SKIMAGE_ASTRONAUT));
  });

  it('its second image is the public-domain Grace Hopper photo as matplotlib ships it', function () {
    const p = ffprobeJson(GRACE_HOPPER_JPG);
    assert.equal(p.streams[0].codec_name, 'mjpeg');
    assert.deepEqual([p.streams[0].width, p.streams[0].height], [512, 600]);
    // matplotlib 3.6.3's mpl-data/sample_data/grace_hopper.jpg (Debian 12's python-matplotlib-data), unchanged.
    assert.equal(sha256(GRACE_HOPPER_JPG), 'a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130');
    if (fs.existsSync(MATPLOTLIB_GRACE_HOPPER)) assert.equal(sha256(GRACE_HOPPER_JPG), sha256(MATPLOTLIB_GRACE_HOPPER));
  });

  it('tools/make-sample.sh makes it again (byte for byte with the same ffmpeg and espeak-ng)', function () {
    const espeak = firstLine('espeak-ng', ['--version']);
    if (!espeak) {
      console.warn('    skipped: espeak-ng is not installed');
      this.skip();
    }
    const ffmpeg = resolveFfmpeg().path;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-make-sample-'));
    try {
      const out = path.join(dir, 'sample.mp4');
      const r = spawnSync('bash', [path.join(REPO_ROOT, 'tools', 'make-sample.sh'), out], {
        encoding: 'utf8',
        env: { ...process.env, FFMPEG_PATH: ffmpeg },
        timeout: 240000,
      });
      assert.equal(r.status, 0, r.stderr);
      const made = ffprobeJson(out);
      const bundled = ffprobeJson(SAMPLE_MP4);
      const summary = (p: typeof made): string[] => p.streams.map((s) => `${s.codec_type} ${s.codec_name} ${s.width ?? ''}x${s.height ?? ''} ${s.r_frame_rate} ${s.nb_frames} ${s.sample_rate ?? ''}`);
      assert.deepEqual(summary(made), summary(bundled));
      const sameTools = firstLine(ffmpeg, ['-version']).startsWith(MADE_WITH.ffmpeg) && espeak.startsWith(MADE_WITH.espeak);
      if (sameTools) assert.equal(sha256(out), sha256(SAMPLE_MP4), 'same tools, same bytes');
      else console.warn(`    note: other tool versions than the sample's (${MADE_WITH.ffmpeg}; ${MADE_WITH.espeak}): streams compared, not bytes`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
