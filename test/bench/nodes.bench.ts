/**
 * `npm run bench:nodes`: frames per second of the full Node-RED flow (media splitter → faces → VS →
 * VD → fusion → rules, in a real Node-RED runtime) against `cer analyze` on the same clip, and what
 * Node-RED's deep copy of a message costs for each kind of message the flow sends (Node-RED copies
 * a message for every extra wire on an output).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { CerPayload } from '../../src/contract/messages';
import { CER } from '../helpers/cli';
import { RAVDESS_CLIP, REPO_ROOT } from '../helpers/testdata';
import { helper, loadUnspied, NODES, pipelineFlow, runPipeline, sleep, type TestMessage } from '../nodes/helpers';

const RUNS = 5;
const cloneMessage = (require('@node-red/util') as { util: { cloneMessage<T>(m: T): T } }).util.cloneMessage;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** frames/s that `cer analyze` reports for the clip (its own timing: decoding and models, after loading). */
function cliFps(clip: string, out: string): number {
  const r = spawnSync(process.execPath, [CER, 'analyze', clip, '--out', out], { encoding: 'utf8', cwd: REPO_ROOT });
  const m = /(\d+) frames in ([\d.]+) s, ([\d.]+) frames\/s/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`cer analyze failed: ${r.stderr}`);
  return Number(m[1]) / Number(m[2]);
}

/** Bytes held in typed arrays anywhere in a message. */
function typedBytes(x: unknown, seen = new Set<unknown>()): number {
  if (ArrayBuffer.isView(x)) return x.byteLength;
  if (typeof x !== 'object' || x === null || seen.has(x)) return 0;
  seen.add(x);
  let n = 0;
  for (const v of Object.values(x)) n += typedBytes(v, seen);
  return n;
}

/** A deep copy in which every Buffer has memory of its own. */
function copyBuffers<T>(x: T): T {
  if (Buffer.isBuffer(x)) return Buffer.from(x) as T;
  if (Array.isArray(x)) return x.map(copyBuffers) as T;
  if (typeof x !== 'object' || x === null || ArrayBuffer.isView(x)) return x;
  return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, copyBuffers(v)])) as T;
}

function cloneCost(msg: TestMessage): { us: number; bytes: number; json: number } {
  const iterations = Math.max(20, Math.min(20000, Math.floor(2e8 / (typedBytes(msg) + 2000))));
  for (let i = 0; i < Math.min(iterations, 50); i++) cloneMessage(msg);
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) cloneMessage(msg);
  const us = ((performance.now() - t0) * 1000) / iterations;
  const json = JSON.stringify(msg, function (this: Record<string, unknown>, k: string, v: unknown) {
    const raw = this[k];
    return ArrayBuffer.isView(raw) ? `<${raw.byteLength} bytes>` : v;
  }).length;
  return { us, bytes: typedBytes(msg), json };
}

async function main(): Promise<void> {
  const clip = RAVDESS_CLIP;
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-bench-nodes-'));
  console.log(`bench:nodes on ${path.relative(REPO_ROOT, clip)} (${os.cpus().length} cores), best and median of ${RUNS} runs\n`);

  helper.init(require.resolve('node-red'));
  await helper.startServer();
  await loadUnspied(NODES, pipelineFlow());
  await sleep(1500); // models load when the flow starts
  await runPipeline(clip); // a first run, as `cer analyze` warms up before it times
  // Runs alternate, so that other work on the machine weighs on both alike.
  const cli: number[] = [];
  const flow: number[] = [];
  let frames = 0;
  for (let i = 0; i < RUNS; i++) {
    cli.push(cliFps(clip, out));
    const run = await runPipeline(clip);
    frames = run.end.frames;
    flow.push(run.end.frames / run.seconds);
  }

  // One message of each kind, as the nodes send them, taken from a run.
  const samples = new Map<string, TestMessage>();
  // Copied when seen: a frame's memory goes back to the decoder once the face detector is done with
  // it, and cloneMessage would not copy it (lodash clones a Buffer as a view on the same memory).
  const grab = (id: string, kind: string): void =>
    helper.getNode(id).on('input', (msg) => {
      const p = msg.payload as CerPayload;
      if (!samples.has(kind) && typeof p === 'object' && p !== null && p.type !== 'end' && (p.type !== 'face' || p.face !== null)) samples.set(kind, copyBuffers(msg));
    });
  grab('faces', 'frame (splitter → face detector)');
  grab('vs', 'face + crop (face detector → VS)');
  grab('vd', 'VS probabilities (VS → VD, fusion)');
  grab('rules', 'fused (fusion → rules)');
  grab('out', 'compound (rules → out)');
  await runPipeline(clip);
  await helper.unload();
  await helper.stopServer();
  fs.rmSync(out, { recursive: true, force: true });

  const best = (xs: number[]): number => Math.max(...xs);
  console.log('speed                                  best fps   median fps');
  console.log(`cer analyze (command line)             ${best(cli).toFixed(1).padStart(8)}   ${median(cli).toFixed(1).padStart(10)}`);
  console.log(`Node-RED flow (${frames} frames)             ${best(flow).toFixed(1).padStart(8)}   ${median(flow).toFixed(1).padStart(10)}`);
  const ratio = median(flow) / median(cli);
  console.log(`flow / command line: ${(100 * ratio).toFixed(0)} % (target ≥ 80 %)\n`);

  console.log('clone cost per message (RED.util.cloneMessage, paid once per extra wire on an output; it clones a Buffer as a view on the same memory, so no pixels are copied)');
  console.log('message                                 typed arrays   rest as JSON   µs per clone');
  for (const [kind, msg] of samples) {
    const c = cloneCost(msg);
    console.log(`${kind.padEnd(38)} ${(c.bytes / 1024).toFixed(1).padStart(9)} KiB ${(c.json / 1024).toFixed(1).padStart(10)} KiB ${c.us.toFixed(1).padStart(12)}`);
  }
  if (ratio < 0.8) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
