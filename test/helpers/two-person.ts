/**
 * Synthetic two-person videos made with ffmpeg from the package's two real face photos
 * (docs/samples/astronaut.png and grace_hopper.jpg), for the target-person tests. 1280×720, 25 fps,
 * 4 s (frames 0–99) on a grey canvas:
 *
 * - A: the astronaut's face (a 190 px crop around it, scaled to 420 px) on the left; her face
 *   box is about 211 px wide.
 * - B: Grace Hopper's face (a 400 px crop around it) on the right, centred at (960, 360).
 * - The blob: Hopper's face again, 640 px and blurred (Gaussian sigma 6), at the left edge with
 *   most of it outside the frame and behind A. BlazeFace scores it 0.52–0.53 (the back of a head
 *   in the issue scored 0.50–0.54), and its box (about 203×275 px) is larger than A's: a
 *   per-frame `largest` picks it.
 *
 * Each video's comment says when the faces come, go and grow.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { resolveFfmpeg } from '../../src/media/binaries';
import { SAMPLES_DIR } from './testdata';

export const FPS = 25;
export const FRAMES = 100;

const ASTRONAUT = path.join(SAMPLES_DIR, 'astronaut.png');
const HOPPER = path.join(SAMPLES_DIR, 'grace_hopper.jpg');
/** The 190 px square around the astronaut's face, and the 400 px one around Hopper's. */
const A_CROP = 'crop=190:190:130:33';
const B_CROP = 'crop=400:400:67:42';

/** Frame centre x of A's and B's faces, and of the blob: which person a box belongs to. */
export type Who = 'A' | 'B' | 'blob';
export function who(box: readonly number[]): Who {
  const cx = ((box[0] as number) + (box[2] as number)) / 2;
  return cx < 200 ? 'blob' : cx < 640 ? 'A' : 'B';
}

function render(out: string, filter: string): void {
  execFileSync(resolveFfmpeg().path, [
    '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `color=c=0x808080:s=1280x720:r=${FPS}:d=${FRAMES / FPS}`,
    '-loop', '1', '-framerate', String(FPS), '-t', String(FRAMES / FPS), '-i', ASTRONAUT,
    '-loop', '1', '-framerate', String(FPS), '-t', String(FRAMES / FPS), '-i', HOPPER,
    '-filter_complex', filter,
    '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-frames:v', String(FRAMES), out,
  ]);
}

/**
 * A gone where `when` holds: her picture painted over with the canvas's grey (so that the blob, which
 * her picture partly covers, stays as it was).
 */
function hideA(when: string): string {
  return `drawbox=x=170:y=150:w=420:h=420:color=0x808080:t=fill:enable='${when}'`;
}

/** The blob on the canvas ([0] → [f]) and Hopper's picture kept for B ([h]). */
const BLOB = `[2]split[h][hb];[hb]${B_CROP},scale=640:640,gblur=sigma=6[blob];[0][blob]overlay=x=-260:y=80[f]`;

/** B's size in `growing`: 320 px up to frame 44, then 400, 480, 560 on frames 45–47 and 640 from frame 48. */
export const B_GROWTH: ReadonlyArray<{ readonly size: number; readonly from: number; readonly to: number }> = [
  { size: 320, from: 0, to: 44 },
  { size: 400, from: 45, to: 45 },
  { size: 480, from: 46, to: 46 },
  { size: 560, from: 47, to: 47 },
  { size: 640, from: 48, to: FRAMES - 1 },
];
/** The frame A is missing from in `growing` (one dropped detection). */
export const A_MISSING_FRAME = 20;

/**
 * `growing`: A and B from frame 0 (A's face ~211 px, B's ~184 px: A is the larger), A missing on
 * frame 20 only; B grows over frames 45–48 (1.80–1.92 s) to 640 px (its face ~311 px) and is the
 * larger from then on: the largest face changes once, at about 1.85 s. The blob is there throughout.
 * (Grown in steps: the animated scale of newer ffmpegs is not in the package's static one.)
 */
export function makeGrowing(out: string): void {
  const copies = B_GROWTH.map((_, i) => `[b${i}]`).join('');
  let graph = `${BLOB};[1]${A_CROP},format=rgb24,scale=420:420[a];[f][a]overlay=x=170:y=150,${hideA(`eq(n,${A_MISSING_FRAME})`)}[c0];`;
  graph += `[h]${B_CROP},format=rgb24,split=${B_GROWTH.length}${copies};`;
  B_GROWTH.forEach(({ size, from, to }, i) => {
    graph += `[b${i}]scale=${size}:${size}[s${i}];[c${i}][s${i}]overlay=x=${960 - size / 2}:y=${360 - size / 2}:enable='between(n,${from},${to})'[c${i + 1}];`;
  });
  render(out, `${graph}[c${B_GROWTH.length}]format=yuv420p`);
}

/** In `arriving`: B comes at 1.0 s, A leaves at 3.0 s. */
export const B_ARRIVES = 1.0;
export const A_LEAVES = 3.0;

/**
 * `arriving`: A (~211 px face) from frame 0 to 3.0 s; B (560 px, its face ~270 px: the larger) from
 * 1.0 s to the end. The blob is there throughout, as long as A.
 */
export function makeArriving(out: string): void {
  render(
    out,
    `${BLOB};[1]${A_CROP},format=rgb24,scale=420:420[a];[f][a]overlay=x=170:y=150,${hideA(`gte(t,${A_LEAVES})`)}[c];` +
      `[h]${B_CROP},format=rgb24,scale=560:560[b];[c][b]overlay=x=680:y=80:enable='gte(t,${B_ARRIVES})',format=yuv420p`,
  );
}
