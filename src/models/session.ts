/**
 * onnxruntime-node sessions, one per (model file, options) per process, shared and reference
 * counted: `acquireSession` hands out a handle, `handle.release()` gives it back, and the session is
 * closed when the last handle is released. The model file is checked against the manifest's
 * SHA-256 before use (the result is cached per path, mtime and size, so later acquires only stat).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ModelError } from './errors';
import { displayPath, loadManifest, type LoadedManifest } from './manifest';

export interface SessionOptions {
  /**
   * Execution providers to try in order, e.g. ['cuda', 'cpu']: the first one with which the
   * session can be created is used. Default ['cpu'].
   */
  readonly executionProviders?: readonly string[];
  /** Threads within one operator; 0 or absent: onnxruntime's default (one per core). */
  readonly intraOpNumThreads?: number;
  /** Threads across operators; 0 or absent: onnxruntime's default. */
  readonly interOpNumThreads?: number;
  /** onnxruntime's log level for the session, 0 verbose .. 4 fatal; default 3 (errors). */
  readonly logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /**
   * Whether the intra-op threads spin after a run waiting for the next one (onnxruntime's default,
   * true). Spinning threads take CPU from everything else, other sessions included.
   */
  readonly allowSpinning?: boolean;
}

/** A provider that was tried and could not be used. */
export interface ProviderFailure {
  readonly provider: string;
  readonly error: string;
}

/** A float32 input: data plus shape. */
export interface FloatFeed {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/** A float32 output: data plus dims. */
export interface FloatOutput {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** The shared state behind every handle on one (model file, options). */
export interface SharedSession {
  readonly key: string;
  readonly manifest: LoadedManifest;
  readonly session: ort.InferenceSession;
  /** The execution provider in use, e.g. 'cpu' or 'cuda'. */
  readonly provider: string;
  /** Providers tried before `provider` that failed, with why (empty when the first one worked). */
  readonly fallbacks: readonly ProviderFailure[];
  /** Handles currently holding this session. */
  readonly refCount: number;
}

interface RefCount {
  refs: number;
}

interface Entry {
  readonly count: RefCount;
  readonly promise: Promise<SharedEntry>;
}

class SharedEntry implements SharedSession {
  /** Runs in flight, awaited before the session is closed. */
  readonly running = new Set<Promise<unknown>>();

  constructor(
    readonly key: string,
    readonly manifest: LoadedManifest,
    readonly session: ort.InferenceSession,
    readonly provider: string,
    readonly fallbacks: readonly ProviderFailure[],
    readonly count: RefCount,
  ) {}

  get refCount(): number {
    return this.count.refs;
  }
}

const entries = new Map<string, Entry>();

function normaliseOptions(options: SessionOptions): Required<SessionOptions> {
  const providers: string[] = [];
  for (const p of options.executionProviders ?? ['cpu']) {
    const name = p.trim().toLowerCase();
    if (name !== '' && !providers.includes(name)) providers.push(name);
  }
  const threads = (n: number | undefined, what: string): number => {
    if (n === undefined) return 0;
    if (!Number.isInteger(n) || n < 0) throw new ModelError(`session options: ${what} must be a whole number >= 0 (got ${n})`);
    return n;
  };
  return {
    executionProviders: providers.length > 0 ? providers : ['cpu'],
    intraOpNumThreads: threads(options.intraOpNumThreads, 'intraOpNumThreads'),
    interOpNumThreads: threads(options.interOpNumThreads, 'interOpNumThreads'),
    logSeverityLevel: options.logSeverityLevel ?? 3,
    allowSpinning: options.allowSpinning ?? true,
  };
}

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ').trim();
}

// ---------------------------------------------------------------------------------------------
// Checksums

interface HashRecord {
  readonly mtimeMs: number;
  readonly size: number;
  readonly sha256: Promise<string>;
}

const hashes = new Map<string, HashRecord>();
let hashesComputed = 0;

/** SHA-256 (lower-case hex) of a file, streamed. */
export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    const stream = fs.createReadStream(file, { highWaterMark: 1 << 20 });
    stream.on('data', (chunk) => hash.update(chunk));
    stream.on('error', reject);
    stream.on('end', () => resolve(hash.digest('hex')));
  });
}

/** How many files have been hashed so far in this process (the stat cache avoids re-hashing). */
export function hashesComputedCount(): number {
  return hashesComputed;
}

/**
 * Checks the model file named by a manifest exists and has the manifest's SHA-256. A file whose
 * path, mtime and size match an earlier check is not hashed again; `cached` tells which happened.
 */
