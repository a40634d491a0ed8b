/**
 * Test flows for the Node-RED nodes: the real nodes from dist/nodes, loaded by
 * node-red-node-test-helper into a real Node-RED runtime.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import type { CompoundPayload, EndPayload } from '../../src/contract/messages';
import { REPO_ROOT } from '../helpers/testdata';

/** node-red-node-test-helper has no types; the part the tests use. */
export interface TestNode {
  readonly id: string;
  on(event: 'input', listener: (msg: TestMessage) => void): void;
  receive(msg: Record<string, unknown>): void;
}
export interface TestMessage {
  payload: unknown;
  topic?: string;
  error?: { message: string; source?: { id: string; type: string } };
  [key: string]: unknown;
}
export interface FlowNode {
  id: string;
  type: string;
  z?: string;
  wires?: string[][];
  [key: string]: unknown;
}
export interface Helper {
  init(runtimePath: string, settings?: Record<string, unknown>): void;
  startServer(): Promise<void>;
  stopServer(): Promise<void>;
  load(nodes: NodeModule[], flow: FlowNode[]): Promise<void>;
  unload(): Promise<void>;
  setFlows(flow: FlowNode[], type?: 'full' | 'flows' | 'nodes'): Promise<void>;
  getNode(id: string): TestNode;
  url(): string;
  /** The sinon sandbox whose spies on Node.prototype (send, status, log …) record every call. */
  readonly _sandbox: { resetHistory(): void; restore(): void };
  /** Node-RED's Node.prototype, whose methods the helper replaces with proxies over those spies. */
  readonly _NodePrototype: Record<string, unknown>;
}
export type NodeModule = (RED: unknown) => void;

export const helper = require('node-red-node-test-helper') as Helper;
helper.init(require.resolve('node-red'));

/** The Node.prototype methods the helper wraps at each load (its PROXY_METHODS). */
const SPIED_METHODS = ['log', 'status', 'warn', 'error', 'debug', 'trace', 'send'] as const;

/** The texts a node has shown in its status so far (from the helper's spy on `status`). */
export function statusTexts(id: string): string[] {
  // The spy sits on Node.prototype: it holds every node's calls, told apart by `this`.
  const spy = (helper.getNode(id) as unknown as { status: { args: Array<[{ text?: string } | undefined]>; thisValues: Array<{ id?: string }> } }).status;
  return spy.args.filter((_, i) => spy.thisValues[i]?.id === id).map(([s]) => s?.text ?? '');
}

/**
 * Loads a flow to run as it runs in Node-RED: without the helper's spies, which keep every call's
 * arguments (every frame message sent) until the flow is unloaded. sinon's restore cannot undo
 * them, because the helper puts a Proxy over each spy; the methods are put back by hand.
 */
export async function loadUnspied(nodes: NodeModule[], flow: FlowNode[]): Promise<void> {
  const prototype = helper._NodePrototype;
  const originals = SPIED_METHODS.map((name) => [name, prototype[name]] as const);
  await helper.load(nodes, flow);
  const proxies = new Map(SPIED_METHODS.map((name) => [prototype[name], name] as const));
  for (const [name, method] of originals) prototype[name] = method;
  // A node wired to something keeps its own copy of `send`, taken from the prototype when it started.
  const methods = new Map(originals);
  for (const n of flow) {
    const node = helper.getNode(n.id) as unknown as Record<string, unknown> | null;
    if (node === null) continue;
    for (const key of Object.keys(node)) {
      const name = proxies.get(node[key]);
      if (name !== undefined) node[key] = methods.get(name);
    }
  }
  helper._sandbox.restore();
}

const NODE_NAMES = ['cer-models', 'cer-media', 'cer-faces', 'cer-vs', 'cer-vd', 'cer-acoustic', 'cer-fusion', 'cer-rules', 'cer-fit-weights'] as const;
/** Every node module of the package, as Node-RED loads them. */
export const NODES: NodeModule[] = NODE_NAMES.map((n) => require(path.join(REPO_ROOT, 'dist', 'nodes', n, `${n}.js`)) as NodeModule);

export interface PipelineFlowOptions {
  readonly target?: string;
  readonly rule?: string;
  readonly preset?: string;
  readonly strategy?: string;
  readonly referenceCompat?: boolean;
  readonly withConfig?: boolean;
  readonly maxWait?: number;
  /** A model config for the acoustic node: a manifest path. */
  readonly acousticModel?: string;
  /** The acoustic node's switch (`useModel`); default on, as a new node has it. */
  readonly acoustic?: boolean;
  /** The VS node's crop settings (absent: the node's defaults, as a flow from before them). */
  readonly vsAlign?: boolean;
  readonly vsFlip?: boolean;
}

