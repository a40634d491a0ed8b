/**
 * From a video (or a still image) to compound expressions per frame: decode → faces (detect,
 * track, pick the target) → VS → VD → fusion → rule. The same code serves `cer analyze` and the
 * Node-RED nodes.
 */
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  argmax,
  COMPOUND_NAMES,
  compoundScoresInto,
  Fusion,
  FusionSpec,
  fuseFrameInto,
  modelsOfFusion,
  NUM_BASIC,
  NUM_COMPOUND,
  resolveFusion,
  Rule,
} from '../core';
import { resolveFfmpeg } from '../media/binaries';
import { InputError } from '../io/errors';
import { FrameDecoderThread } from '../media/frame-worker';
import { ffmpegFeatures } from '../media/frame-decoder';
import { probeMedia } from '../media/probe';
import { frameRateValue, type MediaInfo, type VideoFrame } from '../media/types';
import { ModelError } from '../models/errors';
import { DEFAULT_MODELS_DIR, listManifests, selectModels, type LoadedManifest, type ModelTask } from '../models/manifest';
import { acquireSession, type ModelSession, type SessionOptions } from '../models/session';
import { createVDStage, TEMPORAL_SMOOTHING_VD_ID, type VDStage } from '../stages/vd';
import { ACOUSTIC_OFF, ACOUSTIC_WINDOW_SAMPLES, NO_ACOUSTIC_MODEL, openAcousticModel, type AcousticModel } from '../stages/acoustic';
import { FaceStage } from '../stages/faces';
import { MouthOpenCue } from '../stages/mouth';
import { SileroVAD } from '../stages/vad';
import { AudioTrack } from './audio-track';
import { StreamVisualVotes, type VisualVotes } from '../stages/visual-stream';
import { StaticVisualStage, type VSCropOptions } from '../stages/vs';
import { MouthCueSchedule, resultFps, scheduleAudioOnly, scheduleFrames, type FrameStep } from './schedule';
import { summarizeResults, type AnalysisSummary } from './summary';
import { loadFaceDetector, type DetectorChoice, type FaceDetectorSource } from '../vision/auto-detector';
import type { TargetPolicy } from '../vision/target';
import { faceRecord, type FaceRecord, type TrackedFace } from '../vision/types';
import { AUDIO_ONLY_FPS, DEFAULT_DETECTOR, DEFAULT_RULE, DEFAULT_TARGET_POLICY } from '../defaults';

export interface PipelineOptions {
  /**
   * `default` (the package's models) or model folders and manifest files, comma-separated, earlier
   * ones first; a folder may hold one model per task. Tasks they lack come from the package's.
   */
  readonly models?: string;
  /**
   * Face detector when the models folder has none of its own: `auto` (default; near and distant
   * faces, src/vision/auto-detector.ts) or one BlazeFace variant.
   */
  readonly detector?: DetectorChoice;
  /** Fusion spec; default the paper's preset for the models present (paper-v for VS+VD). */
  readonly fusion?: FusionSpec;
  readonly rule?: Rule;
  readonly target?: TargetPolicy;
  /**
   * Targets largest and longest-seen: a detection scoring below this never becomes the target
   * (default 0.6, DEFAULT_MIN_TARGET_SCORE). Not used with target all or referenceCompat.
   */
  readonly minTargetScore?: number;
  /** Skip detection: the whole image is the face (pre-cropped face images). */
  readonly wholeFrameFace?: boolean;
  /** Reproduce the reference's quirks (integer fps for VD, repeated outputs on face-less frames, no A gating). */
  readonly referenceCompat?: boolean;
  /** Voice activity (Silero VAD) per frame; default on. */
  readonly vad?: boolean;
  /** The mouth-open cue (facemesh lip gap) per frame; default on. */
  readonly mouthCue?: boolean;
  /**
   * Measure the mouth every Nth frame and hold the value in between (per track); default: about 10
   * times a second (every 3rd frame at 30 fps), enough for syllables at 4–5 a second. The cue costs
   * as much as face detection; 1 measures every frame.
   */
  readonly mouthCueEvery?: number;
  /**
   * VS crops per model call (default 1). Results then wait for a batch: up to two batches of
   * frames. The paper's ResNet-50 runs a few per cent faster with 8.
   */
  readonly vsBatch?: number;
  /**
   * VS crop: roll alignment by the eye keypoints (default DEFAULT_VS_ALIGN), flip averaging
   * (default DEFAULT_VS_FLIP), margin (default the manifest's). referenceCompat cuts the reference's
   * crop whatever these say.
   */
  readonly vsCrop?: VSCropOptions;
  /** With an acoustic model: frames outside speech get no A vote; default on (off in referenceCompat). */
  readonly gateAcoustic?: boolean;
  /**
   * Run the acoustic model (the bundled one, or the one `models` names); default on. Off, A is null
   * on every frame and the default fusion is the visual preset (paper-v).
   */
  readonly acoustic?: boolean;
  readonly session?: SessionOptions;
}

