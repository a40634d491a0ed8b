/**
 * An onnxruntime session in a worker thread. onnxruntime-node runs inference synchronously on the
 * calling thread, so every model on the main thread runs one after another; a model that can work
 * while the main thread goes on (the mouth-open cue, while the next frame's face is detected) runs
 * here instead, on the machine's other core. Same `run` contract as ModelSession.
 */
import * as path from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { ModelError } from './errors';
import type { LoadedManifest } from './manifest';
import { acquireSession, type FloatFeed, type FloatOutput, type ModelSession, type SessionOptions } from './session';

/** What a stage needs of a model, run on this thread (ModelSession) or in a worker (WorkerSession). */
export type ModelRunner = Pick<ModelSession, 'run' | 'release' | 'provider' | 'manifest' | 'inputNames' | 'outputNames'>;

interface WorkerJob {
  /** The manifest as the parent loaded it (not reloaded from its path: a bare ONNX file's manifest is bound to its model by the caller, not by its `file`). */
  readonly manifest: LoadedManifest;
  readonly options: SessionOptions;
}

type ToWorker = { type: 'run'; id: number; feeds: Record<string, FloatFeed>; names?: readonly string[] } | { type: 'close' };
type FromWorker =
  | { type: 'ready'; provider: string; inputNames: readonly string[]; outputNames: readonly string[] }
  | { type: 'result'; id: number; outputs: Record<string, FloatOutput> }
  | { type: 'error'; id: number | null; message: string };

async function workerMain(port: NonNullable<typeof parentPort>, job: WorkerJob): Promise<void> {
  let handle;
  try {
    handle = await acquireSession(job.manifest, job.options);
  } catch (err) {
    port.postMessage({ type: 'error', id: null, message: (err as Error).message } satisfies FromWorker);
    port.close();
    return;
  }
  const session = handle;
  port.postMessage({ type: 'ready', provider: session.provider, inputNames: [...session.session.inputNames], outputNames: [...session.session.outputNames] } satisfies FromWorker);
  port.on('message', (m: ToWorker) => {
    if (m.type === 'close') {
      void session.release().finally(() => port.close());
      return;
    }
    session.run(m.feeds, m.names).then(
      (outputs) => {
        const transfer = Object.values(outputs).map((o) => o.data.buffer as ArrayBuffer);
        port.postMessage({ type: 'result', id: m.id, outputs } satisfies FromWorker, transfer);
      },
      (err: unknown) => port.postMessage({ type: 'error', id: m.id, message: (err as Error).message } satisfies FromWorker),
    );
  });
}

if (!isMainThread && parentPort !== null && (workerData as { modelWorker?: boolean } | null)?.modelWorker === true) {
  void workerMain(parentPort, (workerData as { job: WorkerJob }).job);
}

/** Model worker threads running now (for tests: 0 once every holder has released its model). */
let runningWorkers = 0;
export function runningModelWorkerCount(): number {
  return runningWorkers;
}

export class WorkerSession {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (o: Record<string, FloatOutput>) => void; reject: (e: Error) => void }>();
  private closed = false;
  /** Set when the worker thread has ended, however it ended: nothing more can run there. */
  private exited: Error | null = null;
  private readonly exit: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    readonly manifest: LoadedManifest,
    readonly provider: string,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'ready' || m.id === null) return;
      const call = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.type === 'result') call?.resolve(m.outputs);
      else call?.reject(new ModelError(m.message));
    });
    worker.on('error', (err) => this.failAll(err));
    this.exit = new Promise<void>((resolve) =>
      worker.once('exit', () => {
        runningWorkers--;
        this.exited = new ModelError(`${manifest.label}: model worker stopped`);
        this.failAll(this.exited);
        resolve();
      }),
    );
  }

  /** Loads the model in a new worker thread (its checksum is verified there, as acquireSession does). */
  static load(manifest: LoadedManifest, options: SessionOptions = {}): Promise<WorkerSession> {
    const worker = new Worker(path.join(__dirname, 'worker-session.js'), {
      workerData: { modelWorker: true, job: { manifest, options } satisfies WorkerJob },
    });
    return new Promise((resolve, reject) => {
      const onMessage = (m: FromWorker): void => {
        worker.off('message', onMessage);
        if (m.type === 'ready') {
          runningWorkers++;
          resolve(new WorkerSession(worker, manifest, m.provider, m.inputNames, m.outputNames));
        } else {
          void worker.terminate();
          reject(new ModelError(m.type === 'error' ? m.message : `${manifest.label}: model worker did not start`));
        }
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
  }

  /**
   * Runs the model. Inputs and outputs move between the threads without a copy: each feed's buffer
   * is transferred, so the caller hands it over and must not read or reuse it afterwards (a
   * structured-clone copy of the mouth cue's 442 KB input cost ~2 ms of main-thread time a call).
   */
  run(feeds: Readonly<Record<string, FloatFeed>>, outputNames?: readonly string[]): Promise<Record<string, FloatOutput>> {
    if (this.closed) return Promise.reject(new ModelError(`${this.manifest.label}: session used after release`));
    // A worker that died (an error in it, memory) would never answer: the call fails at once.
    if (this.exited !== null) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const transfer = [...new Set(Object.values(feeds).map((f) => f.data.buffer as ArrayBuffer))];
      this.worker.postMessage({ type: 'run', id, feeds: { ...feeds }, names: outputNames } satisfies ToWorker, transfer);
    });
  }

  private failAll(err: Error): void {
    for (const call of this.pending.values()) call.reject(err);
    this.pending.clear();
  }

  async release(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.exited === null) this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    await this.exit;
  }
}
