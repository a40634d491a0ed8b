/**
 * The VS crop of a face: the face box widened by a margin, cut straight (as the reference does) or
 * rolled upright by the detector's eye line (an affine warp with bilinear sampling, straight to
 * the model's input size), and its mirror image for flip averaging.
 *
 * `cer analyze` cuts the crop from the frame; the Node-RED face detector sends on only the part of
 * the frame around the face (faceContextBox) and the VS node cuts the crop from that. Both read
 * the pixels through an ImageView restricted to the same context box, with the same arithmetic in
 * frame coordinates, so the two give the same bytes.
 */
import type { RgbImage } from '../media/types';
import { MAX_CROP_MARGIN, type Interpolation, type ResizeMode } from '../models/manifest';
import { clipBox, cropImage } from './image';
import type { Box } from './types';

export { MAX_CROP_MARGIN };

/** A face as VS needs it: the detector's box and keypoints (BlazeFace order: right eye, left eye, …), frame pixels. */
export interface FaceGeometry {
  readonly box: Readonly<Box>;
  readonly keypoints?: ReadonlyArray<readonly [number, number]> | null;
}

/** An image that is the part of a frame starting at `origin` (whole pixels): the frame itself at [0, 0], or a crop of it. */
export interface ImageView {
  readonly image: RgbImage;
  readonly origin: readonly [number, number];
}

/** How the VS crop is cut. */
export interface CropChoice {
  /** Rotate the face upright by its eye line (needs the detector's eye keypoints). */
  readonly align: boolean;
  /** Fraction of the box's width and height added on each side, 0 to MAX_CROP_MARGIN. */
  readonly margin: number;
}

/** What the model's input needs from the warp. */
export interface WarpTarget {
  readonly size: readonly [number, number];
  readonly interpolation: Interpolation;
  readonly resize: ResizeMode;
}

/**
 * The face's roll: the angle of the line from the right eye (keypoint 0, on the image's left) to
 * the left eye (keypoint 1), radians, positive clockwise on screen (y down). 0 without two eyes.
 */
export function rollAngle(keypoints: FaceGeometry['keypoints']): number {
  if (!keypoints || keypoints.length < 2) return 0;
  const [rx, ry] = keypoints[0];
  const [lx, ly] = keypoints[1];
  const dx = lx - rx;
  const dy = ly - ry;
  if (!Number.isFinite(dx) || !Number.isFinite(dy) || (dx === 0 && dy === 0)) return 0;
  return Math.atan2(dy, dx);
}

/** Half-extents (x, y) of the axis-aligned bounds of a w × h rectangle turned by `angle`. */
function turnedHalfExtents(w: number, h: number, angle: number): [number, number] {
  const c = Math.abs(Math.cos(angle));
  const s = Math.abs(Math.sin(angle));
  return [(w * c + h * s) / 2, (w * s + h * c) / 2];
}

/**
 * The part of a width × height frame that any VS crop of the face may read (whole pixels, clipped
 * to the frame): the box widened by MAX_CROP_MARGIN on each side, turned by the face's roll, plus
 * two pixels for the bilinear neighbours. The face detector node sends this part on.
 */
export function faceContextBox(face: FaceGeometry, width: number, height: number): Box {
  const [x1, y1, x2, y2] = face.box;
  const scale = 1 + 2 * MAX_CROP_MARGIN;
  const [ex, ey] = turnedHalfExtents((x2 - x1) * scale, (y2 - y1) * scale, rollAngle(face.keypoints));
  const cx = (x1 + x2) / 2;
  const cy = (y1 + y2) / 2;
  const c = clipBox([cx - ex - 2, cy - ey - 2, cx + ex + 2, cy + ey + 2], width, height);
  return [Math.floor(c[0]), Math.floor(c[1]), Math.ceil(c[2]), Math.ceil(c[3])];
}

/** The view's pixels that a crop of `face` may read: the context box within the view (frame pixels). */
export function readableRegion(view: ImageView, face: FaceGeometry): Box {
  const [ox, oy] = view.origin;
  const frameWidth = ox + view.image.width;
  const frameHeight = oy + view.image.height;
  const context = faceContextBox(face, frameWidth, frameHeight);
  return [Math.max(context[0], ox), Math.max(context[1], oy), Math.min(context[2], frameWidth), Math.min(context[3], frameHeight)];
}

/**
 * The straight crop: the box widened by `margin` on each side, clipped to the readable region, cut
 * with cropImage (whole pixels). With margin 0 it is exactly cropImage(frame, box).
 */
export function straightCrop(view: ImageView, face: FaceGeometry, margin: number, out?: Uint8Array): RgbImage {
  const region = readableRegion(view, face);
  const [x1, y1, x2, y2] = face.box;
  const mx = (x2 - x1) * margin;
  const my = (y2 - y1) * margin;
  const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);
  const [ox, oy] = view.origin;
  // Clamped in frame pixels, then shifted by the whole-pixel origin (exact: see the module comment).
  const box: Box = [
    clamp(x1 - mx, region[0], region[2]) - ox,
    clamp(y1 - my, region[1], region[3]) - oy,
    clamp(x2 + mx, region[0], region[2]) - ox,
    clamp(y2 + my, region[1], region[3]) - oy,
  ];
  return cropImage(view.image, box, out);
}

