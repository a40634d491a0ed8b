/** Why a media operation failed; stable for callers that branch on it. */
export type MediaErrorCode =
  | 'NO_SUCH_FILE'
  | 'NOT_A_FILE'
  | 'UNREADABLE'
  | 'EMPTY_FILE'
  | 'NOT_MEDIA'
  | 'NO_VIDEO'
  | 'NO_AUDIO'
  | 'LIVE_NOT_ALLOWED'
  | 'UNSUPPORTED_INPUT'
  | 'BINARY_NOT_FOUND'
  | 'PROBE_FAILED'
  | 'DECODE_FAILED'
  | 'TIMEOUT'
  | 'ABORTED';

/**
 * An error from the media layer. The message is one line and complete on its own: it starts with
 * the input it is about (when there is one) and says what is wrong, e.g.
 * `clip.mp4: not a media file ffprobe can read (Invalid data found when processing input)`.
 * Aborts use the name 'AbortError', as Node's own APIs do.
 */
export class MediaError extends Error {
  readonly code: MediaErrorCode;
  /** The input as the caller gave it; null for errors about the environment (e.g. no ffmpeg). */
  readonly input: string | null;

  constructor(code: MediaErrorCode, input: string | null, detail: string, options?: { cause?: unknown }) {
    const text = toOneLine(detail);
    super(input === null ? text : `${input}: ${text}`, options);
    this.name = code === 'ABORTED' ? 'AbortError' : 'MediaError';
    this.code = code;
    this.input = input;
  }
}

/** Collapses line breaks and runs of blanks so a message fits on one line. */
export function toOneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').replace(/[ \t]{2,}/g, ' ').trim();
}
