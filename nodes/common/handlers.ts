/**
 * A node's input and close handlers as every node of this package registers them: any failure becomes
 * `done(err)` with a one-line message (so a Catch node sees it, and no rejected promise escapes to
 * take Node-RED down), inputs are handled one after another in arrival order, and a close never throws.
 */
import { toError } from './errors';
import type { DoneFunction, Node, NodeMessage, SendFunction } from './red';
import type { StatusDot } from './status';

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