export async function verifyModelFile(manifest: LoadedManifest): Promise<{ sha256: string; cached: boolean }> {
  const fileLabel = displayPath(manifest.modelPath);
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(manifest.modelPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ModelError(`${manifest.label}: model file ${fileLabel} not found`);
    }
    throw new ModelError(`${manifest.label}: cannot read model file ${fileLabel}: ${message(err)}`);
  }
  if (!stat.isFile()) throw new ModelError(`${manifest.label}: model file ${fileLabel} is not a file`);

  let record = hashes.get(manifest.modelPath);
  const cached = record !== undefined && record.mtimeMs === stat.mtimeMs && record.size === stat.size;
  if (!cached || record === undefined) {
    hashesComputed++;
    const fresh: HashRecord = { mtimeMs: stat.mtimeMs, size: stat.size, sha256: sha256File(manifest.modelPath) };
    hashes.set(manifest.modelPath, fresh);
    fresh.sha256.catch(() => {
      if (hashes.get(manifest.modelPath) === fresh) hashes.delete(manifest.modelPath);
    });
    record = fresh;
  }
  let actual: string;
  try {
    actual = await record.sha256;
  } catch (err) {
    throw new ModelError(`${manifest.label}: cannot read model file ${fileLabel}: ${message(err)}`);
  }
  if (actual !== manifest.sha256) {
    // The actual sum is not printed: a manifest must not turn cer into a way to learn the hash of any file.
    throw new ModelError(`${manifest.label}: model file ${fileLabel} does not have the SHA-256 the manifest expects (${manifest.sha256}): the file is damaged, another version, or the manifest is wrong; fetch the model again (cer models install) or fix the manifest's sha256`);
  }
  return { sha256: actual, cached };
}

// ---------------------------------------------------------------------------------------------
// Sessions

/** The shared library each GPU execution provider of onnxruntime-node loads, by platform. */
const PROVIDER_LIBRARIES: Readonly<Record<string, Partial<Record<NodeJS.Platform, string>>>> = {
  cuda: { linux: 'libonnxruntime_providers_cuda.so', win32: 'onnxruntime_providers_cuda.dll' },
  tensorrt: { linux: 'libonnxruntime_providers_tensorrt.so', win32: 'onnxruntime_providers_tensorrt.dll' },
};

/**
 * Why `provider` cannot be used because onnxruntime-node's binaries for it are not installed, or
 * null when they are (or this is not known). Asking onnxruntime for a provider whose library is
 * absent prints a block of native error lines to stderr before failing; this says it in one line.
 */
