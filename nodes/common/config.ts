/** What a model config node (cer-models) offers the nodes that use it. */
import type { LoadedManifest, ModelTask } from '../../src/models/manifest';
import type { SessionOptions } from '../../src/models/session';
import type { Node } from './red';

/** What the nodes using a model config get from it. */
export interface ModelUse {
  /** The resolved manifest, or null when the setting names none for the task. */
  readonly manifest: LoadedManifest | null;
  /** The execution provider the shared session actually runs on (null without a manifest or session). */
  readonly provider: string | null;
  readonly session: SessionOptions;
}

export interface CerModelsNode extends Node {
  readonly model: string;
  readonly sessionOptions: SessionOptions;
  /**
   * Registers a user and opens the shared session for its task (once). With `openSession: false`
   * the user gets the manifest and opens the model itself (in a worker thread, say): provider null.
   */
  use(user: Node, task: ModelTask, options?: { readonly openSession?: boolean }): Promise<ModelUse>;
  /** Deregisters a user; the config's hold on the session goes when the last user goes. */
  unuse(user: Node): Promise<void>;
  /** Number of nodes using the config now. */
  readonly users: number;
}

export function parseSessionOptions(provider: unknown, threads: unknown): SessionOptions {
  const providers = String(provider ?? 'cpu')
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .filter((p) => p !== '');
  const n = threads === undefined || threads === '' ? 1 : Number(threads);
  if (!Number.isInteger(n) || n < 0) throw new Error(`threads must be a whole number ≥ 0, got "${String(threads)}"`);
  return { executionProviders: providers.length > 0 ? providers : ['cpu'], intraOpNumThreads: n };
}
