/**
 * The package's defaults, in one place: what `cer analyze`, the queue worker and the nodes use when
 * an option or setting is not given (detector, target, thresholds, rates, sessions). The method's
 * own constants (class orders, VD's 5 updates a second, A's 4 s windows, the published weights)
 * stay beside the code that implements them (docs/method.md).
 */
import type { SessionOptions } from './models/session';
import type { Rule } from './core/rules';
import type { OutputFormat } from './output';
import type { BlazeFaceVariant } from './vision/blazeface';
import type { DetectorChoice } from './vision/auto-detector';
import type { TargetPolicy } from './vision/target';

// Faces: the detector and the tracker

/** `--detector` and the face node: auto, the three BlazeFace models below working together. */
export const DEFAULT_DETECTOR: DetectorChoice = 'auto';
/**
 * What auto runs: front-128 on the whole frame (and on crops around the faces it follows), back-256
 * searching for faces too small for it, full-192 on tiles for distant ones (src/vision/auto-detector.ts).
 */
export const AUTO_DETECTOR_MODELS: { readonly front: BlazeFaceVariant; readonly search: BlazeFaceVariant; readonly tiles: BlazeFaceVariant } = {
  front: 'front-128',
  search: 'back-256',
  tiles: 'full-192',
};
/** The BlazeFace model a detector loads when none is named. */
export const DEFAULT_BLAZEFACE_VARIANT: BlazeFaceVariant = 'front-128';
/**
 * Default score threshold when neither the options nor the manifest give one. 0.5: a clear,
 * frontal face scores above 0.9 with either variant, background clutter that survives to the
 * NMS scores well below 0.5 (see the tests), and a lower bar than MediaPipe's 0.75 keeps faces that
 * turn or are partly covered, which matters more to a tracker than a rare spurious box.
 */
export const DEFAULT_FACE_SCORE_THRESHOLD = 0.5;
/** Default IoU above which candidates are merged (MediaPipe's min_suppression_threshold 0.3). */
export const DEFAULT_NMS_IOU_THRESHOLD = 0.3;
/** Default IoU a detection needs with a tracklet's last box to continue it. */
export const DEFAULT_TRACK_IOU_THRESHOLD = 0.4;

// The target person (largest and longest-seen)

/** `--target` and the face node: the largest face is the target person. */
export const DEFAULT_TARGET_POLICY: TargetPolicy = 'largest';
/** Default minimum score for a detection to become the target (below it: never the target). */
export const DEFAULT_MIN_TARGET_SCORE = 0.6;
/** Default time a track must be seen with confident detections before it is a candidate. */
export const DEFAULT_CANDIDATE_SECONDS = 0.1;
/** Default time another candidate must be clearly better than the target before it takes over. */
export const DEFAULT_SWITCH_SECONDS = 0.5;
/** Default factor by which another candidate's box area must exceed the target's (`largest`). */
export const DEFAULT_SWITCH_AREA_RATIO = 1.2;
/** Default detection gap a track survives (TargetSelector's companion: IouTracker's maxMissedFrames). */
export const DEFAULT_TRACK_GAP_SECONDS = 0.2;

// Static visual model (VS)

/**
 * Roll alignment by the eye keypoints: off by default. On the FER2013 development faces it cost the
 * bundled model 4.8 points of accuracy at its 10 % margin (52.9 % → 48.1 %; the warp without the
 * turn gives 52.9 % again), and the RAVDESS clip reads Neutral either way: a model trained on faces
 * that were not turned upright gains nothing from turning them (`npm run bench:accuracy`).
 */
export const DEFAULT_VS_ALIGN = false;
/**
 * Flip averaging: off by default. It moved the bundled model's FER2013 accuracy by +1.5 points at
 * margin 0 but not at all at its 10 % margin (52.9 % both), for twice the VS cost.
 */
export const DEFAULT_VS_FLIP = false;

// Voice activity, the mouth-open cue and the acoustic model (A)

