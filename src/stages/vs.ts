/**
 * The static visual (VS) stage: one face crop of one frame → 7 canonical probabilities (and the
 * model's feature vector where its manifest names one, for a sequence-model VD).
 */
import { LabelRemap } from '../core/emotions';
import type { RgbImage } from '../media/types';
import { ModelError } from '../models/errors';
import { cropMarginOf, MAX_CROP_MARGIN, type ImageLayout, type LoadedManifest } from '../models/manifest';
import { acquireSession, type SessionOptions } from '../models/session';
import { WorkerSession, type ModelRunner } from '../models/worker-session';
import { alignedCrop, mirrorImage, straightCrop, type CropChoice, type FaceGeometry, type ImageView } from '../vision/align';
import { letterboxImage, resizeImage, toTensor } from '../vision/image';
import type { Box } from '../vision/types';
import { DEFAULT_VS_ALIGN, DEFAULT_VS_FLIP } from '../defaults';

export interface VSOutput {
  /** Canonical 7-class probabilities. */
  readonly probs: Float64Array;
  /** The model's feature vector, where the manifest names a features output. */
  readonly features?: Float32Array;
}

/**
 * How VS cuts and reads its crop (VSCropOptions resolved against the manifest). The defaults follow
 * from `npm run bench:accuracy` (test/bench/accuracy.bench.ts): see README, `cer analyze`.
 */
export interface VSCropOptions {
  /** Rotate the face upright by its eye line before VS (needs the detector's eye keypoints); default DEFAULT_VS_ALIGN. */
  readonly align?: boolean;
  /** Also run VS on the mirrored crop and average the two (probabilities and features); default DEFAULT_VS_FLIP. */
  readonly flip?: boolean;
  /** Crop margin (fraction of the box added on each side), overriding the manifest's `extra.crop.margin`. */
  readonly margin?: number;
  /** The reference's crop: the box itself, straight, no flip (`--reference-compat`). */
  readonly referenceCompat?: boolean;
}

/** The crop choice and flip a stage uses, from its options and the model's manifest. */
export function resolveVSCrop(manifest: LoadedManifest, options: VSCropOptions = {}): CropChoice & { readonly flip: boolean } {
  if (options.referenceCompat === true) return { align: false, margin: 0, flip: false };
  const margin = options.margin ?? cropMarginOf(manifest);
  if (!(Number.isFinite(margin) && margin >= 0 && margin <= MAX_CROP_MARGIN)) {
    throw new RangeError(`the VS crop margin must be from 0 to ${MAX_CROP_MARGIN}, got ${margin}`);
  }
  return { align: options.align ?? DEFAULT_VS_ALIGN, margin, flip: options.flip ?? DEFAULT_VS_FLIP };
}

/** Where a face is, beside the image VS reads it from. */
export interface VSFaceOptions {
  /** The detector's keypoints (frame pixels) for roll alignment; without two eyes the crop stays straight. */
  readonly keypoints?: FaceGeometry['keypoints'];
  /**
   * Where the image lies in the frame (whole pixels) when it is a part of it, e.g. the face
   * detector node's crop at its cropBox; default [0, 0]. Box and keypoints are frame pixels.
   */
  readonly origin?: readonly [number, number];
}

/**
 * A face crop as the VS model's input tensor, per its manifest's preprocessing: crop (straight or
 * aligned, with the margin), resize or letterbox, colour, scale, mean and std, layout. Reuses its
 * buffers: the tensors are overwritten by the next call.
 */
export class VSInput {
  readonly shape: number[];
  readonly crop: CropChoice & { readonly flip: boolean };
  private readonly layout: ImageLayout;
  private readonly pre: NonNullable<LoadedManifest['preprocessing']>;
  private readonly tensor: Float32Array;
  private readonly flippedTensor: Float32Array;
  private readonly resized: Uint8Array;
  private readonly mirrored: Uint8Array;
  private cut = new Uint8Array(0);

  constructor(manifest: LoadedManifest, options: VSCropOptions = {}) {
    const pre = manifest.preprocessing;
    if (pre === undefined) throw new ModelError(`${manifest.label}: a static-visual model needs "preprocessing"`);
    const layout = manifest.input.layout;
    if (layout !== 'NHWC' && layout !== 'NCHW') throw new ModelError(`${manifest.label}: input.layout must be NHWC or NCHW for images`);
    this.pre = pre;
    this.layout = layout;
    this.crop = resolveVSCrop(manifest, options);
    const [width, height] = pre.size;
    const channels = pre.colour === 'gray' ? 1 : 3;
    this.shape = layout === 'NHWC' ? [1, height, width, channels] : [1, channels, height, width];
    this.tensor = new Float32Array(width * height * channels);
    this.flippedTensor = new Float32Array(this.crop.flip ? width * height * channels : 0);
    this.resized = new Uint8Array(width * height * 3);
    this.mirrored = new Uint8Array(this.crop.flip ? width * height * 3 : 0);
  }