/** A face as a frame result holds it (src/vision/types.ts faceRecord). */
export type FaceResult = FaceRecord;

/** One frame of one face stream (one per frame, or one per track and frame with target `all`). */
export interface FrameResult {
  readonly frame: number;
  readonly t: number;
  readonly face: FaceResult | null;
  readonly vs: number[] | null;
  readonly vd: number[] | null;
  readonly a: number[] | null;
  readonly fused: number[] | null;
  readonly compound: number[] | null;
  readonly label: string | null;
  /** Voice-activity probability (Silero VAD) of the frame, or null without audio. */
  readonly speech: number | null;
  /** Inner-lip gap of the face over its eye-corner distance (MediaPipe facemesh), or null without a face. */
  readonly mouthOpen: number | null;
}

export interface ModelIds {
  readonly vs: string;
  readonly vd: string;
  readonly a: string | null;
}

/** Loaded models, shared by every input a Pipeline analyses. */
export class Pipeline {
  private constructor(
    readonly options: PipelineOptions,
    readonly detector: FaceDetectorSource | null,
    readonly vs: StaticVisualStage,
    private readonly vdSession: ModelSession | null,
    readonly vad: SileroVAD | null,
    readonly mouth: MouthOpenCue | null,
    readonly acoustic: AcousticModel | null,
    readonly fusion: Fusion,
    readonly fusionSpec: FusionSpec,
    readonly rule: Rule,
    /** Kept across inputs, started while the models load. */
    private readonly decoder: FrameDecoderThread,
  ) {}

  static async load(pipelineOptions: PipelineOptions = {}): Promise<Pipeline> {
    // The models are small: one thread each runs them fastest here; onnxruntime's default (one
    // per core) makes its threads spin against ffmpeg's on a 2-core machine (5× slower detection).
    const session: SessionOptions = { ...pipelineOptions.session, intraOpNumThreads: pipelineOptions.session?.intraOpNumThreads ?? 1 };
    const options: PipelineOptions = { ...pipelineOptions, session };
    // Only the tasks this run uses: a folder's two face detectors do not matter with --whole-frame-face.
    const tasks: ModelTask[] = ['static-visual', 'dynamic-visual'];
    if (options.acoustic !== false) tasks.push('acoustic');
    if (!options.wholeFrameFace) tasks.push('face-detection');
    if (options.vad !== false) tasks.push('voice-activity');
    if (options.mouthCue !== false) tasks.push('face-landmarks');
    const manifests = await modelsFor(options.models ?? 'default', tasks);
    const decoder = FrameDecoderThread.start();
    const held: Array<{ release(): Promise<void> }> = [{ release: () => decoder.close() }];
    try {
      let detector: FaceDetectorSource | null = null;
      if (!options.wholeFrameFace) {
        const own = manifests.get('face-detection');
        detector = await loadFaceDetector(own ?? options.detector ?? DEFAULT_DETECTOR, options.session);
        held.push(detector);
      }
      const vsManifest = manifests.get('static-visual');
      if (vsManifest === undefined) throw new ModelError(`no static-visual model in ${options.models}`);
      const vs = await StaticVisualStage.load(vsManifest, {
        ...options.session,
        inWorker: true,
        batch: options.vsBatch ?? 1,
        crop: { ...options.vsCrop, referenceCompat: options.referenceCompat === true },
      });
      held.push(vs);
      let vdSession: ModelSession | null = null;
      const vdManifest = manifests.get('dynamic-visual');
      if (vdManifest !== undefined) {
        if (vsManifest.outputs.features === undefined) {
          throw new ModelError(`${vdManifest.label}: a sequence-model VD needs the static model's features, and ${vsManifest.label} names no features output`);
        }
        vdSession = await acquireSession(vdManifest, options.session);
        held.push(vdSession);
      }
      const vad = options.vad === false ? null : await SileroVAD.load(manifests.get('voice-activity'), session);
      if (vad) held.push(vad);
      const meshManifest = manifests.get('face-landmarks');
      const mouth = options.mouthCue === false || meshManifest === undefined ? null : await MouthOpenCue.load(meshManifest, { ...session, inWorker: true });
      if (mouth) held.push(mouth);
      // Opened once for every input, in a worker thread: its windows run beside the visual models.
      const acousticManifest = manifests.get('acoustic');
      const acoustic = acousticManifest === undefined ? null : await openAcousticModel(acousticManifest, { ...session, inWorker: true });
      if (acoustic) held.push(acoustic);
      // With an acoustic model the paper's VS+VD+A preset, else its VS+VD one.
      const spec = options.fusion ?? { strategy: 'dirichlet', preset: acoustic ? 'paper-av8' : 'paper-v' };
      const fusion = resolveFusion(spec, modelsOfFusion(spec, ['vs', 'vd']));
      const pipeline = new Pipeline(options, detector, vs, vdSession, vad, mouth, acoustic, fusion, spec, options.rule ?? DEFAULT_RULE, decoder);
      await pipeline.warmUp();
      return pipeline;
    } catch (err) {
      await Promise.all(held.map((h) => h.release()));
      throw err;
    }
  }

