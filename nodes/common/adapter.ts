/**
 * What every node of this package does the same way: its status dot, turning any failure into
 * `done(err)` with the message (so a Catch node sees it, and no rejected promise escapes to take
 * Node-RED down), handling inputs one after another in arrival order, and per-stream state.
 */
import { oneLine } from '../../src/io/errors';
import { isEndPayload, type EndPayload } from '../../src/nodes-api/messages';
import type { DoneFunction, Node, NodeMessage, NodeStatus, SendFunction } from './red';

/** An Error whose message is one line, from anything thrown. */
export function toError(err: unknown): Error {
  if (err instanceof Error) {
    const line = oneLine(err);
    if (line === err.message) return err;
    const e = new Error(line, { cause: err });
    e.name = err.name;
    return e;
  }
  return new Error(oneLine(err));
}

/**
 * A node's status dot. Updates are sent to the editor at most every `intervalMs` (a status per
 * frame would flood the editor's websocket); errors and final states go out at once.
 */
export class StatusDot {
  private lastSent = 0;
  /** The update not yet shown, made when it is shown: a busy node's text is built at most 4 times a second. */
  private pending: (() => NodeStatus) | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly node: Node,
    private readonly intervalMs = 250,
  ) {}

  private send(status: NodeStatus): void {
    this.lastSent = Date.now();
    this.pending = null;
    this.node.status(status);
  }

  /** Shown now. */
  now(status: NodeStatus): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.send(status);
  }

  /** Shown now or a little later; a newer update replaces one not yet shown. */
  soon(status: () => NodeStatus): void {
    const wait = this.lastSent + this.intervalMs - Date.now();
    if (wait <= 0 && this.timer === null) {
      this.send(status());
      return;
    }
    this.pending = status;
    if (this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        if (this.pending !== null) this.send(this.pending());
      }, Math.max(wait, 0));
    }
  }

  loading(text: string): void {
    this.now({ fill: 'yellow', shape: 'ring', text });
  }

  ready(text: string): void {
    this.now({ fill: 'green', shape: 'dot', text });
  }

  /** A status of a node at work, updated per message: `text` is called only when it is shown. */
  busy(text: () => string): void {
    this.soon(() => ({ fill: 'blue', shape: 'dot', text: text() }));
  }

  idle(text: string): void {
    this.now({ fill: 'grey', shape: 'ring', text });
  }

  error(text: string): void {
    this.now({ fill: 'red', shape: 'ring', text: text.length > 60 ? `${text.slice(0, 57)}…` : text });
  }

  clear(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.pending = null;
    this.node.status({});
  }
}

export { RateMeter } from '../../src/media/rate-meter';

export type OrderedHandler = (msg: NodeMessage, send: SendFunction) => Promise<void>;

/**
 * Registers an input handler whose calls run one after another, in arrival order (frames of a
 * stream must reach a tracker or VD in order, and a model stage reuses its buffers). Whatever the
 * handler throws or rejects with becomes `done(err)` for that message, with a red status; the
 * next message is handled as usual.
 */
export function onOrderedInput(node: Node, status: StatusDot, handler: OrderedHandler): { readonly idle: Promise<void>; readonly pending: number } {
  let chain: Promise<void> = Promise.resolve();
  let pending = 0;
  node.on('input', (msg: NodeMessage, send: SendFunction, done: DoneFunction) => {
    pending++;
    chain = chain.then(async () => {
      try {
        await handler(msg, send);
        done();
      } catch (err) {
        const e = toError(err);
        status.error(e.message);
        done(e);
      } finally {
        pending--;
      }
    });
  });
  return {
    get idle() {
      return chain;
    },
    get pending() {
      return pending;
    },
  };
}

/** Per-stream state, created on a stream's first message and dropped when the stream ends. */
export class PerStream<S> {
  private readonly states = new Map<string, S>();

  /** The stream's state, made by `create` on its first message. */
  get(stream: string, create: () => S): S {
    let s = this.states.get(stream);
    if (s === undefined) {
      s = create();
      this.states.set(stream, s);
    }
    return s;
  }

  peek(stream: string): S | undefined {
    return this.states.get(stream);
  }

  drop(stream: string): void {
    this.states.delete(stream);
  }

  clear(): void {
    this.states.clear();
  }

  get size(): number {
    return this.states.size;
  }

  keys(): string[] {
    return [...this.states.keys()];
  }
}

/** The end message a node forwards after dropping a stream's state (a new object: the one received may be shared). */
export function forwardEnd(msg: NodeMessage, end: EndPayload, modality: EndPayload['modality']): NodeMessage {
  return { ...msg, payload: { ...end, modality } satisfies EndPayload };
}

export { isEndPayload };

/** A short form of a number of frames per second for a status. */
export function fpsText(fps: number): string {
  return `${fps >= 10 ? fps.toFixed(0) : fps.toFixed(1)} fps`;
}

/** Registers a close handler with the (removed, done) signature Node-RED awaits; it never throws. */
export function onClose(node: Node, handler: (removed: boolean) => Promise<void>): void {
  node.on('close', (removed: boolean, done: () => void) => {
    handler(removed).then(
      () => done(),
      (err: unknown) => {
        node.warn(`close: ${toError(err).message}`);
        done();
      },
    );
  });
}

/** A finite number from an editor field (strings included), or the fallback. */
export function numberField(value: unknown, fallback: number): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return fallback;
}
