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