/**
 * media → faces → VS → VD → fusion → rules → out, the acoustic node on the audio output, the
 * events on `events`, and a Catch node feeding `caught`. By default as `cer analyze` with no flags:
 * the bundled acoustic model and the paper's audio-visual preset (paper-av8).
 */
export function pipelineFlow(o: PipelineFlowOptions = {}): FlowNode[] {
  const z = 'tab1';
  const model = o.withConfig ? 'models1' : '';
  const flow: FlowNode[] = [
    { id: z, type: 'tab', label: 'test' },
    { id: 'media', z, type: 'cer-media', source: '', allowLive: false, loop: false, realtime: false, audio: true, lookahead: 4, wires: [['faces'], ['acoustic'], ['events']] },
    { id: 'faces', z, type: 'cer-faces', model, detector: 'auto', target: o.target ?? 'largest', referenceCompat: o.referenceCompat ?? false, wholeFrameFace: false, wires: [['vs']] },
    { id: 'vs', z, type: 'cer-vs', model, referenceCompat: o.referenceCompat ?? false, ...(o.vsAlign !== undefined ? { align: o.vsAlign } : {}), ...(o.vsFlip !== undefined ? { flip: o.vsFlip } : {}), wires: [['vd', 'fusion']] },
    { id: 'vd', z, type: 'cer-vd', model: '', referenceCompat: o.referenceCompat ?? false, wires: [['fusion']] },
    { id: 'acoustic', z, type: 'cer-acoustic', model: o.acousticModel ? 'amodel' : '', useModel: o.acoustic ?? true, gate: true, referenceCompat: o.referenceCompat ?? false, wires: [['fusion']] },
    { id: 'fusion', z, type: 'cer-fusion', strategy: o.strategy ?? 'dirichlet', preset: o.preset ?? 'paper-av8', models: 'vs,vd', weights: '', modelWeights: '', maxWait: o.maxWait ?? 0, wires: [['rules']] },
    { id: 'rules', z, type: 'cer-rules', rule: o.rule ?? 'none', topK: 3, wires: [['out']] },
    { id: 'out', z, type: 'helper' },
    { id: 'events', z, type: 'helper' },
    { id: 'catcher', z, type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z, type: 'helper' },
  ];
  if (o.acousticModel) flow.push({ id: 'amodel', type: 'cer-models', model: o.acousticModel, provider: 'cpu', threads: 1 });
  if (o.withConfig) flow.push({ id: 'models1', type: 'cer-models', model: '', provider: 'cpu', threads: 1 });
  return flow;
}

export interface FlowRun {
  readonly results: CompoundPayload[];
  readonly end: EndPayload;
  readonly seconds: number;
}

/** Plays `source` through the loaded pipeline flow and collects the rules node's output until the end. */
export function runPipeline(source: string, timeoutMs = 240_000): Promise<FlowRun> {
  return new Promise((resolve, reject) => {
    const results: CompoundPayload[] = [];
    const started = performance.now();
    const timer = setTimeout(() => reject(new Error(`no end of stream within ${timeoutMs} ms (${results.length} results)`)), timeoutMs);
    helper.getNode('out').on('input', (msg) => {
      const p = msg.payload as CompoundPayload | EndPayload;
      if (p.type === 'end') {
        if (p.reason === 'error') return; // the end of an earlier failed run
        clearTimeout(timer);
        resolve({ results, end: p, seconds: (performance.now() - started) / 1000 });
      } else results.push(p);
    });
    helper.getNode('caught').on('input', (msg) => {
      clearTimeout(timer);
      reject(new Error(`caught: ${msg.error?.message ?? 'unknown error'}`));
    });
    helper.getNode('media').receive({ payload: source });
  });
}

/** The next message a node receives. */
export function nextMessage(id: string, timeoutMs = 60_000): Promise<TestMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${id} received nothing within ${timeoutMs} ms`)), timeoutMs);
    helper.getNode(id).on('input', (msg) => {
      clearTimeout(timer);
      resolve(msg);
    });
  });
}

/** A garbage collector, also when node runs without --expose-gc. */
export const gc: () => void = (() => {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
})();

/**
 * The process's memory once garbage is gone. V8 frees the memory of collected ArrayBuffers on a
 * background thread after the collection, so a reading right after one gc() can still count the
 * frames it just found dead; a second collection, a turn later, waits for that sweep.
 */
export async function settledMemory(): Promise<NodeJS.MemoryUsage> {
  gc();
  await new Promise<void>((resolve) => setImmediate(resolve));
  gc();
  return process.memoryUsage();
}

/** ffmpeg / ffprobe processes that are children of this process (from /proc). */
export function ffmpegChildren(): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')[0];
      if (ppid === process.pid && /ff(mpeg|probe)/.test(path.basename(cmd))) found.push(Number(entry));
    } catch {
      // ended while we looked
    }
  }
  return found;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
