import { strict as assert } from 'node:assert';

/**
 * The astronaut photo (docs/samples/astronaut.png, 512x512): landmarks read off the photo by eye —
 * her right eye (image left), left eye, nose tip, mouth centre — for the face detector tests.
 */
export const ASTRO_RIGHT_EYE: readonly [number, number] = [204, 101];
export const ASTRO_LEFT_EYE: readonly [number, number] = [246, 104];
export const ASTRO_NOSE: readonly [number, number] = [224, 126];
export const ASTRO_MOUTH: readonly [number, number] = [224, 145];

/** Whether a box [x1, y1, x2, y2] holds a point. */
export function contains(box: readonly [number, number, number, number], [x, y]: readonly [number, number]): boolean {
  return x >= box[0] && x <= box[2] && y >= box[1] && y <= box[3];
}

/** Whether two points are at most `tol` pixels apart. */
export function near(p: readonly [number, number], q: readonly [number, number], tol: number): boolean {
  return Math.hypot(p[0] - q[0], p[1] - q[1]) <= tol;
}

/** A detection of the astronaut's face: its box holds eyes, nose and mouth, its six keypoints are within 10 px of hers. */
export function assertAstronautFace(face: { readonly box: readonly [number, number, number, number]; readonly keypoints?: ReadonlyArray<readonly [number, number]> }): void {
  const eyesMid: [number, number] = [(ASTRO_RIGHT_EYE[0] + ASTRO_LEFT_EYE[0]) / 2, (ASTRO_RIGHT_EYE[1] + ASTRO_LEFT_EYE[1]) / 2];
  for (const p of [eyesMid, ASTRO_NOSE, ASTRO_MOUTH]) assert.ok(contains(face.box, p), `box holds (${p.join(', ')})`);
  const kp = face.keypoints ?? [];
  assert.equal(kp.length, 6);
  assert.ok(near(kp[0], ASTRO_RIGHT_EYE, 10), `right eye ${kp[0].join(', ')}`);
  assert.ok(near(kp[1], ASTRO_LEFT_EYE, 10), `left eye ${kp[1].join(', ')}`);
  assert.ok(near(kp[2], ASTRO_NOSE, 10), `nose ${kp[2].join(', ')}`);
  assert.ok(near(kp[3], ASTRO_MOUTH, 10), `mouth ${kp[3].join(', ')}`);
  assert.ok(kp[4][0] < kp[0][0] && kp[5][0] > kp[1][0], 'ears outside the eyes');
}
