/** Per-stream state of a node, and the end of a stream forwarded once its state is dropped. */
import type { EndPayload } from '../../src/contract/messages';
import type { NodeMessage } from './red';

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

  values(): S[] {
    return [...this.states.values()];
  }
}

/** The end message a node forwards after dropping a stream's state (a new object: the one received may be shared). */
export function forwardEnd(msg: NodeMessage, end: EndPayload, modality: EndPayload['modality']): NodeMessage {
  return { ...msg, payload: { ...end, modality } satisfies EndPayload };
}