export function missingProviderLibrary(provider: string): string | null {
  const library = PROVIDER_LIBRARIES[provider]?.[process.platform];
  if (library === undefined) return null;
  const binaries = path.join(path.dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
  if (!fs.existsSync(binaries) || fs.existsSync(path.join(binaries, library))) return null;
  return `onnxruntime-node's ${provider} binaries are not installed (${library} is absent; reinstall onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12)`;
}

/**
 * Why a GPU provider cannot run on this machine, or null when it may: on Linux, CUDA and TensorRT
 * need the NVIDIA driver (/proc/driver/nvidia/version, /dev/nvidiactl). Without it onnxruntime
 * prints a block of coloured native errors before failing; this says it in one line instead.
 */
export function missingGpuDriver(provider: string): string | null {
  if (process.platform !== 'linux' || PROVIDER_LIBRARIES[provider] === undefined) return null;
  if (fs.existsSync('/proc/driver/nvidia/version') || fs.existsSync('/dev/nvidiactl')) return null;
  return `this machine has no NVIDIA GPU driver (/proc/driver/nvidia/version and /dev/nvidiactl are absent), so the ${provider} provider cannot run; use the cpu provider (--provider cpu, or the model node's "cpu")`;
}

async function createSession(manifest: LoadedManifest, opts: Required<SessionOptions>, key: string, count: RefCount): Promise<SharedEntry> {
  const failures: ProviderFailure[] = [];
  for (const provider of opts.executionProviders) {
    const missing = missingProviderLibrary(provider) ?? missingGpuDriver(provider);
    if (missing !== null) {
      failures.push({ provider, error: missing });
      continue;
    }
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [provider],
      graphOptimizationLevel: 'all',
      logSeverityLevel: opts.logSeverityLevel,
      ...(opts.intraOpNumThreads > 0 ? { intraOpNumThreads: opts.intraOpNumThreads } : {}),
      ...(opts.interOpNumThreads > 0 ? { interOpNumThreads: opts.interOpNumThreads } : {}),
      ...(opts.allowSpinning ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
    };
    try {
      const session = await ort.InferenceSession.create(manifest.modelPath, sessionOptions);
      return new SharedEntry(key, manifest, session, provider, failures, count);
    } catch (err) {
      failures.push({ provider, error: message(err) });
    }
  }
  const why = failures.map((f) => `${f.provider}: ${f.error}`).join('; ');
  throw new ModelError(`${manifest.label}: onnxruntime cannot load model file ${displayPath(manifest.modelPath)} (${why})`);
}

/**
 * One user's hold on a shared session, made by acquireSession. Release it when done (further
 * calls are no-ops); the session closes, after any runs in flight, when the last hold is released.
 */
export class ModelSession {
  private isReleased = false;

  /**
   * @param shared the session shared with other holders (its `manifest` is the first holder's)
   * @param manifest this holder's manifest, named in this handle's errors
   */
  constructor(readonly shared: SharedSession, readonly manifest: LoadedManifest) {}

  get session(): ort.InferenceSession {
    return this.shared.session;
  }

  /** The execution provider in use. */
  get provider(): string {
    return this.shared.provider;
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  get fallbacks(): readonly ProviderFailure[] {
    return this.shared.fallbacks;
  }

  get released(): boolean {
    return this.isReleased;
  }

  /**
   * Runs the model on float32 inputs and returns float32 outputs by name (all outputs, or those
   * named). Input data are wrapped, not copied, so a caller may reuse its buffers between runs.
   */
  async run(feeds: Readonly<Record<string, FloatFeed>>, outputNames?: readonly string[]): Promise<Record<string, FloatOutput>> {
    if (this.isReleased) throw new ModelError(`${this.manifest.label}: session used after release`);
    const tensors: Record<string, ort.Tensor> = {};
    for (const [name, feed] of Object.entries(feeds)) {
      const expected = feed.shape.reduce((a, b) => a * b, 1);
      if (expected !== feed.data.length) {
        throw new ModelError(`${this.manifest.label}: input ${name} has ${feed.data.length} values but shape [${feed.shape.join(', ')}] needs ${expected}`);
      }
      tensors[name] = new ort.Tensor('float32', feed.data, feed.shape);
    }
    for (const name of outputNames ?? []) {
      if (!this.session.outputNames.includes(name)) {
        throw new ModelError(`${this.manifest.label}: ${name} is not an output of the model (it has ${this.session.outputNames.join(', ')})`);
      }
    }
    let results: ort.InferenceSession.OnnxValueMapType;
    try {
      // Always fetch every output: onnxruntime-node 1.23.2 mislabels results when given a subset
      // of output names (it returns them keyed by the first output names of the model).
      const entry = this.shared as SharedEntry;
      const pending = this.session.run(tensors);
      entry.running.add(pending);
      try {
        results = await pending;
      } finally {
        entry.running.delete(pending);
      }
    } catch (err) {
      throw new ModelError(`${this.manifest.label}: inference failed: ${message(err)}`, { cause: err });
    }
    const out: Record<string, FloatOutput> = {};
    for (const name of outputNames ?? Object.keys(results)) {
      const value = results[name];
      if (value.type !== 'float32' || !(value.data instanceof Float32Array)) {
        throw new ModelError(`${this.manifest.label}: output ${name} is ${value.type}, not float32 (use .session.run for it)`);
      }
      out[name] = { data: value.data, dims: value.dims };
    }
    return out;
  }

  /** Gives the hold back; the session closes when no handle holds it. */
  async release(): Promise<void> {
    if (this.isReleased) return;
    this.isReleased = true;
    const entry = this.shared as SharedEntry;
    if (entry.count.refs <= 0) return;
    entry.count.refs--;
    if (entry.count.refs === 0) {
      if (entries.get(entry.key)?.count === entry.count) entries.delete(entry.key);
      await Promise.allSettled([...entry.running]);
      await entry.session.release();
    }
  }
}

/**
 * A handle on the shared session for a model (a manifest, or the path of one). The file is
 * verified against the manifest's SHA-256 first. With several execution providers the first that
 * works is used; `handle.provider` says which and `handle.fallbacks` why others were passed over.
 */
export async function acquireSession(manifest: LoadedManifest | string, options: SessionOptions = {}): Promise<ModelSession> {
  const loaded = typeof manifest === 'string' ? await loadManifest(manifest) : manifest;
  const opts = normaliseOptions(options);
  await verifyModelFile(loaded);

  const key = JSON.stringify([loaded.modelPath, loaded.sha256, opts.executionProviders, opts.intraOpNumThreads, opts.interOpNumThreads, opts.logSeverityLevel, opts.allowSpinning]);
  let record = entries.get(key);
  if (record === undefined) {
    const count: RefCount = { refs: 0 };
    const created: Entry = { count, promise: createSession(loaded, opts, key, count) };
    record = created;
    entries.set(key, created);
    created.promise.catch(() => {
      if (entries.get(key) === created) entries.delete(key);
    });
  }
  // Counted before awaiting, so a release by another holder meanwhile cannot close it under us.
  record.count.refs++;
  const shared = await record.promise;
  return new ModelSession(shared, loaded);
}

/** How many distinct sessions are open (or opening) in this process. */
export function openSessionCount(): number {
  return entries.size;
}
