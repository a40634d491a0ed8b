/**
 * Back-pressure between the media splitter and the face detector. Node-RED has none of its own:
 * a node sends as fast as it likes and every message waits in memory for the next node. A decoder
 * is much faster than the models, so without this a long video would pile up whole frames (2.7 MB
 * each at 720p) in the face detector's queue.
 *
 * The splitter opens credits for each stream it plays when its frames output is wired to face
 * detector nodes; it may have `limit` frames in flight and waits for a credit before sending more.
 * A face detector gives a credit back when it has finished with a frame (whatever the outcome).
 */
export class FrameCredits {
  private outstanding = 0;
  private waiter: (() => void) | null = null;

  constructor(
    readonly stream: string,
    readonly limit: number,
    /** Consumers that give credits back per frame (one per face detector on the wire). */
    readonly consumers: number,
  ) {}

  /** Waits until fewer than `limit` frames are in flight, then counts one more. */
  async acquire(signal?: AbortSignal): Promise<void> {
    while (this.outstanding >= this.limit * this.consumers) {
      if (signal?.aborted) return;
      await new Promise<void>((resolve) => {
        const onAbort = (): void => resolve();
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiter = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
      });
    }
    this.outstanding += this.consumers;
  }

  /** One consumer finished one frame. */
  release(): void {
    if (this.outstanding > 0) this.outstanding--;
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  get inFlight(): number {
    return this.outstanding;
  }
}

const open = new Map<string, FrameCredits>();

export function openCredits(stream: string, limit: number, consumers: number): FrameCredits {
  const credits = new FrameCredits(stream, Math.max(1, Math.floor(limit)), Math.max(1, consumers));
  open.set(stream, credits);
  return credits;
}

export function closeCredits(stream: string): void {
  const credits = open.get(stream);
  open.delete(stream);
  // Whoever waits is let go (the stream is over).
  credits?.release();
}

/** A consumer finished a frame of `stream` (no-op for streams without credits). */
export function frameConsumed(stream: string): void {
  open.get(stream)?.release();
}

export function openCreditCount(): number {
  return open.size;
}