  /** First runs are slow (onnxruntime allocates, ffmpeg is asked what it supports): do them now. */
  private async warmUp(): Promise<void> {
    const blank = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3) };
    await this.detector?.forStream().detect(blank);
    const vs = this.vs.run(blank, [0, 0, 64, 64]);
    this.vs.flush();
    await vs;
    await this.mouth?.measure(blank, [8, 8, 56, 56]);
    await this.acoustic?.run(new Float32Array(ACOUSTIC_WINDOW_SAMPLES), 1);
    if (this.vad) {
      await this.vad.process(new Float32Array(1024));
      this.vad.reset();
    }
    await ffmpegFeatures(resolveFfmpeg());
  }

  /** One line naming the models in use and where they run, e.g. for a CLI or a node status. */
  describe(): string {
    const ids = this.modelIds;
    const face = this.detector ? `${this.detector.id} (${this.detector.provider})` : 'whole frame';
    const a = ids.a ?? (this.options.acoustic === false ? ACOUSTIC_OFF : NO_ACOUSTIC_MODEL);
    const cues = [this.vad ? 'voice activity' : null, this.mouth ? 'mouth-open cue' : null].filter((c) => c !== null);
    return `faces ${face}, VS ${ids.vs} (${this.vs.provider}), VD ${ids.vd}${this.vdSession ? ` (${this.vdSession.provider})` : ''}, A ${a}; ${cues.join(', ') || 'no cues'}`;
  }

  get modelIds(): ModelIds {
    return { vs: this.vs.id, vd: this.vdSession ? this.vdSession.manifest.id : TEMPORAL_SMOOTHING_VD_ID, a: this.acoustic?.manifest.id ?? null };
  }

  /** The kept decoder thread when it is free; an input analysed beside another gets a thread of its own. */
  get decoderThread(): FrameDecoderThread | undefined {
    return this.decoder.busy ? undefined : this.decoder;
  }

  /** A fresh VD stream: the sequence model when one is configured, else temporal smoothing. */
  createVD(): VDStage {
    return createVDStage(this.vdSession, this.options.referenceCompat ?? false);
  }

  async release(): Promise<void> {
    await Promise.all([this.decoder.close(), this.detector?.release(), this.vs.release(), this.vdSession?.release(), this.vad?.release(), this.mouth?.release(), this.acoustic?.release()]);
  }
}

/**
 * The manifest to use for each of `tasks`: `models` is "default" or a comma-separated list of model
 * folders and manifest (or ONNX) files, earlier ones first (see selectModels); tasks it leaves open
 * get the package's own model.
 */
async function modelsFor(models: string, tasks: readonly ModelTask[]): Promise<Map<ModelTask, LoadedManifest>> {
  const entries = models === 'default' ? [] : models.split(',').map((e) => e.trim()).filter((e) => e !== '').map((e) => path.resolve(e));
  const byTask = await selectModels(entries, tasks);
  // The package's own face detector is chosen by variant; it has no sequence-model VD.
  for (const m of await listManifests(DEFAULT_MODELS_DIR)) {
    if (tasks.includes(m.task) && m.task !== 'face-detection' && m.task !== 'dynamic-visual' && !byTask.has(m.task)) byTask.set(m.task, m);
  }
  return byTask;
}

