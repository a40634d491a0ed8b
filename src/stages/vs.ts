/**
 * The static visual (VS) stage: one face crop of one frame → 7 canonical probabilities (and the
 * model's feature vector where its manifest names one, for a sequence-model VD).
 */
import { LabelRemap } from '../core/emotions';
import type { RgbImage } from '../media/types';
import { ModelError } from '../models/errors';
import type { ImageLayout, LoadedManifest } from '../models/manifest';
import { acquireSession, type FloatFeed, type FloatOutput, type SessionOptions } from '../models/session';
import { WorkerSession } from '../models/worker-session';
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
}

/** What the stage needs of a session, on this thread or in a worker. */
interface VSRunner {
  readonly provider: string;
  run(feeds: Readonly<Record<string, FloatFeed>>, outputNames: readonly string[]): Promise<Record<string, FloatOutput>>;
  release(): Promise<void>;
}

export class StaticVisualStage {
  readonly id: string;
  private readonly remap: LabelRemap;
  private readonly input: VSInput;

  private constructor(
    private readonly handle: VSRunner,
    readonly manifest: LoadedManifest,
    private readonly inWorker: boolean,
  ) {
    this.id = manifest.id;
    this.input = new VSInput(manifest);
    if (manifest.labels === undefined) throw new ModelError(`${manifest.label}: a static-visual model needs "labels"`);
    try {
      this.remap = new LabelRemap(manifest.labels, manifest.outputKind ?? 'probabilities');
    } catch (err) {
      throw new ModelError(`${manifest.label}: labels: ${(err as Error).message}`);
    }
  }

  static async load(manifest: LoadedManifest, options: StaticVisualOptions = {}): Promise<StaticVisualStage> {
    const { inWorker, ...sessionOptions } = options;
    const handle: VSRunner = inWorker ? await WorkerSession.load(manifest, sessionOptions) : await acquireSession(manifest, sessionOptions);
    try {
      return new StaticVisualStage(handle, manifest, inWorker === true);
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
   * before this returns, so the caller may reuse the image's memory at once.
   */
  async run(image: RgbImage, box: Readonly<Box>): Promise<VSOutput> {
    const prepared = this.input.prepare(image, box);
    // A worker takes its input's memory: it gets a copy, the buffer stays for the next crop.
    const tensor = this.inWorker ? prepared.slice() : prepared;
    const { scores, features } = this.manifest.outputs;
    const names = features ? [scores, features] : [scores];
    const out = await this.handle.run({ [this.manifest.input.name]: { data: tensor, shape: this.input.shape } }, names);
    return {
      probs: this.remap.toCanonical(out[scores].data),
      features: features ? Float32Array.from(out[features].data) : undefined,
    };
  }

  release(): Promise<void> {
    return this.handle.release();
  }
}