  /** The model-sized RGB image of the face in `box` (frame pixels) of `image`. */
  image(image: RgbImage, box: Readonly<Box>, face: VSFaceOptions = {}): RgbImage {
    const pre = this.pre;
    const [width, height] = pre.size;
    const view: ImageView = { image, origin: face.origin ?? [0, 0] };
    const geometry: FaceGeometry = { box, keypoints: face.keypoints };
    if (this.crop.align) return alignedCrop(view, geometry, this.crop.margin, pre, this.resized);
    const m = 1 + 2 * this.crop.margin;
    const needed = Math.ceil((box[2] - box[0]) * m + 2) * Math.ceil((box[3] - box[1]) * m + 2) * 3;
    if (this.cut.length < needed) this.cut = new Uint8Array(needed);
    const cut = straightCrop(view, geometry, this.crop.margin, this.cut);
    return pre.resize === 'letterbox'
      ? letterboxImage(cut, width, height, { interpolation: pre.interpolation, out: this.resized }).image
      : resizeImage(cut, width, height, pre.interpolation, this.resized);
  }

  /**
   * The tensor of the face in `box` (frame pixels; clipped to the frame), and with flip averaging
   * the tensor of its mirror image too.
   */
  prepare(image: RgbImage, box: Readonly<Box>, face: VSFaceOptions = {}): Float32Array[] {
    const input = this.image(image, box, face);
    toTensor(input, this.pre, this.layout, this.tensor);
    if (!this.crop.flip) return [this.tensor];
    toTensor(mirrorImage(input, this.mirrored), this.pre, this.layout, this.flippedTensor);
    return [this.tensor, this.flippedTensor];
  }
}

export interface StaticVisualOptions extends SessionOptions {
  /**
   * Run the model in a worker thread: run() cuts the crop at once and the model works while the
   * caller goes on (the pipeline detects the next frame's face meanwhile).
   */
  readonly inWorker?: boolean;
  /**
   * Most crops per model call (default 1). With more, run() queues its crop and the model runs once
   * `batch` are queued, or on flush(): a large model (the paper's ResNet-50) runs faster per crop
   * in batches. The model's input must take a dynamic batch.
   */
  readonly batch?: number;
  /** How the crop is cut (alignment, margin, flip averaging); defaults DEFAULT_VS_ALIGN, the manifest's margin, DEFAULT_VS_FLIP. */
  readonly crop?: VSCropOptions;
}

interface QueuedCrop {
  readonly tensor: Float32Array;
  readonly resolve: (out: VSOutput) => void;
  readonly reject: (err: unknown) => void;
}

/** The mean of a crop's and its mirror image's outputs (probabilities, and features where there are). */
export function averageOutputs(outs: readonly VSOutput[]): VSOutput {
  const n = outs.length;
  const probs = new Float64Array(outs[0].probs.length);
  for (const o of outs) for (let i = 0; i < probs.length; i++) probs[i] += o.probs[i] / n;
  const first = outs[0].features;
  if (first === undefined) return { probs };
  const features = new Float32Array(first.length);
  for (const o of outs) {
    const f = o.features as Float32Array;
    for (let i = 0; i < features.length; i++) features[i] += f[i] / n;
  }
  return { probs, features };
}

export class StaticVisualStage {
  readonly id: string;
  private readonly remap: LabelRemap;
  private readonly input: VSInput;
  /** Crops asked for and not yet sent to the model, and how many run() calls there were. */
  private queued: QueuedCrop[] = [];
  private asked = 0;
  private sent = 0;

  private constructor(
    private readonly handle: ModelRunner,
    readonly manifest: LoadedManifest,
    private readonly inWorker: boolean,
    /** Most crops per model call. */
    readonly batch: number,
    crop: VSCropOptions,
  ) {
    this.id = manifest.id;
    this.input = new VSInput(manifest, crop);
    if (batch > 1 && manifest.input.shape[0] !== -1) throw new ModelError(`${manifest.label}: batches of crops need a dynamic batch axis (input.shape[0] = -1)`);
    if (manifest.labels === undefined) throw new ModelError(`${manifest.label}: a static-visual model needs "labels"`);
    try {
      this.remap = new LabelRemap(manifest.labels, manifest.outputKind ?? 'probabilities');
    } catch (err) {
      throw new ModelError(`${manifest.label}: labels: ${(err as Error).message}`);
    }
  }

