/**
 * The messages the Node-RED nodes of this package read and write (docs/messages.md describes them
 * for people). Types only: no Node-RED import, so flows written in TypeScript (and the tests) can
 * use them too.
 *
 * Every payload names its stream: `stream` is unique per source run (one file played once, one
 * camera session), `source` is what was played. Within a stream, `frame` is the 0-based index of
 * the decoded video frame and `track` the face track (1-based; null when the frame has no face).
 *
 * Only the frame payload is large (a whole RGB frame); it travels on the single wire from the media
 * splitter to the face detector. Everything after the face detector is small (a face crop, vectors
 * of 7 numbers), so Node-RED's deep copy on an output wired to several nodes stays cheap.
 */
import type { FusionStrategy, PresetName } from '../core/fusion';
import type { Rule } from '../core/rules';
import type { TargetPolicy } from '../vision/target';

/** [x1, y1, x2, y2] in frame pixels, x2/y2 exclusive. */
export type BoxArray = [number, number, number, number];

/** Node type names of this package. */
export const NODE_TYPES = {
  models: 'cer-models',
  media: 'cer-media',
  faces: 'cer-faces',
  vs: 'cer-vs',
  vd: 'cer-vd',
  acoustic: 'cer-acoustic',
  fusion: 'cer-fusion',
  rules: 'cer-rules',
  fitWeights: 'cer-fit-weights',
} as const;
export type NodeTypeName = (typeof NODE_TYPES)[keyof typeof NODE_TYPES];

export type Modality = 'vs' | 'vd' | 'a';
export const MODALITIES: readonly Modality[] = ['vs', 'vd', 'a'];

/** What every payload of a stream carries. */
export interface StreamRef {
  /** Unique id of one source run, e.g. "cer-media:4f1c…:3". */
  readonly stream: string;
  /** The input as given (file path, URL or device). */
  readonly source: string;
}

/**
 * An 8-bit RGB image, rows top to bottom, 3 bytes per pixel. The nodes send `data` as a Node.js
 * Buffer (a Uint8Array): Node-RED's deep copy (lodash cloneDeep) shares a Buffer's memory at once,
 * where it copies any other typed array element by element (about a second for a 720p frame).
 * Treat it as read-only.
 */
export interface RgbPayloadImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** Media splitter, output 1: one decoded video frame. */
export interface FramePayload extends StreamRef, RgbPayloadImage {
  readonly type: 'frame';
  readonly frame: number;
  /** Presentation time in seconds. */
  readonly t: number;
  /** The stream's frame rate (25 when the container gives none), as VD's sampling needs it. */
  readonly fps: number;
}

/** Media splitter, output 2: a chunk of the audio track, 16 kHz mono. */
export interface AudioPayload extends StreamRef {
  readonly type: 'audio';
  /** Seconds from the start of the stream. */
  readonly start: number;
  /** Index of the first sample in the stream's audio. */
  readonly sampleIndex: number;
  readonly sampleRate: number;
  readonly samples: Float32Array;
  /** The video's frame rate, for mapping audio windows to frames (null when there is no video). */
  readonly fps: number | null;
  /** The same rate exactly, e.g. { num: 30000, den: 1001 } (null when there is no video or none is known). */
  readonly frameRate: { readonly num: number; readonly den: number } | null;
}

/** What the media splitter learnt about its input (part of the start event). */
export interface SourceInfo {
  readonly kind: 'video' | 'image' | 'audio';
  readonly width: number;
  readonly height: number;
  readonly fps: number | null;
  readonly frameRate: string | null;
  readonly frames: number | null;
  readonly duration: number | null;
  readonly hasAudio: boolean;
}

/** Media splitter, output 3: what happens to a source run. */
export type SourceEventPayload =
  | (StreamRef & { readonly type: 'start'; readonly info: SourceInfo })
  | (StreamRef & {
      readonly type: 'progress';
      readonly frame: number;
      /** 0..100, or null when the length is unknown (live input). */
      readonly percent: number | null;
      readonly fps: number;
    })
  | EndPayload
  | (StreamRef & { readonly type: 'error'; readonly message: string; readonly code?: string });

/**
 * The end of a stream, sent after its last data on every output of the splitter and forwarded by
 * every node after it drops its state for the stream. `modality` names the node that forwarded it
 * last (the fusion node waits for the end of each modality it joins). Reason `no-votes`: sent early
 * by a node that will give no votes for the stream (the acoustic node without a model), so a
 * fusion need not wait for it.
 */
export interface EndPayload extends StreamRef {
  readonly type: 'end';
  /** done: the input ended; stopped: a stop message or a redeploy ended it; error: it failed. */
  readonly reason: 'done' | 'stopped' | 'error' | 'no-votes';
  readonly frames: number;
  /** Seconds the run took. */
  readonly seconds: number;
  readonly modality?: Modality | 'faces' | 'fused' | 'compound';
}

