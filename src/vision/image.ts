/**
 * Image operations on 8-bit RGB frames: crop, resize (nearest, bilinear), letterbox, and
 * conversion to a normalised float tensor for a model. Pure TypeScript on typed arrays; the hot
 * loops allocate nothing per pixel, and every function takes optional output buffers so a caller
 * can reuse them frame after frame.
 */
import type { RgbImage } from '../media/types';
import {
  DEFAULT_GRAY_WEIGHTS,
  type ImageLayout,
  type ImagePreprocessing,
  type Interpolation,
} from '../models/manifest';
import type { Box } from './types';

/**
 * Where a frame's content lies in a resized (stretched or letterboxed) image, so that points and
 * boxes can be mapped back: frameX = (x - padX) / scaleX, frameY = (y - padY) / scaleY.
 */
export interface ResizeMapping {
  readonly srcWidth: number;
  readonly srcHeight: number;
  readonly dstWidth: number;
  readonly dstHeight: number;
  /** Output pixels per frame pixel, horizontally and vertically (equal up to rounding for letterbox). */
  readonly scaleX: number;
  readonly scaleY: number;
  /** Left and top offset of the content in the output, in output pixels. */
  readonly padX: number;
  readonly padY: number;
  /** Size of the content region in the output, in output pixels. */
  readonly contentWidth: number;
  readonly contentHeight: number;
}

/** The colour and value conversion of toTensor (a subset of the manifest's preprocessing). */
export type TensorConversion = Pick<ImagePreprocessing, 'colour' | 'grayWeights' | 'scale' | 'mean' | 'std'>;

function checkImage(image: RgbImage): void {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`image size ${width}x${height} is not a positive whole size`);
  }
  if (data.length < width * height * 3) {
    throw new RangeError(`image data has ${data.length} bytes, ${width}x${height} RGB needs ${width * height * 3}`);
  }
}

function checkSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`target size ${width}x${height} is not a positive whole size`);
  }
}

/** `out` cut to `length`, or a new array when absent; throws when `out` is too small. */
function outBytes(out: Uint8Array | undefined, length: number): Uint8Array {
  if (out === undefined) return new Uint8Array(length);
  if (out.length < length) throw new RangeError(`output buffer has ${out.length} bytes, ${length} needed`);
  return out.length === length ? out : out.subarray(0, length);
}

/** A box clipped to a width x height frame (may become empty: x2 <= x1 or y2 <= y1). */
export function clipBox(box: Readonly<Box>, width: number, height: number): Box {
  const clamp = (v: number, hi: number): number => (v < 0 ? 0 : v > hi ? hi : v);
  return [clamp(box[0], width), clamp(box[1], height), clamp(box[2], width), clamp(box[3], height)];
}

/**
 * The part of `image` inside `box`, clipped to the frame; fractional edges are widened to whole
 * pixels (floor of x1/y1, ceil of x2/y2). Throws a RangeError when nothing of the box is inside.
 */
export function cropImage(image: RgbImage, box: Readonly<Box>, out?: Uint8Array): RgbImage {
  checkImage(image);
  const c = clipBox(box, image.width, image.height);
  const x1 = Math.floor(c[0]);
  const y1 = Math.floor(c[1]);
  const x2 = Math.ceil(c[2]);
  const y2 = Math.ceil(c[3]);
  const width = x2 - x1;
  const height = y2 - y1;
  if (!(width > 0 && height > 0)) {
    throw new RangeError(`crop box [${box.join(', ')}] lies outside the ${image.width}x${image.height} frame`);
  }
  const data = outBytes(out, width * height * 3);
  const rowBytes = width * 3;
  const srcStride = image.width * 3;
  for (let y = 0; y < height; y++) {
    const from = (y1 + y) * srcStride + x1 * 3;
    data.set(image.data.subarray(from, from + rowBytes), y * rowBytes);
  }
  return { width, height, data };
}

/**
 * Resamples the whole of `src` into the rectangle (rx, ry, rw, rh) of `dst` (dstWidth pixels a row).
 * Bilinear follows OpenCV's INTER_LINEAR (pixel centres aligned, edge pixels repeated, no
 * anti-aliasing); nearest takes the source pixel under each output pixel's centre.
 */