  static async load(manifest: LoadedManifest, options: StaticVisualOptions = {}): Promise<StaticVisualStage> {
    const { inWorker, batch, crop, ...sessionOptions } = options;
    // A bad margin fails before a session is opened.
    resolveVSCrop(manifest, crop);
    if (batch !== undefined && !(Number.isInteger(batch) && batch >= 1)) throw new RangeError(`batch must be a whole number >= 1, got ${batch}`);
    const handle: ModelRunner = inWorker ? await WorkerSession.load(manifest, sessionOptions) : await acquireSession(manifest, sessionOptions);
    try {
      return new StaticVisualStage(handle, manifest, inWorker === true, batch ?? 1, crop ?? {});
    } catch (err) {
      await handle.release();
      throw err;
    }
  }

  get provider(): string {
    return this.handle.provider;
  }

  /** How this stage cuts its crops: alignment, margin, flip averaging. */
  get crop(): VSInput['crop'] {
    return this.input.crop;
  }

  /**
   * Runs the model on the face in `box` of `image` (frame pixels; clipped to the frame), cut as
   * the stage's crop options say (aligned by `face.keypoints`, widened by the margin; with flip
   * averaging, the mean of the crop's and its mirror image's outputs). The crop is cut before this
   * returns, so the caller may reuse the image's memory at once. With `batch` > 1 the result comes
   * when the batch is full or flush() is called (see `sentAll`).
   */
  run(image: RgbImage, box: Readonly<Box>, face: VSFaceOptions = {}): Promise<VSOutput> {
    const prepared = this.input.prepare(image, box, face);
    const outs = prepared.map((tensor) => this.submit(tensor));
    if (outs.length === 1) return outs[0];
    for (const o of outs) o.catch(() => undefined);
    return Promise.all(outs).then(averageOutputs);
  }

  /** One crop's tensor to the model (now, or into the batch being filled). */
  private submit(prepared: Float32Array): Promise<VSOutput> {
    this.asked++;
    if (this.batch === 1) {
      this.sent++;
      // A worker takes its input's memory: it gets a copy, the buffer stays for the next crop.
      return this.runBatch(this.inWorker ? prepared.slice() : prepared, 1).then((outs) => outs[0]);
    }
    return new Promise<VSOutput>((resolve, reject) => {
      this.queued.push({ tensor: prepared.slice(), resolve, reject });
      if (this.queued.length >= this.batch) this.flush();
    });
  }

  /**
   * Whether the n-th crop (from 1; `runs` counts them) has gone to the model, so that its result
   * will come.
   */
  sentAll(n: number): boolean {
    return n <= this.sent;
  }

  /** Number of crops asked for so far: one per run() call, two with flip averaging. */
  get runs(): number {
    return this.asked;
  }

  /** Sends the queued crops to the model now, as one batch. */
  flush(): void {
    const crops = this.queued;
    if (crops.length === 0) return;
    this.queued = [];
    this.sent += crops.length;
    const size = crops[0].tensor.length;
    const data = new Float32Array(crops.length * size);
    crops.forEach((c, i) => data.set(c.tensor, i * size));
    this.runBatch(data, crops.length).then(
      (outs) => crops.forEach((c, i) => c.resolve(outs[i])),
      (err: unknown) => crops.forEach((c) => c.reject(err)),
    );
  }

  private async runBatch(data: Float32Array, n: number): Promise<VSOutput[]> {
    const { scores, features } = this.manifest.outputs;
    const names = features ? [scores, features] : [scores];
    const out = await this.handle.run({ [this.manifest.input.name]: { data, shape: [n, ...this.input.shape.slice(1)] } }, names);
    const classes = out[scores].data.length / n;
    const width = features ? out[features].data.length / n : 0;
    return Array.from({ length: n }, (_, i) => ({
      probs: this.remap.toCanonical(out[scores].data.subarray(i * classes, (i + 1) * classes)),
      features: features ? out[features].data.slice(i * width, (i + 1) * width) : undefined,
    }));
  }

  release(): Promise<void> {
    return this.handle.release();
  }
}