/** A frame is speech when its probability is at least this (silero-vad's default threshold). */
export const DEFAULT_SPEECH_THRESHOLD = 0.5;
/**
 * Gap (inner-lip gap / outer-eye-corner distance) above which the mouth counts as open: 0.05,
 * i.e. lips apart by 5 % of the outer-eye-corner distance (about 4–5 mm on an adult face, whose
 * outer canthi are about 90 mm apart).
 *
 * Calibrated on the RAVDESS clip 01-01-01-01-01-01-01 (actor 1, "Kids are talking by the door",
 * front-128 BlazeFace boxes, 98 frames): with the lips closed (silent lead-in, t < 0.8 s) the mesh
 * leaves a residual gap of 0.016–0.022 (median 0.018), and 0.006–0.010 with the lips pressed after
 * the sentence (t > 2.4 s); while speaking (sound from 0.86 to 2.25 s by ffmpeg silencedetect at
 * -45 dB) the gap is 0.035–0.045 with the lips just parted and 0.06–0.12 on open vowels (median
 * 0.046), dropping to 0.02 on the closure of "by". 0.05 is more than twice the largest closed value,
 * so a closed mouth is not called open, and it is passed by the open-vowel frames (45 % of the
 * frames of the spoken interval). It measures lip separation, not speech: a broad smile with parted
 * lips (the astronaut photo, teeth showing: gap 0.10) is open too.
 */
export const DEFAULT_MOUTH_OPEN_THRESHOLD = 0.05;
/**
 * Face-presence score (the mesh model's sigmoid output) below which the mesh is not trusted and
 * `open` is false (@vladmandic/human drops meshes below its face.detector.minConfidence, 0.2).
 */
export const DEFAULT_MOUTH_MIN_FACE_SCORE = 0.2;
/** Windows run in one model call at most, by default. */
export const DEFAULT_ACOUSTIC_MAX_BATCH = 8;

// Rates

/** Default chunk length in seconds. */
export const DEFAULT_AUDIO_CHUNK_SECONDS = 0.5;
/** Mouth-open measurements per second by default (see PipelineOptions.mouthCueEvery). */
export const MOUTH_CUE_RATE = 10;
/** Seconds of results that may wait for the audio side (A lags by its 4 s windows and its batches). */
export const MAX_PENDING_SECONDS = 12;
/** Results per second for an input without video (speech and A only). */
export const AUDIO_ONLY_FPS = 25;

// Results

/** `--format`: the JSON results. */
export const DEFAULT_FORMATS: readonly OutputFormat[] = ['json'];
/** `--rule` and the rules node: rule-free, the paper's best on C-EXPR-DB (docs/method.md §2). */
export const DEFAULT_RULE: Rule = 'none';

// Model sessions

/** `--provider`: onnxruntime's CPU execution provider. */
export const DEFAULT_PROVIDERS: readonly string[] = ['cpu'];

/** Session options of a node without a model config: those of `cer analyze` (cpu, one thread per model). */
export const DEFAULT_SESSION_OPTIONS: SessionOptions = { executionProviders: [...DEFAULT_PROVIDERS], intraOpNumThreads: 1 };

// The Redis queue (cer queue, cer worker, the queue node)

/** The queue `cer queue` and `cer worker` use unless told another (`--queue`). */
export const DEFAULT_QUEUE = 'cer-analyze';
/** Tries per job (the first and the retries) unless told otherwise. */
export const DEFAULT_ATTEMPTS = 3;
/** First retry delay (ms); each further retry waits twice as long (BullMQ exponential backoff). */
export const DEFAULT_BACKOFF_MS = 10_000;
/**
 * A job's lock (ms; a dead worker's job is free again after it), how often workers look for such
 * jobs (ms), and how many times a job may lose its worker before it is failed. BullMQ's own are
 * 30 s, 30 s and 1.
 */
export const DEFAULT_STALL: { readonly lockDuration: number; readonly stalledInterval: number; readonly maxStalledCount: number } = {
  lockDuration: 30_000,
  stalledInterval: 30_000,
  maxStalledCount: 2,
};