export interface FaceInfo {
  /** Rounded to 1/1000 pixel, as `cer analyze` writes it. */
  readonly box: BoxArray;
  readonly score: number;
  readonly track: number;
  /** The model that found the face (`auto` combines several), as in `cer analyze`'s results. */
  readonly detector: string | null;
}

/** Face detector output: one per frame (no face, or the target face) or, with target `all`, one per face. */
export interface FacePayload extends StreamRef {
  readonly type: 'face';
  readonly frame: number;
  readonly t: number;
  readonly fps: number;
  readonly policy: TargetPolicy;
  /** Tracks of every target face in this frame (policy `all`: streams of absent tracks end). */
  readonly tracks: number[];
  readonly face: FaceInfo | null;
  /**
   * The face with the room around it that the VS crop may need (src/vision/align.ts
   * faceContextBox: the box widened by a quarter on each side and turned by the face's roll,
   * whole pixels, clipped to the frame), cut from the frame with cropImage.
   */
  readonly crop: RgbPayloadImage | null;
  /** The crop's place in the frame, whole pixels. */
  readonly cropBox: BoxArray | null;
  /**
   * The detector's exact box and keypoints (frame pixels, not rounded): VS cuts, widens and turns
   * its crop from `crop` with them exactly as `cer analyze` does from the frame. Absent (a face
   * payload made elsewhere): VS takes the whole crop as the face.
   */
  readonly detection?: FaceDetectionInfo | null;
}

/** A face as the detector found it, for VS's crop. */
export interface FaceDetectionInfo {
  readonly box: BoxArray;
  /** BlazeFace's six: right eye, left eye, nose tip, mouth, right ear, left ear; null when the detector gives none. */
  readonly keypoints: Array<[number, number]> | null;
}

/** A model's vote for one frame of one face stream (VS, VD) or one frame of a stream (A). */
export interface ProbsPayload extends StreamRef {
  readonly type: 'probs';
  readonly modality: Modality;
  readonly frame: number;
  readonly t: number;
  readonly fps: number;
  /** VS and VD: the face detector's target policy and the frame's target tracks (A: absent). */
  readonly policy?: TargetPolicy;
  readonly tracks?: number[];
  /** VS and VD: the face the vote is about (A: null, a vote for every face of the frame). */
  readonly face: FaceInfo | null;
  /** 7 probabilities, canonical order (Neutral, Anger, Disgust, Fear, Happiness, Sadness, Surprise); null = no vote. */
  readonly probs: number[] | null;
  /** VS only, where the model names a features output (a sequence-model VD needs it). */
  readonly features?: number[] | null;
  /** The model's id (e.g. vs-fer2013-minixception, temporal-smoothing). */
  readonly model: string;
}

export interface Votes {
  readonly vs: number[] | null;
  readonly vd: number[] | null;
  readonly a: number[] | null;
}

/** What the fusion and the rules say of one frame (and track): its votes and their fusion. */
interface FusedFrame extends StreamRef {
  readonly frame: number;
  readonly t: number;
  readonly track: number | null;
  readonly face: FaceInfo | null;
  readonly votes: Votes;
  /** Fused 7 scores (canonical order); null when no model voted. */
  readonly fused: number[] | null;
  /** Modalities that had not arrived when the fusion's latency bound ran out (their vote counted as missing). */
  readonly late: Modality[];
}

/** Fusion output: one per frame (and track). */
export interface FusedPayload extends FusedFrame {
  readonly type: 'fused';
  readonly strategy: FusionStrategy;
  readonly preset: PresetName | null;
}

export interface RankedCompound {
  readonly label: string;
  readonly index: number;
  readonly score: number;
}

/** Compound rules output: the frame's compound expression. */
export interface CompoundPayload extends FusedFrame {
  readonly type: 'compound';
  readonly rule: Rule;
  /** 7 scores in the canonical compound order (Fearfully Surprised … Sadly Angry); null without votes. */
  readonly compound: number[] | null;
  /** The same scores by name. */
  readonly scores: Record<string, number> | null;
  readonly label: string | null;
  readonly index: number | null;
  readonly topK: RankedCompound[];
}

/** Fit weights output: a fusion spec the fusion node takes as `msg.fusion`. */
export interface FittedFusionPayload {
  readonly type: 'fusion';
  readonly strategy: FusionStrategy;
  readonly weights: number[][];
  readonly modelWeights?: number[];
  readonly search: { readonly frames: number; readonly samples: number; readonly seed: number; readonly score: number; readonly metric: string; readonly models: Modality[] };
}

export type CerPayload =
  | FramePayload
  | AudioPayload
  | SourceEventPayload
  | FacePayload
  | ProbsPayload
  | FusedPayload
  | CompoundPayload
  | FittedFusionPayload;

/** A Node-RED message of this package (other message properties are kept as they come). */
export interface CerMessage<P = CerPayload> {
  _msgid?: string;
  topic?: string;
  payload: P;
  [property: string]: unknown;
}

export function isEndPayload(p: unknown): p is EndPayload {
  return typeof p === 'object' && p !== null && (p as { type?: unknown }).type === 'end' && typeof (p as { stream?: unknown }).stream === 'string';
}
