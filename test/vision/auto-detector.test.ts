/**
 * `--detector auto` on real faces made small: the RAVDESS clip and the astronaut photo scaled down
 * into a 1280×720 frame (ffmpeg scale + pad), face widths from 24 px up. The boxes are compared
 * with those of the full-size run, scaled and moved as the picture was.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveFfmpeg } from '../../src/media/binaries';
import type { RgbImage } from '../../src/media/types';
import { AutoFaceDetector, loadFaceDetector, tileBoxes, TILE_SIZE, type FaceDetectorSource } from '../../src/vision/auto-detector';
import { BlazeFaceDetector } from '../../src/vision/blazeface';
import { iou } from '../../src/vision/tracker';
import type { Box } from '../../src/vision/types';
import { cer } from '../helpers/cli';
import { ASTRONAUT_PNG, RAVDESS_CLIP } from '../helpers/testdata';

interface Analysis {
  frames: number;
  results: Array<{ frame: number; face: { box: Box; score: number; track: number; detector: string | null } | null }>;
}

const FRAME = { width: 1280, height: 720 };
/** Where the scaled picture's top-left corner goes in the 1280×720 frame. */
const AT = { x: 700, y: 400 };

/** A box of the full-size picture, where it is once the picture is scaled by (kx, ky) and moved to AT. */
const placed = (box: Box, kx: number, ky: number): Box => [box[0] * kx + AT.x, box[1] * ky + AT.y, box[2] * kx + AT.x, box[3] * ky + AT.y];

/** ffmpeg's scale filter: an even width w, the height kept in proportion, rounded to even. */
function scaledSize(width: number, height: number, w: number): { w: number; h: number } {
  return { w, h: 2 * Math.round((height * w) / width / 2) };
}

