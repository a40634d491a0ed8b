/**
 * Still images (JPEG, PNG, WebP files) read in-process with sharp (libvips) instead of an ffprobe
 * and an ffmpeg process each: a folder of face images then costs a decode, not two process starts.
 *
 * The pixels agree with what the ffmpeg path gives (decodeFrames with `stillDecoder: 'ffmpeg'`):
 *  - alpha is dropped, not composited (ffmpeg's rgba → rgb24 does the same); grey and palette
 *    images are expanded to RGB; 16-bit PNGs are scaled to 8 bits;
 *  - an embedded ICC profile is ignored, as ffmpeg ignores it (and as video frames have none);
 *  - PNG: byte for byte the same; JPEG: the same up to the decoders' IDCT rounding (a few levels
 *    on a fraction of a per cent of the samples) and, for 4:2:0 chroma, libjpeg's smooth chroma
 *    upsampling where ffmpeg's scaler interpolates otherwise (mean difference below half a level);
 *  - the EXIF Orientation is applied (the picture is upright, as every viewer shows it); the
 *    ffmpeg builds in use (5.x, the static 4.x) ignore it.
 * Anything else (GIF, BMP, TIFF, a file sharp cannot read) still goes to ffprobe and ffmpeg.
 */
import * as fs from 'node:fs';
import type { Sharp, SharpOptions } from 'sharp';
import { MediaError } from './errors';
import type { MediaInfo, VideoFrame, VideoStreamInfo } from './types';

/** Which program decodes a still JPEG/PNG/WebP file: sharp in-process (default) or ffmpeg. */
export type StillDecoder = 'sharp' | 'ffmpeg';

/** The default decoder for still images: `CER_STILL_DECODER=ffmpeg` selects the ffmpeg path (for comparisons). */
export function defaultStillDecoder(): StillDecoder {
  return process.env.CER_STILL_DECODER === 'ffmpeg' ? 'ffmpeg' : 'sharp';
}

type SharpConstructor = typeof import('sharp').default;
let sharpLoading: Promise<SharpConstructor> | null = null;

/** sharp, loaded on first use (its native libraries cost tens of ms to load; a run on videos never needs them). */
export function loadSharp(): Promise<SharpConstructor> {
  sharpLoading ??= import('sharp').then((m) => m.default);
  return sharpLoading;
}

/** The still formats read with sharp, by their first bytes. */
export type StillFormat = 'jpeg' | 'png' | 'webp';

/** The format of a JPEG, PNG or WebP file from its first 12 bytes; null for anything else. */
export async function sniffStillFormat(file: string): Promise<StillFormat | null> {
  const head = Buffer.alloc(12);
  let read = 0;
  const handle = await fs.promises.open(file, 'r');
  try {
    read = (await handle.read(head, 0, head.length, 0)).bytesRead;
  } finally {
    await handle.close();
  }
  if (read >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (read >= 8 && head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (read >= 12 && head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  return null;
}

/** ffprobe's names for the same formats, so that MediaInfo reads alike whichever program probed. */
const FORMAT_NAMES: Readonly<Record<StillFormat, { format: string; codec: string }>> = {
  jpeg: { format: 'jpeg_pipe', codec: 'mjpeg' },
  png: { format: 'png_pipe', codec: 'png' },
  webp: { format: 'webp_pipe', codec: 'webp' },
};

/** Clockwise turn of each EXIF Orientation (2, 4, 5, 7 also mirror). */
function orientationRotation(orientation: number | undefined): 0 | 90 | 180 | 270 {
  switch (orientation) {
    case 3:
    case 4:
      return 180;
    case 5:
    case 6:
      return 90;
    case 7:
    case 8:
      return 270;
    default:
      return 0;
  }
}

const SHARP_INPUT: SharpOptions = { ignoreIcc: true, sequentialRead: true };

/**
 * MediaInfo of a still JPEG/PNG/WebP file from its header (sharp's metadata), marked
 * `decoder: 'sharp'`; width and height are the upright ones. Throws what sharp throws (the caller
 * then asks ffprobe, whose errors are the media layer's usual ones).
 */
export async function probeStill(input: string, file: string, format: StillFormat): Promise<MediaInfo> {
  const meta = await (await loadSharp())(file, SHARP_INPUT).metadata();
  const codedWidth = meta.width ?? 0;
  const codedHeight = meta.height ?? 0;
  if (codedWidth <= 0 || codedHeight <= 0) throw new Error('no image size in the header');
  const rotation = orientationRotation(meta.orientation);
  const swap = rotation === 90 || rotation === 270;
  const names = FORMAT_NAMES[format];
  const video: VideoStreamInfo = {
    index: 0,
    codec: names.codec,
    pixelFormat: null,
    width: swap ? codedHeight : codedWidth,
    height: swap ? codedWidth : codedHeight,
    codedWidth,
    codedHeight,
    rotation,
    frameRate: null,
    avgFrameRate: null,
    realFrameRate: null,
    variableFrameRate: false,
    frameCount: 1,
    duration: null,
    startTime: null,
  };
  return {
    input,
    kind: 'image',
    formatName: names.format,
    duration: null,
    hasVideo: true,
    hasAudio: false,
    width: video.width,
    height: video.height,
    rotation,
    frameRate: null,
    videoCodec: video.codec,
    frameCount: 1,
    video,
    audio: null,
    decoder: 'sharp',
  };
}

/** The sharp pipeline from a still file to upright 8-bit RGB (see the module comment). */
async function rgbPipeline(file: string): Promise<Sharp> {
  return (await loadSharp())(file, SHARP_INPUT).autoOrient().removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' });
}

/**
 * Decodes a still file probed by probeStill into one RGB frame (index 0, t = 0), of the probed
 * size. The frame has its own memory (a plain Uint8Array, transferable to a worker like ffmpeg's).
 */
export async function decodeStill(input: string, file: string, info: MediaInfo): Promise<VideoFrame> {
  let decoded: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    decoded = await (await rgbPipeline(file)).toBuffer({ resolveWithObject: true });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new MediaError('DECODE_FAILED', input, `decoding the image failed, the file is truncated or corrupt: ${message}`, { cause: err });
  }
  const { width, height, channels } = decoded.info;
  if (channels !== 3 || width !== info.width || height !== info.height) {
    throw new MediaError('DECODE_FAILED', input, `the image decoded as ${width}x${height}x${channels}, not the probed ${info.width}x${info.height} RGB`);
  }
  return { index: 0, t: 0, width, height, data: new Uint8Array(decoded.data) };
}