export interface AnalyzeProgress {
  readonly frame: number;
  /** Expected frame count, when the container says. */
  readonly frames: number | null;
  readonly elapsed: number;
}

export interface AnalyzeRunOptions {
  readonly signal?: AbortSignal;
  readonly allowLive?: boolean;
  readonly onProgress?: (progress: AnalyzeProgress) => void;
  /**
   * The input's probe (probeMedia), started earlier: a batch probes the next input while this one
   * runs. The input's seconds count from this call, waiting for the probe included. `signal` does
   * not reach a probe started so: its starter aborts it.
   */
  readonly probed?: Promise<MediaInfo>;
}

export interface AnalyzeResult {
  readonly input: string;
  readonly fps: number | null;
  readonly frameRate: string | null;
  readonly frames: number;
  readonly duration: number | null;
  readonly models: ModelIds;
  readonly fusion: FusionSpec;
  readonly rule: Rule;
  readonly target: TargetPolicy;
  readonly referenceCompat: boolean;
  readonly results: FrameResult[];
  /**
   * Per input: the mean votes of each modality, of the fusion and of the compound scores over the
   * frames that have them, the dominant basic emotion and compound expression (summarizeResults).
   */
  readonly summary: AnalysisSummary;
  /** What the input lacks, said once (no audio stream, no video stream, no acoustic model). */
  readonly notes: string[];
  readonly seconds: number;
  readonly rtf: number | null;
}

/**
 * Analyses one input frame by frame, yielding each frame's results as soon as they are known
 * (one per frame, or one per face and frame with target `all`). When each part runs is
 * schedule.ts's; this says what a frame's work and its result are.
 */
export async function* analyzeFrames(
  pipeline: Pipeline,
  input: string,
  info: MediaInfo,
  options: AnalyzeRunOptions = {},
): AsyncGenerator<FrameResult, void, undefined> {
  const po = pipeline.options;
  const policy = po.target ?? DEFAULT_TARGET_POLICY;
  const compat = po.referenceCompat ?? false;
  const rate = info.frameRate;
  // The reference reads an integer fps (29.97 → 29); VD truncates it itself in compat mode.
  const fps = resultFps(info);
  const faces = new FaceStage(pipeline.detector, policy, { fps, referenceCompat: compat, minTargetScore: po.minTargetScore });
  const visual = new StreamVisualVotes(() => pipeline.createVD(), compat);
  const fused = new Float64Array(NUM_BASIC);
  const compound = new Float64Array(NUM_COMPOUND);
  const withA = pipeline.fusion.models.length === 3;
  const audio = await AudioTrack.start(input, info, rate ?? { num: fps, den: 1 }, {
    vad: pipeline.vad,
    acoustic: pipeline.acoustic,
    gate: po.gateAcoustic ?? !compat,
    referenceCompat: compat,
    session: po.session,
    allowLive: options.allowLive,
    signal: options.signal,
  });
  const mouth = new MouthCueSchedule(pipeline.mouth, fps, po.mouthCueEvery);

  /** A frame's result, put together when its mouth cue and the audio up to it are done. */
  const assemble = async (
    frame: { index: number; t: number },
    face: TrackedFace | null,
    votes: VisualVotes,
    mouthPromise: Promise<number | null>,
  ): Promise<FrameResult> => {
    const { vs, vd } = votes;
    const mouthOpen = await mouthPromise;
    await audio.waitFor(frame.index);
    const a = audio.acousticOf(frame.index);
    const hasFused = fuseFrameInto(pipeline.fusion, withA ? [vs, vd, a] : [vs, vd], fused);
    if (hasFused) compoundScoresInto(fused, pipeline.rule, compound);
    return {
      frame: frame.index,
      t: frame.t,
      face: face ? faceRecord(face) : null,
      vs: vs ? Array.from(vs) : null,
      vd: vd ? Array.from(vd) : null,
      a: a ? Array.from(a) : null,
      fused: hasFused ? Array.from(fused) : null,
      compound: hasFused ? Array.from(compound) : null,
      label: hasFused ? COMPOUND_NAMES[argmax(compound)] : null,
      speech: audio.speechOf(frame.index),
      mouthOpen,
    };
  };

  /**
   * Everything that reads the frame's pixels starts now (VS and the mouth cue cut their crops at
   * once). VS runs in its own thread, so the next frame's face is detected while it works; its
   * votes are taken in frame order by the step. A frame without a face still has a result (and
   * clears VD); with target `all`, one per face.
   */
  const begin = async (frame: VideoFrame): Promise<FrameStep<FrameResult>> => {
    const targets = await faces.targets(frame, frame.index);
    const tracks = targets.map((f) => f.track);
    const at = { index: frame.index, t: frame.t };
    const begun = (targets.length > 0 ? targets : [null]).map((face) => ({
      face,
      vs: face ? pipeline.vs.run(frame, face.box, { keypoints: face.keypoints }) : Promise.resolve(null),
      mouth: face ? mouth.measure(frame, face) : Promise.resolve(null),
    }));
    const lastRun = pipeline.vs.runs;
    // Observed at once, so that a failure is not an unhandled rejection while earlier frames are stepped.
    for (const b of begun) b.vs.catch(() => undefined);
    return async (emit) => {
      if (!pipeline.vs.sentAll(lastRun)) pipeline.vs.flush();
      for (const { face, vs, mouth } of begun) {
        const votes = await visual.step({ frame: at.index, fps, policy, tracks, face }, await vs);
        emit(assemble(at, face, votes, mouth));
      }
    };
  };

  const startedAt = performance.now();
  const onProgress = options.onProgress;
  const progress = onProgress && ((frame: number, frames: number | null) => onProgress({ frame, frames, elapsed: (performance.now() - startedAt) / 1000 }));
  try {
    if (!info.hasVideo) {
      // Audio only: A and speech alone.
      yield* scheduleAudioOnly(info, (index, t) => assemble({ index, t }, null, { vs: null, vd: null }, Promise.resolve(null)), progress);
    } else {
      yield* scheduleFrames(input, info, begin, {
        fps,
        vsBatch: pipeline.vs.batch,
        signal: options.signal,
        allowLive: options.allowLive,
        thread: pipeline.decoderThread,
        onProgress: progress,
      });
    }
  } finally {
    await audio.close();
  }
}

