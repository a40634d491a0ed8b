/**
 * Small JPEG pictures of face crops, for a dashboard to show whose face is being read. Encoded
 * with sharp (libvips) in its own thread pool: the calling thread only waits.
 */
import { loadSharp } from '../media/still';
import type { RgbImage } from '../media/types';

/** The face detector's thumbnails by default: the longest side in pixels (0: none). */
export const DEFAULT_THUMBNAIL_SIZE = 96;
/** JPEG quality of the thumbnails. */
export const THUMBNAIL_QUALITY = 80;

export interface Thumbnail {
  /** The JPEG file's bytes. */
  readonly jpeg: Buffer;
  readonly width: number;
  readonly height: number;
}

/**
 * `image` (a face crop) scaled so that its longest side is `size` pixels (up or down; aspect
 * kept), as a baseline JPEG.
 */
export async function jpegThumbnail(image: RgbImage, size: number = DEFAULT_THUMBNAIL_SIZE, quality: number = THUMBNAIL_QUALITY): Promise<Thumbnail> {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`thumbnail size must be a whole number of pixels, not ${size}`);
  if (image.width < 1 || image.height < 1) throw new RangeError(`cannot make a thumbnail of a ${image.width}x${image.height} image`);
  const sharp = await loadSharp();
  const { data, info } = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(size, size, { fit: 'inside' })
    .jpeg({ quality })
    .toBuffer({ resolveWithObject: true });
  return { jpeg: data, width: info.width, height: info.height };
}

/** A JPEG as a `data:` URL: an `<img src>` takes it as it is (a Dashboard ui-template, a browser). */
export function jpegDataUrl(jpeg: Uint8Array): string {
  return `data:image/jpeg;base64,${Buffer.from(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength).toString('base64')}`;
}
