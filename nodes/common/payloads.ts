/** Checks of incoming payloads (clear messages for wrong wiring), and small helpers on them. */
import { COMPOUND_NAMES, NUM_COMPOUND } from '../../src/core';
import type { AudioPayload, FacePayload, FramePayload, ProbsPayload, RankedCompound } from '../../src/contract/messages';
import type { TargetPolicy } from '../../src/vision/target';

/** A frame payload, checked enough to fail with a clear message. */
export function asFrame(payload: unknown): FramePayload {
  const p = payload as Partial<FramePayload> | null;
  if (typeof p !== 'object' || p === null || p.type !== 'frame') {
    throw new Error('expected a frame from the media splitter (msg.payload.type "frame")');
  }
  if (!(p.data instanceof Uint8Array) || !Number.isInteger(p.width) || !Number.isInteger(p.height) || p.data.length < (p.width as number) * (p.height as number) * 3) {
    throw new Error('msg.payload is not an RGB frame (width, height and data of width×height×3 bytes)');
  }
  if (typeof p.stream !== 'string' || !Number.isInteger(p.frame) || typeof p.fps !== 'number') throw new Error('msg.payload lacks stream, frame or fps');
  return p as FramePayload;
}

/** A face payload, checked enough to fail with a clear message. */
export function asFace(payload: unknown): FacePayload {
  const p = payload as Partial<FacePayload> | null;
  if (typeof p !== 'object' || p === null || p.type !== 'face') throw new Error('expected a face from the face detector (msg.payload.type "face")');
  if (typeof p.stream !== 'string' || !Number.isInteger(p.frame) || typeof p.fps !== 'number' || !Array.isArray(p.tracks)) {
    throw new Error('msg.payload lacks stream, frame, fps or tracks');
  }
  if (p.face !== null && !(p.crop && p.crop.data instanceof Uint8Array && p.crop.data.length >= p.crop.width * p.crop.height * 3)) {
    throw new Error('msg.payload.crop is not an RGB image');
  }
  return p as FacePayload;
}

/** A VS probability payload, checked enough to fail with a clear message. */
export function asVsProbs(payload: unknown): ProbsPayload & { readonly policy: TargetPolicy; readonly tracks: number[] } {
  const p = payload as Partial<ProbsPayload> | null;
  if (typeof p !== 'object' || p === null || p.type !== 'probs' || p.modality !== 'vs') {
    throw new Error('expected VS probabilities from the static visual node (msg.payload.type "probs", modality "vs")');
  }
  if (typeof p.stream !== 'string' || !Number.isInteger(p.frame) || typeof p.fps !== 'number' || !Array.isArray(p.tracks)) {
    throw new Error('msg.payload lacks stream, frame, fps or tracks');
  }
  if (typeof p.policy !== 'string') throw new Error('msg.payload lacks the target policy');
  if (p.face !== null && !(Array.isArray(p.probs) && p.probs.length === 7)) throw new Error('msg.payload.probs must hold 7 numbers for a frame with a face');
  return p as ProbsPayload & { readonly policy: TargetPolicy; readonly tracks: number[] };
}

/** An audio payload, checked enough to fail with a clear message. */
export function asAudio(payload: unknown): AudioPayload {
  const p = payload as Partial<AudioPayload> | null;
  if (typeof p !== 'object' || p === null || p.type !== 'audio' || !(p.samples instanceof Float32Array)) {
    throw new Error('expected an audio chunk from the media splitter (msg.payload.type "audio" with Float32Array samples)');
  }
  if (typeof p.stream !== 'string' || typeof p.start !== 'number' || !Number.isInteger(p.sampleIndex)) throw new Error('msg.payload lacks stream, start or sampleIndex');
  return p as AudioPayload;
}

/** The k best compound expressions, best first (ties in the canonical order). */
export function rankCompounds(scores: ArrayLike<number>, k: number): RankedCompound[] {
  const order = Array.from({ length: NUM_COMPOUND }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  return order.slice(0, Math.max(0, Math.min(k, NUM_COMPOUND))).map((i) => ({ label: COMPOUND_NAMES[i], index: i, score: scores[i] }));
}
