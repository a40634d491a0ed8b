/** What a node shows on its status dot: the dot itself, a rate of messages and its short text. */
import type { Node, NodeStatus } from './red';

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

/** A short form of a number of frames per second for a status. */
export function fpsText(fps: number): string {
  return `${fps >= 10 ? fps.toFixed(0) : fps.toFixed(1)} fps`;
}