/**
 * The aligned crop, straight at the model's input size: the box widened by `margin` on each side,
 * centred on the box's centre and turned by the face's roll, so that the eye line comes out level.
 * Each output pixel samples the frame (bilinear, or nearest when the model asks for it) at the
 * matching point; points outside the readable region take its edge pixels. `letterbox` keeps the
 * crop's aspect ratio and pads with black, `stretch` fills the input.
 */
export function alignedCrop(view: ImageView, face: FaceGeometry, margin: number, target: WarpTarget, out?: Uint8Array): RgbImage {
  const [outW, outH] = target.size;
  const data = out === undefined ? new Uint8Array(outW * outH * 3) : out.subarray(0, outW * outH * 3);
  if (data.length < outW * outH * 3) throw new RangeError(`output buffer has ${data.length} bytes, ${outW * outH * 3} needed`);
  const region = readableRegion(view, face);
  if (!(region[2] > region[0] && region[3] > region[1])) {
    throw new RangeError(`crop box [${face.box.join(', ')}] lies outside the frame`);
  }
  const [x1, y1, x2, y2] = face.box;
  const w = (x2 - x1) * (1 + 2 * margin);
  const h = (y2 - y1) * (1 + 2 * margin);
  const cx = (x1 + x2) / 2;
  const cy = (y1 + y2) / 2;
  const angle = rollAngle(face.keypoints);
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  // Frame pixels per output pixel.
  let sx = w / outW;
  let sy = h / outH;
  if (target.resize === 'letterbox') sx = sy = Math.max(sx, sy);
  const halfW = w / 2;
  const halfH = h / 2;
  const [ox, oy] = view.origin;
  const rx1 = region[0];
  const ry1 = region[1];
  const rx2 = region[2] - 1;
  const ry2 = region[3] - 1;
  const src = view.image.data;
  const stride = view.image.width * 3;
  const nearest = target.interpolation === 'nearest';
  let d = 0;
  for (let v = 0; v < outH; v++) {
    const yc = (v + 0.5 - outH / 2) * sy;
    for (let u = 0; u < outW; u++) {
      const xc = (u + 0.5 - outW / 2) * sx;
      if (xc > halfW || xc < -halfW || yc > halfH || yc < -halfH) {
        data[d++] = 0;
        data[d++] = 0;
        data[d++] = 0;
        continue;
      }
      // The frame point of this output pixel's centre, in pixel-centre coordinates.
      const px = cx + xc * cos - yc * sin - 0.5;
      const py = cy + xc * sin + yc * cos - 0.5;
      if (nearest) {
        let ix = Math.round(px);
        let iy = Math.round(py);
        ix = ix < rx1 ? rx1 : ix > rx2 ? rx2 : ix;
        iy = iy < ry1 ? ry1 : iy > ry2 ? ry2 : iy;
        const p = (iy - oy) * stride + (ix - ox) * 3;
        data[d++] = src[p];
        data[d++] = src[p + 1];
        data[d++] = src[p + 2];
        continue;
      }
      const fx = Math.floor(px);
      const fy = Math.floor(py);
      const wx = px - fx;
      const wy = py - fy;
      const xa = fx < rx1 ? rx1 : fx > rx2 ? rx2 : fx;
      const xb = fx + 1 < rx1 ? rx1 : fx + 1 > rx2 ? rx2 : fx + 1;
      const ya = fy < ry1 ? ry1 : fy > ry2 ? ry2 : fy;
      const yb = fy + 1 < ry1 ? ry1 : fy + 1 > ry2 ? ry2 : fy + 1;
      const a = (ya - oy) * stride + (xa - ox) * 3;
      const b = (ya - oy) * stride + (xb - ox) * 3;
      const c = (yb - oy) * stride + (xa - ox) * 3;
      const e = (yb - oy) * stride + (xb - ox) * 3;
      for (let k = 0; k < 3; k++) {
        const top = src[a + k] + (src[b + k] - src[a + k]) * wx;
        const bottom = src[c + k] + (src[e + k] - src[c + k]) * wx;
        data[d++] = (top + (bottom - top) * wy + 0.5) | 0;
      }
    }
  }
  return { width: outW, height: outH, data };
}

/** `image` mirrored left to right. */
export function mirrorImage(image: RgbImage, out?: Uint8Array): RgbImage {
  const { width, height } = image;
  const data = out === undefined ? new Uint8Array(width * height * 3) : out.subarray(0, width * height * 3);
  const src = image.data;
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      const s = row + x * 3;
      const t = row + (width - 1 - x) * 3;
      data[t] = src[s];
      data[t + 1] = src[s + 1];
      data[t + 2] = src[s + 2];
    }
  }
  return { width, height, data };
}
