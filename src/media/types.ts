/** An 8-bit RGB image, rows top to bottom, 3 bytes per pixel, no padding. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** One decoded video frame. */
export interface VideoFrame extends RgbImage {
  /** 0-based index among the decoded frames. */
  readonly index: number;
  /** Presentation time in seconds from the start of the stream. */
  readonly t: number;
}

/** An exact frame rate, e.g. 30000/1001 for 29.97 fps. */
export interface FrameRate {
  readonly num: number;
  readonly den: number;
}

export function frameRateValue(rate: FrameRate): number {
  return rate.num / rate.den;
}
