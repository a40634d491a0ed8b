/**
 * Back-pressure between the media splitter and the face detector. Node-RED has none of its own:
 * a node sends as fast as it likes and every message waits in memory for the next node. A decoder
 * is much faster than the models, so without this a long video would pile up whole frames (2.7 MB
 * each at 720p) in the face detector's queue.
 *
 * The splitter opens credits for each stream it plays when its frames output is wired to face
 * detector nodes; it may have `limit` frames in flight and waits for a credit before sending more.
 * A face detector gives a credit back when it has finished with a frame (whatever the outcome).
 *
 * With the credit the face detector may give the frame's memory back, for the decoder to fill
 * again (as `cer analyze` reuses its frame buffers): 98 frames of 720p are 265 MB that Node-RED's
 * process would otherwise allocate, fault in and collect. The splitter accepts it only when its
 * frames output is one wire to one face detector, so that no other node holds that message.
 */
export class FrameCredits {
  private outstanding = 0;
  private waiter: (() => void) | null = null;

  constructor(
    readonly stream: string,
    readonly limit: number,
    /** Consumers that give credits back per frame (one per face detector on the wire). */
    readonly consumers: number,
    /** Takes a finished frame's memory back (set by a splitter whose frames reach one face detector only). */
    private readonly recycle: ((data: Uint8Array) => void) | null = null,
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

  /** One consumer finished one frame; `data`, when given, is that frame's memory, no longer used. */
  release(data?: Uint8Array): void {
    if (this.outstanding > 0) this.outstanding--;
    if (data !== undefined && this.recycle !== null) this.recycle(data);
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  get inFlight(): number {
    return this.outstanding;
  }
}

const open = new Map<string, FrameCredits>();

export function openCredits(stream: string, limit: number, consumers: number, recycle: ((data: Uint8Array) => void) | null = null): FrameCredits {
  const credits = new FrameCredits(stream, Math.max(1, Math.floor(limit)), Math.max(1, consumers), recycle);
  open.set(stream, credits);
  return credits;
}

export function closeCredits(stream: string): void {
  const credits = open.get(stream);
  open.delete(stream);
  // Whoever waits is let go (the stream is over).
  credits?.release();
}

/**
 * A consumer finished a frame of `stream` (no-op for streams without credits). `data`: the frame's
 * memory, given up by the consumer (it kept no reference and sent none on).
 */
export function frameConsumed(stream: string, data?: Uint8Array): void {
  open.get(stream)?.release(data);
}

export function openCreditCount(): number {
  return open.size;
}
