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

/** What a media input holds, as far as this project cares. */
export type MediaKind = 'video' | 'image' | 'audio';

/** The video stream of a probed input (the first one that is not cover art). */
export interface VideoStreamInfo {
  /** Absolute stream index in the container (as ffmpeg's `-map 0:N` expects). */
  readonly index: number;
  /** ffprobe's codec_name, e.g. 'h264', 'png'. */
  readonly codec: string;
  /** Pixel format as decoded, e.g. 'yuv420p'; null when ffprobe does not say. */
  readonly pixelFormat: string | null;
  /** Width and height as displayed, i.e. after rotation (what decoded frames have). */
  readonly width: number;
  readonly height: number;
  /** Width and height as stored in the stream, before rotation. */
  readonly codedWidth: number;
  readonly codedHeight: number;
  /** Clockwise degrees ffmpeg rotates the stored picture by to display it: 0, 90, 180 or 270. */
  readonly rotation: 0 | 90 | 180 | 270;
  /** The chosen frame rate (see probeMedia); null for still images or when unknown. */
  readonly frameRate: FrameRate | null;
  /** ffprobe's avg_frame_rate and r_frame_rate as given (null when 0/0 or absent). */
  readonly avgFrameRate: FrameRate | null;
  readonly realFrameRate: FrameRate | null;
  /** True when avg_frame_rate and r_frame_rate disagree by more than 1 % (likely variable frame rate). */
  readonly variableFrameRate: boolean;
  /** Frame count from the container header, when it has one (not counted by decoding). */
  readonly frameCount: number | null;
  /** Stream duration in seconds, when known. */
  readonly duration: number | null;
  /** Stream start time in seconds, when known. */
  readonly startTime: number | null;
}

/** The audio stream of a probed input (the first one). */
export interface AudioStreamInfo {
  readonly index: number;
  readonly codec: string;
  readonly sampleRate: number;
  readonly channels: number;
  /** e.g. 'stereo', 'mono'; null when ffprobe does not say. */
  readonly channelLayout: string | null;
  readonly duration: number | null;
}

/** What probeMedia learns about an input. */
export interface MediaInfo {
  /** The input as the caller gave it. */
  readonly input: string;
  readonly kind: MediaKind;
  /** ffprobe's format_name, e.g. 'mov,mp4,m4a,3gp,3g2,mj2', 'png_pipe'. */
  readonly formatName: string;
  /** Container duration in seconds (the longest stream); null when unknown (still images, live). */
  readonly duration: number | null;
  readonly hasVideo: boolean;
  readonly hasAudio: boolean;
  /** Shortcuts into `video` (0 / null when there is no video). */
  readonly width: number;
  readonly height: number;
  readonly rotation: 0 | 90 | 180 | 270;
  readonly frameRate: FrameRate | null;
  readonly videoCodec: string | null;
  /** Frame count from the header; 1 for still images; null when unknown. */
  readonly frameCount: number | null;
  readonly video: VideoStreamInfo | null;
  readonly audio: AudioStreamInfo | null;
  /**
   * Which program reads the pixels: 'sharp' for a still JPEG/PNG/WebP file probed in-process
   * (src/media/still.ts; ffprobe was not run); absent for ffmpeg.
   */
  readonly decoder?: 'sharp';
}