function resampleInto(
  src: RgbImage,
  dst: Uint8Array,
  dstWidth: number,
  rx: number,
  ry: number,
  rw: number,
  rh: number,
  interpolation: Interpolation,
): void {
  const sw = src.width;
  const sh = src.height;
  const s = src.data;
  const srcStride = sw * 3;
  const dstStride = dstWidth * 3;
  const fx = sw / rw;
  const fy = sh / rh;

  if (interpolation === 'nearest') {
    const xs = new Int32Array(rw);
    for (let x = 0; x < rw; x++) xs[x] = Math.min(Math.floor((x + 0.5) * fx), sw - 1) * 3;
    for (let y = 0; y < rh; y++) {
      const sy = Math.min(Math.floor((y + 0.5) * fy), sh - 1);
      const srow = sy * srcStride;
      let d = (ry + y) * dstStride + rx * 3;
      for (let x = 0; x < rw; x++) {
        const p = srow + xs[x];
        dst[d++] = s[p];
        dst[d++] = s[p + 1];
        dst[d++] = s[p + 2];
      }
    }
    return;
  }

  // Bilinear: per-column source offsets and weights, computed once.
  const x0s = new Int32Array(rw);
  const x1s = new Int32Array(rw);
  const wxs = new Float32Array(rw);
  for (let x = 0; x < rw; x++) {
    let sx = (x + 0.5) * fx - 0.5;
    if (sx < 0) sx = 0;
    const x0 = Math.min(Math.floor(sx), sw - 1);
    x0s[x] = x0 * 3;
    x1s[x] = Math.min(x0 + 1, sw - 1) * 3;
    wxs[x] = Math.min(sx - x0, 1);
  }
  for (let y = 0; y < rh; y++) {
    let sy = (y + 0.5) * fy - 0.5;
    if (sy < 0) sy = 0;
    const y0 = Math.min(Math.floor(sy), sh - 1);
    const y1 = Math.min(y0 + 1, sh - 1);
    const wy = Math.min(sy - y0, 1);
    const r0 = y0 * srcStride;
    const r1 = y1 * srcStride;
    let d = (ry + y) * dstStride + rx * 3;
    for (let x = 0; x < rw; x++) {
      const a = r0 + x0s[x];
      const b = r0 + x1s[x];
      const c = r1 + x0s[x];
      const e = r1 + x1s[x];
      const wx = wxs[x];
      for (let k = 0; k < 3; k++) {
        const top = s[a + k] + (s[b + k] - s[a + k]) * wx;
        const bottom = s[c + k] + (s[e + k] - s[c + k]) * wx;
        dst[d++] = (top + (bottom - top) * wy + 0.5) | 0;
      }
    }
  }
}

/** `image` resized to width x height (aspect ratio not kept). */
export function resizeImage(
  image: RgbImage,
  width: number,
  height: number,
  interpolation: Interpolation = 'bilinear',
  out?: Uint8Array,
): RgbImage {
  checkImage(image);
  checkSize(width, height);
  const data = outBytes(out, width * height * 3);
  if (width === image.width && height === image.height) {
    data.set(image.data.subarray(0, data.length));
  } else {
    resampleInto(image, data, width, 0, 0, width, height, interpolation);
  }
  return { width, height, data };
}

/** The mapping of a stretch of srcWidth x srcHeight onto dstWidth x dstHeight. */
export function stretchMapping(srcWidth: number, srcHeight: number, dstWidth: number, dstHeight: number): ResizeMapping {
  return {
    srcWidth,
    srcHeight,
    dstWidth,
    dstHeight,
    scaleX: dstWidth / srcWidth,
    scaleY: dstHeight / srcHeight,
    padX: 0,
    padY: 0,
    contentWidth: dstWidth,
    contentHeight: dstHeight,
  };
}

/**
 * The mapping of a letterbox of srcWidth x srcHeight into dstWidth x dstHeight: scaled to fit with
 * its aspect ratio kept, content rounded to whole pixels and centred (whole-pixel padding).
 */
export function letterboxMapping(srcWidth: number, srcHeight: number, dstWidth: number, dstHeight: number): ResizeMapping {
  const scale = Math.min(dstWidth / srcWidth, dstHeight / srcHeight);
  const contentWidth = Math.max(1, Math.min(dstWidth, Math.round(srcWidth * scale)));
  const contentHeight = Math.max(1, Math.min(dstHeight, Math.round(srcHeight * scale)));
  return {
    srcWidth,
    srcHeight,
    dstWidth,
    dstHeight,
    scaleX: contentWidth / srcWidth,
    scaleY: contentHeight / srcHeight,
    padX: Math.floor((dstWidth - contentWidth) / 2),
    padY: Math.floor((dstHeight - contentHeight) / 2),
    contentWidth,
    contentHeight,
  };
}

export interface LetterboxOptions {
  readonly interpolation?: Interpolation;
  /** Colour of the padding, [r, g, b]; default black. */
  readonly pad?: readonly [number, number, number];
  /** Output buffer to reuse (width * height * 3 bytes or more). */
  readonly out?: Uint8Array;
}

/** `image` scaled to fit width x height with its aspect ratio kept, centred, the rest padded. */
export function letterboxImage(
  image: RgbImage,
  width: number,
  height: number,
  options: LetterboxOptions = {},
): { image: RgbImage; mapping: ResizeMapping } {
  checkImage(image);
  checkSize(width, height);
  const mapping = letterboxMapping(image.width, image.height, width, height);
  const data = outBytes(options.out, width * height * 3);
  const [pr, pg, pb] = options.pad ?? [0, 0, 0];
  if (pr === pg && pg === pb) {
    data.fill(pr);
  } else {
    for (let i = 0; i < data.length; i += 3) {
      data[i] = pr;
      data[i + 1] = pg;
      data[i + 2] = pb;
    }
  }
  resampleInto(
    image, data, width,
    mapping.padX, mapping.padY, mapping.contentWidth, mapping.contentHeight,
    options.interpolation ?? 'bilinear',
  );
  return { image: { width, height, data }, mapping };
}

