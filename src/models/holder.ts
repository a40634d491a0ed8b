/**
 * What a class that runs one model keeps (the BlazeFace detector, the face mesh): the session it
 * holds until release(), and a queue that runs its calls one after another (they reuse input
 * buffers, or their results must keep their order).
 */
import { ModelError } from './errors';
import type { LoadedManifest } from './manifest';
import type { ModelRunner } from './worker-session';

export abstract class ModelHolder<H extends ModelRunner = ModelRunner> {
  private handle: H | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  /** `what` names the holder in the error a call after release() gets ("BlazeFace detector"). */
  protected constructor(handle: H, private readonly what: string) {
    this.handle = handle;
  }

  get manifest(): LoadedManifest {
    return this.session.manifest;
  }

  /** The execution provider in use ('cpu', 'cuda', ...). */
  get provider(): string {
    return this.session.provider;
  }

  /** True once release() was called. */
  get released(): boolean {
    return this.handle === undefined;
  }

  /** The session; a ModelError once released. */
  protected get session(): H {
    if (this.handle === undefined) throw new ModelError(`${this.what} used after release`);
    return this.handle;
  }

  /** Runs `job` after every call queued before it. */
  protected enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(job);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Gives the session back (closed when no one else uses it) after the call running now; calls
   * queued behind it, and later ones, get the used-after-release error. Further calls do nothing.
   */
  async release(): Promise<void> {
    const handle = this.handle;
    if (handle === undefined) return;
    this.handle = undefined;
    await this.queue;
    await handle.release();
  }
}
