/**
 * The static visual (VS) stage: one face crop of one frame → 7 canonical probabilities (and the
 * model's feature vector where its manifest names one, for a sequence-model VD).
 */
import { LabelRemap } from '../core/emotions';
import type { RgbImage } from '../media/types';
import { ModelError } from '../models/errors';
import type { ImageLayout, LoadedManifest } from '../models/manifest';
import { acquireSession, type SessionOptions } from '../models/session';
import { WorkerSession, type ModelRunner } from '../models/worker-session';
import { cropImage, letterboxImage, resizeImage, toTensor } from '../vision/image';
import type { Box } from '../vision/types';

export interface VSOutput {
  /** Canonical 7-class probabilities. */
  readonly probs: Float64Array;
  /** The model's feature vector, where the manifest names a features output. */
  readonly features?: Float32Array;
}

/**
 * A face crop as the VS model's input tensor, per its manifest's preprocessing: crop, resize or
 * letterbox, colour, scale, mean and std, layout. Reuses its buffers: the tensor is overwritten by
 * the next call.
 */
export class VSInput {
  readonly shape: number[];
  private readonly layout: ImageLayout;
  private readonly pre: NonNullable<LoadedManifest['preprocessing']>;
  private readonly tensor: Float32Array;
  private readonly resized: Uint8Array;
  private crop = new Uint8Array(0);

  constructor(manifest: LoadedManifest) {
    const pre = manifest.preprocessing;
    if (pre === undefined) throw new ModelError(`${manifest.label}: a static-visual model needs "preprocessing"`);
    const layout = manifest.input.layout;
    if (layout !== 'NHWC' && layout !== 'NCHW') throw new ModelError(`${manifest.label}: input.layout must be NHWC or NCHW for images`);
    this.pre = pre;
    this.layout = layout;
    const [width, height] = pre.size;
    const channels = pre.colour === 'gray' ? 1 : 3;
    this.shape = layout === 'NHWC' ? [1, height, width, channels] : [1, channels, height, width];
    this.tensor = new Float32Array(width * height * channels);
    this.resized = new Uint8Array(width * height * 3);
  }

  /** The tensor of the part of `image` inside `box` (clipped to the frame). */
  prepare(image: RgbImage, box: Readonly<Box>): Float32Array {
    const pre = this.pre;
    const [width, height] = pre.size;
    const needed = Math.ceil(box[2] - box[0] + 2) * Math.ceil(box[3] - box[1] + 2) * 3;
    if (this.crop.length < needed) this.crop = new Uint8Array(needed);
    const face = cropImage(image, box, this.crop);
    const input =
      pre.resize === 'letterbox'
        ? letterboxImage(face, width, height, { interpolation: pre.interpolation, out: this.resized }).image
        : resizeImage(face, width, height, pre.interpolation, this.resized);
    toTensor(input, pre, this.layout, this.tensor);
    return this.tensor;
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
}

interface QueuedCrop {
  readonly tensor: Float32Array;
  readonly resolve: (out: VSOutput) => void;
  readonly reject: (err: unknown) => void;
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
  ) {
    this.id = manifest.id;
    this.input = new VSInput(manifest);
    if (batch > 1 && manifest.input.shape[0] !== -1) throw new ModelError(`${manifest.label}: batches of crops need a dynamic batch axis (input.shape[0] = -1)`);
    if (manifest.labels === undefined) throw new ModelError(`${manifest.label}: a static-visual model needs "labels"`);
    try {
      this.remap = new LabelRemap(manifest.labels, manifest.outputKind ?? 'probabilities');
    } catch (err) {
      throw new ModelError(`${manifest.label}: labels: ${(err as Error).message}`);
    }
  }

  static async load(manifest: LoadedManifest, options: StaticVisualOptions = {}): Promise<StaticVisualStage> {
    const { inWorker, batch, ...sessionOptions } = options;
    if (batch !== undefined && !(Number.isInteger(batch) && batch >= 1)) throw new RangeError(`batch must be a whole number >= 1, got ${batch}`);
    const handle: ModelRunner = inWorker ? await WorkerSession.load(manifest, sessionOptions) : await acquireSession(manifest, sessionOptions);
    try {
      return new StaticVisualStage(handle, manifest, inWorker === true, batch ?? 1);
    } catch (err) {
      await handle.release();
      throw err;
    }
  }

  get provider(): string {
    return this.handle.provider;
  }

  /**
   * Runs the model on the part of `image` inside `box` (clipped to the frame). The crop is cut
   * before this returns, so the caller may reuse the image's memory at once. With `batch` > 1 the
   * result comes when the batch is full or flush() is called (see `sentAll`).
   */
  run(image: RgbImage, box: Readonly<Box>): Promise<VSOutput> {
    const prepared = this.input.prepare(image, box);
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

  /** Whether the crop of the n-th run() call (from 1) has gone to the model, so that its result will come. */
  sentAll(n: number): boolean {
    return n <= this.sent;
  }

  /** Number of run() calls so far. */
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
