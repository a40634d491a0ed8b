/**
 * For code that drives ffmpeg through fluent-ffmpeg: points it at the same binaries the media layer
 * uses. (The media layer itself spawns ffmpeg directly: frame decoding needs a third output pipe
 * for per-frame timestamps, which fluent-ffmpeg cannot open, and a kill that can be awaited.)
 */
import ffmpegCommand from 'fluent-ffmpeg';
import { resolveFfmpeg, resolveFfprobe, type ResolveBinaryOptions, type ResolvedBinary } from './binaries';

export interface FluentBinaries {
  readonly ffmpeg: ResolvedBinary;
  /** null when no ffprobe was found (fluent-ffmpeg's ffprobe() will then fail). */
  readonly ffprobe: ResolvedBinary | null;
}

/** Sets fluent-ffmpeg's ffmpeg and ffprobe paths from resolveFfmpeg / resolveFfprobe; returns what it chose. */
export function configureFluentFfmpeg(options: ResolveBinaryOptions = {}): FluentBinaries {
  const ffmpeg = resolveFfmpeg(options);
  ffmpegCommand.setFfmpegPath(ffmpeg.path);
  let ffprobe: ResolvedBinary | null = null;
  try {
    ffprobe = resolveFfprobe(options);
    ffmpegCommand.setFfprobePath(ffprobe.path);
  } catch {
    ffprobe = null;
  }
  return { ffmpeg, ffprobe };
}