describe('face detection, auto: small and distant faces', function () {
  this.timeout(600000);
  let dir: string;
  const ffmpeg = resolveFfmpeg().path;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-small-faces-'))));
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  const analyse = (input: string, ...args: string[]): Analysis => {
    const out = path.join(dir, 'out');
    const r = cer(['analyze', input, '--out', out, '--quiet', ...args], { timeoutMs: 300000 });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(fs.readFileSync(path.join(out, `${path.basename(input).replace(/\.[^.]+$/, '')}.json`), 'utf8')) as Analysis;
  };

  describe('the RAVDESS clip scaled into a 1280×720 frame', function () {
    let full: Analysis;
    let faceWidth: number;
    before(function () {
      full = analyse(RAVDESS_CLIP, '--no-acoustic');
      const widths = full.results.map((r) => (r.face ? r.face.box[2] - r.face.box[0] : 0)).sort((a, b) => a - b);
      faceWidth = widths[Math.floor(widths.length / 2)];
    });

    it('full size: the near face is front-128\'s on every frame, as with --detector front-128', () => {
      const front = analyse(RAVDESS_CLIP, '--no-acoustic', '--detector', 'front-128');
      assert.ok(full.results.every((r) => r.face?.detector === 'blazeface-front-128'));
      assert.deepEqual(full.results.map((r) => r.face?.box), front.results.map((r) => r.face?.box));
    });

    for (const width of [24, 32, 48, 96]) {
      it(`faces ${width} px wide: found on ${width >= 32 ? '≥ 95 % of' : 'most'} frames, boxes with IoU ≥ 0.7 against the full-size run's${width === 32 ? ' (cer analyze with no flags)' : ''}`, function () {
        // The clip's picture scaled so that its face is about `width` pixels wide.
        const size = scaledSize(1280, 720, 2 * Math.round((1280 * width) / faceWidth / 2));
        const video = path.join(dir, `ravdess-${width}px.mp4`);
        execFileSync(ffmpeg, ['-v', 'error', '-y', '-i', RAVDESS_CLIP, '-vf', `scale=${size.w}:${size.h},pad=${FRAME.width}:${FRAME.height}:${AT.x}:${AT.y}:color=0x303030`, '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '16', '-c:a', 'copy', video]);
        const small = width === 32 ? analyse(video) : analyse(video, '--no-acoustic');
        assert.equal(small.frames, full.frames);
        const kx = size.w / 1280;
        const ky = size.h / 720;
        const found = small.results.filter((r) => r.face !== null);
        const overlaps = found.map((r) => iou((r.face as NonNullable<typeof r.face>).box, placed((full.results[r.frame].face as NonNullable<typeof r.face>).box, kx, ky)));
        const detectors = [...new Set(found.map((r) => r.face?.detector))];
        console.log(`      ${width} px: a face on ${found.length}/${small.frames} frames, IoU min ${Math.min(...overlaps).toFixed(2)}, median ${[...overlaps].sort((a, b) => a - b)[Math.floor(overlaps.length / 2)].toFixed(2)}; found by ${detectors.join(', ')}`);
        if (width >= 32) assert.ok(found.length >= 0.95 * small.frames, `${found.length} of ${small.frames}`);
        else assert.ok(found.length >= 0.5 * small.frames, `${found.length} of ${small.frames}`);
        assert.ok(overlaps.every((o) => o >= 0.7), `IoU down to ${Math.min(...overlaps)}`);
        // Too small for front-128 on the whole frame: found on a crop around it.
        assert.ok(detectors.every((d) => d === 'blazeface-front-128+crop' || d === 'blazeface-front-128'), detectors.join(', '));
      });
    }
  });

  describe('the astronaut photo scaled into a 1280×720 frame', function () {
    let detector: FaceDetectorSource;
    let reference: Box;
    /** The photo scaled to side × side pixels at `at` in a grey 1280×720 frame. */
    const picture = (side: number, at: { x: number; y: number }): RgbImage => {
      const raw = execFileSync(ffmpeg, ['-v', 'error', '-i', ASTRONAUT_PNG, '-vf', `scale=${side}:${side},pad=${FRAME.width}:${FRAME.height}:${at.x}:${at.y}:color=0x808080`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1 << 24 });
      return { width: FRAME.width, height: FRAME.height, data: new Uint8Array(raw) };
    };
    before(async () => {
      detector = await loadFaceDetector('auto', { intraOpNumThreads: 1 });
      const raw = execFileSync(ffmpeg, ['-v', 'error', '-i', ASTRONAUT_PNG, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1 << 24 });
      const [face] = await detector.forStream().detect({ width: 512, height: 512, data: new Uint8Array(raw) });
      assert.ok(face !== undefined && face.detector === 'blazeface-front-128');
      reference = face.box;
    });
    after(() => detector?.release());

    it('finds her face from 32 px wide on, on the first frame of a stream, with IoU ≥ 0.7', async () => {
      const refWidth = reference[2] - reference[0];
      const rows: string[] = [];
      for (const faceWidth of [24, 32, 40, 48, 64, 96, 128]) {
        const side = 2 * Math.round((512 * faceWidth) / refWidth / 2);
        // Off centre, and wholly inside the frame.
        const at = { x: Math.min(AT.x, FRAME.width - side), y: Math.min(AT.y, FRAME.height - side) };
        const faces = await detector.forStream().detect(picture(side, at));
        const k = side / 512;
        const expected: Box = [reference[0] * k + at.x, reference[1] * k + at.y, reference[2] * k + at.x, reference[3] * k + at.y];
        const best = faces.find((f) => f.score >= 0.5);
        const overlap = best ? iou(best.box, expected) : 0;
        rows.push(`${faceWidth} px: ${best ? `${best.score.toFixed(2)} IoU ${overlap.toFixed(2)} (${best.detector})` : 'none'}`);
        if (faceWidth >= 32) {
          assert.ok(best !== undefined, `no face ${faceWidth} px wide`);
          assert.ok(overlap >= 0.7, `${faceWidth} px: IoU ${overlap}`);
          assert.equal(faces.filter((f) => f.score >= 0.5).length, 1, `${faceWidth} px: one face`);
        }
      }
      console.log(`      ${rows.join('; ')}`);
    });

    it('a frame without a face: none, and the searches take turns rather than run on every frame', async () => {
      const grey: RgbImage = { width: 1280, height: 720, data: new Uint8Array(1280 * 720 * 3).fill(128) };
      const auto = detector as AutoFaceDetector;
      const stream = auto.forStream();
      const front = auto.detectors.front;
      const calls = { search: 0, tiles: 0 };
      const count = (d: BlazeFaceDetector, key: keyof typeof calls): (() => void) => {
        const original = d.detect.bind(d);
        d.detect = (image: RgbImage) => {
          calls[key]++;
          return original(image);
        };
        return () => {
          d.detect = original;
        };
      };
      const undo = [count(auto.detectors.search, 'search'), count(auto.detectors.tiles, 'tiles')];
      try {
        for (let i = 0; i < 24; i++) assert.deepEqual(await stream.detect(grey), []);
      } finally {
        for (const u of undo) u();
      }
      // 24 frames: back-256 on every 3rd, the 384 px tiles of full-192 (15 on 1280×720) on every 12th.
      assert.equal(calls.search, 8);
      assert.equal(calls.tiles, 2 * tileBoxes(1280, 720, TILE_SIZE).length);
      assert.equal(tileBoxes(1280, 720).length, 15);
      assert.ok(front.id === 'blazeface-front-128');
    });
  });
});