/** What is missing for an input, each said once rather than per frame. */
export function inputNotes(pipeline: Pipeline, info: MediaInfo): string[] {
  const notes: string[] = [];
  if (!info.hasVideo) notes.push(`no video stream: audio only, ${AUDIO_ONLY_FPS} results per second, no face, VS or VD`);
  if (!info.hasAudio) notes.push('no audio stream: speech and A are null');
  else if (pipeline.acoustic === null) notes.push(`${pipeline.options.acoustic === false ? ACOUSTIC_OFF : NO_ACOUSTIC_MODEL}: A is null`);
  return notes;
}

/** Analyses one input and collects every frame's results. */
export async function analyzeFile(pipeline: Pipeline, input: string, options: AnalyzeRunOptions = {}): Promise<AnalyzeResult> {
  const started = performance.now();
  const info = await (options.probed ?? probeMedia(input, { allowLive: options.allowLive, signal: options.signal }));
  const results: FrameResult[] = [];
  let frames = 0;
  let lastFrame = -1;
  for await (const r of analyzeFrames(pipeline, input, info, options)) {
    results.push(r);
    if (r.frame !== lastFrame) {
      frames++;
      lastFrame = r.frame;
    }
  }
  if (info.hasVideo && pipeline.detector !== null && !results.some((r) => r.face !== null)) {
    throw new InputError(`${input}: no face found in ${info.kind === 'image' ? 'the image' : `any of its ${frames} frames`}`);
  }
  const seconds = (performance.now() - started) / 1000;
  const rate = info.frameRate;
  const duration = info.kind === 'image' ? 0 : (info.duration ?? (rate ? frames / frameRateValue(rate) : null));
  const po = pipeline.options;
  return {
    input,
    fps: rate ? frameRateValue(rate) : null,
    frameRate: rate ? `${rate.num}/${rate.den}` : null,
    frames,
    duration,
    models: pipeline.modelIds,
    fusion: pipeline.fusionSpec,
    rule: pipeline.rule,
    target: po.target ?? DEFAULT_TARGET_POLICY,
    referenceCompat: po.referenceCompat ?? false,
    results,
    summary: summarizeResults(results),
    notes: inputNotes(pipeline, info),
    seconds,
    rtf: duration ? seconds / duration : null,
  };
}
