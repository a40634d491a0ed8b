/**
 * The setup every model-backed node (face detector, VS, VD, A) shares: its model config, the
 * model loaded once for the node with a status dot that says so, per-stream state, inputs handled
 * in arrival order with the end of a stream forwarded, and a close that waits for the input still
 * queued before it releases the model (so that no message runs on a released session).
 */
import { isEndPayload, type EndPayload } from '../../src/contract/messages';
import type { ModelTask } from '../../src/models/manifest';
import type { RgbImage } from '../../src/media/types';
import type { CerModelsNode, ModelUse } from './config';
import { toError } from './errors';
import { onClose, onOrderedInput } from './handlers';
import { translator, type Translate } from './i18n';
import type { Node, NodeAPI, NodeMessage, SendFunction } from './red';
import { fpsText, RateMeter, StatusDot } from './status';
import { forwardEnd, PerStream } from './streams';

/** How a node's model is loaded, shown and released. */
export interface ModelLoad<M> {
  /** The status while it loads; null: none (a node that may have no model to load). */
  readonly loading: string | null;
  /** Loads (and warms up) the model; what it throws becomes the node's red status and each input's error. */
  open(): Promise<M>;
  /** Shows on the status dot that the model is ready. */
  ready(model: M): void;
  release(model: M): Promise<void>;
}

/** How a node handles its inputs and its streams' state. */
export interface ModelInput<S> {
  /** The modality the end of a stream is forwarded as. */
  readonly modality: EndPayload['modality'];
  /** A message that is not the end of a stream. */
  input(msg: NodeMessage, send: SendFunction): Promise<void>;
  /** The end of a stream, after its state (undefined: it had none) is dropped and before the end is forwarded. */
  ended?(end: EndPayload, state: S | undefined, send: SendFunction): Promise<void>;
  /** A message still queued when the node closed: it is passed over, and told here. */
  skipped?(msg: NodeMessage): void;
  /** Releases a stream's state when the node closes. */
  closeStream?(state: S): Promise<void>;
}

/** A blank image for a model's first run. */
export function warmUpImage(): RgbImage {
  return { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3) };
}

/**
 * The model after its first run, which is slow (onnxruntime allocates) and so is done at load, as
 * Pipeline.load does. A model whose first run fails is released.
 */
export async function warmUp<M extends { release(): Promise<void> }>(model: M, run: (model: M) => Promise<unknown>): Promise<M> {
  try {
    await run(model);
  } catch (err) {
    await model.release();
    throw err;
  }
  return model;
}

/**
 * A model-backed node: made in the node's constructor after createNode, then `load` and `handle`
 * once each. Texts come from the node's catalogue (`errors.noConfig` included).
 */
export class ModelNode<M, S> {
  readonly status: StatusDot;
  readonly t: Translate;
  private readonly meter = new RateMeter();
  /** Per-stream state; the node's `cerStreams` counts it (0 once every stream has ended), for tests and the curious. */
  readonly streams = new PerStream<S>();
  private readonly config: CerModelsNode | null;
  private loaded: Promise<M> | null = null;
  private release: (model: M) => Promise<void> = async () => undefined;

  constructor(
    RED: NodeAPI,
    private readonly node: Node,
    type: string,
    /** The model config node's id from the node's settings; empty or absent: none. */
    private readonly configId: string | undefined,
  ) {
    this.status = new StatusDot(node);
    this.t = translator(RED, type);
    this.config = configId ? (RED.nodes.getNode(configId) as CerModelsNode | null) : null;
    const streams = this.streams;
    Object.defineProperty(node, 'cerStreams', { get: () => streams.size });
  }

  /**
   * The model config's manifest and session options for `task`; null for a node without a model
   * config. A config node that is named but not deployed is an error.
   */
  async use(task: ModelTask, options?: { readonly openSession?: boolean }): Promise<ModelUse | null> {
    if (!this.configId) return null;
    if (this.config === null) throw new Error(this.t('errors.noConfig'));
    return this.config.use(this.node, task, options);
  }

  /** Starts loading the model now. */
  load(spec: ModelLoad<M>): void {
    if (spec.loading !== null) this.status.loading(spec.loading);
    this.release = spec.release;
    const loaded = spec.open();
    this.loaded = loaded;
    loaded.then(
      (model) => spec.ready(model),
      (err: unknown) => this.status.error(toError(err).message),
    );
  }

  /** The loaded model; rejects with the load's error. */
  get model(): Promise<M> {
    if (this.loaded === null) return Promise.reject(new Error('the model was never loaded (ModelNode.load not called)'));
    return this.loaded;
  }

  /** Counts `messages` sent and shows the node at work: `text` gets the rate ("25 fps") and is called only when shown. */
  busy(text: (fps: string) => string, messages = 1): void {
    for (let i = 0; i < messages; i++) this.meter.tick();
    this.status.busy(() => text(fpsText(this.meter.perSecond)));
  }

  /** Registers the node's input and close handlers. */
  handle(spec: ModelInput<S>): void {
    let stopped = false;
    const input = onOrderedInput(this.node, this.status, async (msg, send) => {
      if (stopped) {
        spec.skipped?.(msg);
        return;
      }
      const payload = msg.payload;
      if (!isEndPayload(payload)) return spec.input(msg, send);
      const state = this.streams.peek(payload.stream);
      this.streams.drop(payload.stream);
      await spec.ended?.(payload, state, send);
      send(forwardEnd(msg, payload, spec.modality));
    });

    onClose(this.node, async () => {
      stopped = true;
      // The message being handled may use the model or be opening a stream: it finishes first.
      await input.idle;
      const states = this.streams.values();
      this.streams.clear();
      const closeStream = spec.closeStream;
      if (closeStream !== undefined) await Promise.all(states.map((s) => closeStream(s)));
      const model = this.loaded === null ? null : await this.loaded.catch(() => null);
      if (model !== null) await this.release(model);
      await this.config?.unuse(this.node);
      this.status.clear();
    });
  }
}