/** A point in resized-image pixels mapped back to frame pixels. */
export function mapPointToFrame(mapping: ResizeMapping, x: number, y: number): [number, number] {
  return [(x - mapping.padX) / mapping.scaleX, (y - mapping.padY) / mapping.scaleY];
}

/** A box in resized-image pixels mapped back to frame pixels (not clipped). */
export function mapBoxToFrame(mapping: ResizeMapping, box: Readonly<Box>): Box {
  const [x1, y1] = mapPointToFrame(mapping, box[0], box[1]);
  const [x2, y2] = mapPointToFrame(mapping, box[2], box[3]);
  return [x1, y1, x2, y2];
}

/** Number of channels a colour order gives. */
export function channelCount(colour: TensorConversion['colour']): number {
  return colour === 'gray' ? 1 : 3;
}

/**
 * The image as a float tensor of one batch item, [1, C, H, W] (NCHW) or [1, H, W, C] (NHWC), with
 * value = (pixel * scale - mean[c]) / std[c] in the given colour order; gray is the weighted sum of
 * r, g, b (grayWeights, default BT.601) before scaling. Written at `offset` in `out` when given
 * (so several images can fill one batch), else into a new array.
 */
export function toTensor(
  image: RgbImage,
  conversion: TensorConversion,
  layout: ImageLayout,
  out?: Float32Array,
  offset = 0,
): Float32Array {
  checkImage(image);
  const { width, height, data } = image;
  const channels = channelCount(conversion.colour);
  const n = width * height;
  const length = n * channels;
  if (conversion.mean.length !== channels || conversion.std.length !== channels) {
    throw new RangeError(`mean and std need ${channels} value(s) for colour ${conversion.colour}`);
  }
  const tensor = out ?? new Float32Array(offset + length);
  if (tensor.length < offset + length) {
    throw new RangeError(`tensor buffer has ${tensor.length} values, ${offset + length} needed`);
  }
  const scale = conversion.scale;
  const nchw = layout === 'NCHW';

  if (channels === 1) {
    const [wr, wg, wb] = conversion.grayWeights ?? DEFAULT_GRAY_WEIGHTS;
    const a = scale / conversion.std[0];
    const b = -conversion.mean[0] / conversion.std[0];
    for (let i = 0, p = 0; i < n; i++, p += 3) {
      tensor[offset + i] = (wr * data[p] + wg * data[p + 1] + wb * data[p + 2]) * a + b;
    }
    return tensor;
  }

  // Tensor channel k takes image channel order[k]; a lookup table per channel does the maths.
  const order = conversion.colour === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  const lut = new Float32Array(768);
  for (let k = 0; k < 3; k++) {
    const a = scale / conversion.std[k];
    const b = -conversion.mean[k] / conversion.std[k];
    for (let v = 0; v < 256; v++) lut[k * 256 + v] = v * a + b;
  }
  const [c0, c1, c2] = order;
  if (nchw) {
    const p1 = offset + n;
    const p2 = offset + 2 * n;
    for (let i = 0, p = 0; i < n; i++, p += 3) {
      tensor[offset + i] = lut[data[p + c0]];
      tensor[p1 + i] = lut[256 + data[p + c1]];
      tensor[p2 + i] = lut[512 + data[p + c2]];
    }
  } else {
    for (let i = 0, p = 0, t = offset; i < n; i++, p += 3, t += 3) {
      tensor[t] = lut[data[p + c0]];
      tensor[t + 1] = lut[256 + data[p + c1]];
      tensor[t + 2] = lut[512 + data[p + c2]];
    }
  }
  return tensor;
}

export interface PreprocessBuffers {
  /** Reused for the resized image (size[0] * size[1] * 3 bytes). */
  readonly scratch?: Uint8Array;
  /** Reused for the tensor. */
  readonly tensor?: Float32Array;
  /** Where in `tensor` to write (for batches). */
  readonly offset?: number;
}

/**
 * A frame prepared for a model as its manifest says: stretched or letterboxed to `size` with the
 * given interpolation, then converted by toTensor. Returns the tensor and the mapping back to frame
 * pixels.
 */
export function preprocessImage(
  image: RgbImage,
  preprocessing: ImagePreprocessing,
  layout: ImageLayout,
  buffers: PreprocessBuffers = {},
): { tensor: Float32Array; mapping: ResizeMapping } {
  const [width, height] = preprocessing.size;
  let resized: RgbImage;
  let mapping: ResizeMapping;
  if (preprocessing.resize === 'letterbox') {
    ({ image: resized, mapping } = letterboxImage(image, width, height, {
      interpolation: preprocessing.interpolation,
      out: buffers.scratch,
    }));
  } else {
    resized = resizeImage(image, width, height, preprocessing.interpolation, buffers.scratch);
    mapping = stretchMapping(image.width, image.height, width, height);
  }
  const tensor = toTensor(resized, preprocessing, layout, buffers.tensor, buffers.offset ?? 0);
  return { tensor, mapping };
}
