/**
 * npm run bench:paper — the paper's three models on this machine, same inputs, 2 threads each:
 *  - VS ResNet-50 frames/s, VD windows/s, and the A real-time factor at the 0.5 s hop (two 4 s
 *    windows per second of media), in PyTorch eager (Debian's python3-torch) and in
 *    onnxruntime-node through our models layer;
 *  - the int8 models (VS: static, and dynamic for comparison; A: dynamic MatMuls, and with static
 *    convolutions too): their output difference against fp32 — on random inputs and on real faces
 *    and speech — and their speed-up;
 *  - batching (several frames / windows per call);
 *  - the full 12-layer acoustic model's ONNX-vs-PyTorch difference (CI checks a 2-layer one);
 *  - a sensitivity baseline for judging the int8 differences: how far the fp32 outputs move when
 *    the input is rounded to its own resolution (whole grey levels, 16-bit audio samples);
 *  - first, once the machine has settled, the whole paper pipeline's real-time factor through
 *    `cer analyze` on the RAVDESS clip, with the int8 and fp32 models.
 * Random weights (the authors' checkpoints are not redistributable); exports are cached in
 * .tmp/bench-paper/ (keyed by the export tool's source) — pass --fresh to redo them.
 *
 *   node dist/test/bench/paper.bench.js [--fresh] [--runs N] [--fps F] [--layers L]
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { CER } from '../helpers/cli';
import { EXPORT_SCRIPT, findPython, pythonStatus, runExportTool, torchProblem } from '../../src/models/export';
import { loadManifest, type LoadedManifest } from '../../src/models/manifest';
import { acquireSession, sha256File, type FloatFeed, type ModelSession } from '../../src/models/session';
import { RAVDESS_CLIP, REPO_ROOT } from '../helpers/testdata';
import { readAudio } from '../../src/media/audio';
import { ACOUSTIC_WINDOW_SAMPLES, normaliseWindow } from '../../src/stages/acoustic';
import { faceInputs } from '../../tools/calibration-inputs';

const THREADS = 2;
const HOP_SECONDS = 0.5;
const CACHE = path.join(REPO_ROOT, '.tmp', 'bench-paper');
const TOOL_DIR = path.join(REPO_ROOT, 'tools', 'export');

interface Options {
  fresh: boolean;
  runs: number;
  fps: number;
  layers: number;
}

function parseOptions(argv: readonly string[]): Options {
  const options: Options = { fresh: false, runs: 7, fps: 25, layers: 12 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a}: expected a positive number`);
      return v;
    };
    if (a === '--fresh') options.fresh = true;
    else if (a === '--runs') options.runs = Math.round(value());
    else if (a === '--fps') options.fps = value();
    else if (a === '--layers') options.layers = Math.round(value());
    else throw new Error(`unknown option ${a} (known: --fresh, --runs N, --fps F, --layers L)`);
  }
  return options;
}

// ---------------------------------------------------------------------------------------------
// Exports (cached)

interface Reference {
  readonly folder: string;
  readonly inputFile: string;
  readonly input: FloatFeed;
  readonly outputs: Readonly<Record<string, Float32Array>>;
}

function readF32(file: string): Float32Array {
  const bytes = fs.readFileSync(file);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

function readReference(folder: string): Reference {
  const meta = JSON.parse(fs.readFileSync(path.join(folder, 'reference.json'), 'utf8')) as {
    input: { file: string; shape: number[] };
    outputs: Record<string, { file: string }>;
  };
  const outputs: Record<string, Float32Array> = {};
  for (const [name, o] of Object.entries(meta.outputs)) outputs[name] = readF32(path.join(folder, o.file));
  const inputFile = path.join(folder, meta.input.file);
  return { folder, inputFile, input: { data: readF32(inputFile), shape: meta.input.shape }, outputs };
}

/** A hash of the export tool's sources: cached exports are redone when the tool changes. */
function toolHash(): string {
  const hash = createHash('sha256');
  for (const name of fs.readdirSync(TOOL_DIR).filter((n) => n.endsWith('.py')).sort()) hash.update(name).update(fs.readFileSync(path.join(TOOL_DIR, name)));
  return hash.digest('hex').slice(0, 16);
}

interface Exported {
  readonly fp32: LoadedManifest;
  /** The int8 dynamic copy (A), or for VS the int8 static one (its only int8 export). */
  readonly int8?: LoadedManifest;
  /** A: the int8 static copy (convolutions static over the dynamic int8 model). */
  readonly int8s?: LoadedManifest;
  readonly reference: Reference;
  readonly exportSeconds: number;
}

async function exportCached(python: string, kind: string, args: readonly string[], fresh: boolean): Promise<Exported> {
  const key = createHash('sha256').update(toolHash()).update(JSON.stringify([kind, args])).digest('hex').slice(0, 12);
  const dir = path.join(CACHE, `${kind}-${key}`);
  const done = path.join(dir, 'summary.json');
  if (fresh || !fs.existsSync(done)) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    process.stdout.write(`exporting ${kind} (${args.join(' ')}) ... `);
    const summary = await runExportTool(python, [kind, '--random-weights', '--out', dir, ...args]);
    process.stdout.write(`${summary.seconds.toFixed(0)} s\n`);
    fs.writeFileSync(done, JSON.stringify(summary));
  }
  const summary = JSON.parse(fs.readFileSync(done, 'utf8')) as { models: { manifest: string; reference?: string }[]; seconds: number };
  const [first, second, third] = summary.models;
  return {
    fp32: await loadManifest(first.manifest),
    int8: second !== undefined ? await loadManifest(second.manifest) : undefined,
    int8s: third !== undefined ? await loadManifest(third.manifest) : undefined,
    reference: readReference(first.reference ?? ''),
    exportSeconds: summary.seconds,
  };
}

/** A further int8 variant of an fp32 model (quantize.py with extra flags), with its own manifest. */
async function quantisedVariant(python: string, fp32: LoadedManifest, suffix: string, flags: readonly string[]): Promise<LoadedManifest> {
  const dir = path.dirname(fp32.manifestPath);
  const id = `${fp32.id}-${suffix}`;
  const file = path.join(dir, `${id}.onnx`);
  const manifestFile = path.join(dir, `${id}.json`);
  if (!fs.existsSync(manifestFile)) {
    const r = spawnSync(python, [path.join(TOOL_DIR, 'quantize.py'), fp32.modelPath, file, ...flags], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`quantize.py failed: ${r.stderr}`);
    const raw = JSON.parse(fs.readFileSync(fp32.manifestPath, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(manifestFile, JSON.stringify({ ...raw, id, file: path.basename(file), sha256: await sha256File(file) }, null, 2));
  }
  return loadManifest(manifestFile);
}

interface TorchTiming {
  readonly version: string;
  readonly median: number;
  /** Max |difference| between the timed model's first output and the exported reference's. */
  readonly sameModel: number;
}

/** PyTorch eager timing (bench_torch.py, same random weights) on the reference's first input. */
function torchTiming(python: string, kind: string, reference: Reference, runs: number, extra: readonly string[] = []): TorchTiming {
  const r = spawnSync(
    python,
    [path.join(TOOL_DIR, 'bench_torch.py'), kind, '--input', reference.inputFile, '--shape', reference.input.shape.join(','), '--runs', String(runs), '--threads', String(THREADS), ...extra],
    { encoding: 'utf8', maxBuffer: 1 << 26 },
  );
  if (r.status !== 0) throw new Error(`bench_torch.py ${kind} failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { torch: string; ms: number[]; firstOutput: number[] };
  const firstName = Object.keys(reference.outputs)[0];
  const want = reference.outputs[firstName];
  let sameModel = 0;
  out.firstOutput.forEach((v, i) => (sameModel = Math.max(sameModel, Math.abs(v - want[i]))));
  return { version: out.torch, median: median(out.ms), sameModel };
}

/** Up to `n` faces of the RAVDESS clip, prepared as the VS stage prepares them, as one batch. */
async function ravdessFaces(manifest: LoadedManifest, n: number): Promise<FloatFeed> {
  const rows = await faceInputs(manifest, [RAVDESS_CLIP], n);
  const size = rows[0].data.length;
  const data = new Float32Array(rows.length * size);
  rows.forEach((r, i) => data.set(r.data, i * size));
  return { data, shape: [rows.length, ...rows[0].shape.slice(1)] };
}

/** `n` windows of speech: the RAVDESS clip's audio padded to 4 s with its mean at shifts of 0.1 s, normalised as the acoustic stage does. */
async function speechWindows(n: number): Promise<FloatFeed> {
  const audio = (await readAudio(RAVDESS_CLIP)).samples;
  const data = new Float32Array(n * ACOUSTIC_WINDOW_SAMPLES);
  for (let i = 0; i < n; i++) {
    const start = i * 1600;
    normaliseWindow(audio.subarray(start, Math.min(audio.length, start + ACOUSTIC_WINDOW_SAMPLES)), data.subarray(i * ACOUSTIC_WINDOW_SAMPLES, (i + 1) * ACOUSTIC_WINDOW_SAMPLES));
  }
  return { data, shape: [n, ACOUSTIC_WINDOW_SAMPLES] };
}

/** The input with a perturbation as small as the input's own resolution, for a sensitivity baseline. */
function perturbed(kind: 'vs' | 'a', input: FloatFeed): FloatFeed {
  const data = Float32Array.from(input.data);
  if (kind === 'vs') {
    // Round every pixel to a whole grey level (the means are per channel, planes of 224 x 224).
    const plane = 224 * 224;
    const means = [91.4953, 103.8827, 131.0912];
    for (let i = 0; i < data.length; i++) {
      const m = means[Math.floor(i / plane) % 3];
      data[i] = Math.round(data[i] + m) - m;
    }
  } else {
    // Round to 16-bit audio samples.
    for (let i = 0; i < data.length; i++) data[i] = Math.round(data[i] * 32768) / 32768;
  }
  return { data, shape: input.shape };
}

// ---------------------------------------------------------------------------------------------
// Timing and comparing

/** The first `n` rows of a batch input, repeated cyclically when it has fewer. */
function batchOf(input: FloatFeed, n: number): FloatFeed {
  const rows = input.shape[0];
  const size = input.data.length / rows;
  const data = new Float32Array(n * size);
  for (let i = 0; i < n; i++) data.set(input.data.subarray((i % rows) * size, ((i % rows) + 1) * size), i * size);
  return { data, shape: [n, ...input.shape.slice(1)] };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

interface Timed {
  readonly label: string;
  readonly batch: number;
  /** Milliseconds per item (per frame / window), median and best of the runs. */
  readonly median: number;
  readonly best: number;
}

/**
 * Times the sessions on the same batch, interleaved run by run (so that other load on the machine
 * falls on all of them alike), after one warm-up each.
 */
async function timeInterleaved(entries: readonly { label: string; session: ModelSession }[], input: FloatFeed, batch: number, runs: number): Promise<Timed[]> {
  const feed = batchOf(input, batch);
  const times: number[][] = entries.map(() => []);
  for (const e of entries) await e.session.run({ [e.session.manifest.input.name]: feed });
  for (let r = 0; r < runs; r++) {
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k];
      const t0 = performance.now();
      await e.session.run({ [e.session.manifest.input.name]: feed });
      times[k].push((performance.now() - t0) / batch);
    }
  }
  return entries.map((e, k) => ({ label: e.label, batch, median: median(times[k]), best: Math.min(...times[k]) }));
}

function softmaxRows(logits: Float32Array, classes: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let r = 0; r < logits.length / classes; r++) {
    const row = logits.subarray(r * classes, (r + 1) * classes);
    const top = Math.max(...row);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += (out[r * classes + c] = Math.exp(row[c] - top));
    for (let c = 0; c < classes; c++) out[r * classes + c] /= sum;
  }
  return out;
}

interface Difference {
  readonly maxAbs: number;
  readonly scale: number;
  readonly probMaxAbs?: number;
  readonly argmaxAgree?: string;
}

function compare(got: Float32Array, want: Float32Array, classes?: number): Difference {
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  if (classes === undefined) return { maxAbs, scale };
  const p = softmaxRows(got, classes);
  const q = softmaxRows(want, classes);
  let probMaxAbs = 0;
  for (let i = 0; i < p.length; i++) probMaxAbs = Math.max(probMaxAbs, Math.abs(p[i] - q[i]));
  const rows = want.length / classes;
  let agree = 0;
  for (let r = 0; r < rows; r++) {
    const a = got.subarray(r * classes, (r + 1) * classes);
    const b = want.subarray(r * classes, (r + 1) * classes);
    if (a.indexOf(Math.max(...a)) === b.indexOf(Math.max(...b))) agree++;
  }
  return { maxAbs, scale, probMaxAbs, argmaxAgree: `${agree}/${rows}` };
}

async function outputsOf(session: ModelSession, input: FloatFeed): Promise<Record<string, Float32Array>> {
  const out = await session.run({ [session.manifest.input.name]: input });
  const result: Record<string, Float32Array> = {};
  for (const [name, o] of Object.entries(out)) result[name] = o.data;
  return result;
}

function fmtDiff(d: Difference): string {
  const probs = d.probMaxAbs !== undefined ? `, probabilities ${d.probMaxAbs.toExponential(1)}, argmax ${d.argmaxAgree}` : '';
  return `max |diff| ${d.maxAbs.toExponential(2)} (values up to ${d.scale.toFixed(2)})${probs}`;
}

function fileMb(m: LoadedManifest): string {
  return `${(fs.statSync(m.modelPath).size / 1e6).toFixed(0)} MB`;
}

/**
 * The whole paper pipeline through `cer analyze` on the RAVDESS clip: faces, VS (ResNet-50, every
 * frame), VD (LSTM, 5 windows/s), A (12-layer W2V2, 0.5 s hop), VAD gating, fusion. Measured before
 * the per-model timings, on a machine that has settled: measured right after them (minutes of
 * AVX-512 matrix work), the same command came out 5-10 % slower than started by hand on a machine at
 * rest (RTF 1.02-1.08 against 0.91-0.97), which is not what a user starting a run sees.
 */
async function measurePipelines(
  say: (line: string) => void,
  runs: readonly (readonly [string, LoadedManifest, LoadedManifest])[],
  vdFp32: LoadedManifest,
): Promise<void> {
  const settled = await settle();
  say(`whole paper pipeline through cer analyze on the RAVDESS clip (1-minute load average ${settled.toFixed(2)} when it started):`);
  const modelsDir = path.join(CACHE, 'pipeline-models');
  for (const [label, vsModel, aModel] of runs) {
    fs.rmSync(modelsDir, { recursive: true, force: true });
    fs.mkdirSync(modelsDir, { recursive: true });
    for (const m of [vsModel, vdFp32, aModel]) {
      // Hard links (or copies): a manifest's model file must lie in its folder, symbolic links resolved.
      for (const file of [m.manifestPath, m.modelPath]) {
        const to = path.join(modelsDir, path.basename(file));
        try {
          fs.linkSync(file, to);
        } catch {
          fs.copyFileSync(file, to);
        }
      }
    }
    // One thread per model (the pipeline's default): detection on the main thread, VS (8 crops a
    // call) and A each in a worker thread. Three runs: the median, and the spread (other work on
    // the machine).
    const rtfs: number[] = [];
    let frames = '';
    let failure = '';
    for (let i = 0; i < 3 && failure === ''; i++) {
      const run = spawnSync(process.execPath, [CER, 'analyze', RAVDESS_CLIP, '--models', modelsDir, '--out', CACHE, '--no-mouth-cue', '--vs-batch', '8'], { encoding: 'utf8' });
      const m = /(\d+) frames in ([\d.]+) s, .* real-time factor ([\d.]+)/.exec(run.stderr);
      if (run.status !== 0 || !m) failure = run.stderr.trim();
      else {
        frames = m[1];
        rtfs.push(Number(m[3]));
      }
    }
    if (failure !== '') say(`  ${label}: failed: ${failure}`);
    else {
      const rtf = median(rtfs);
      say(
        `  ${label}; 1 thread a model, --vs-batch 8: ${frames} frames, ` +
          `RTF ${rtf.toFixed(3)} (median of 3; ${Math.min(...rtfs).toFixed(3)}–${Math.max(...rtfs).toFixed(3)})  (target ≤ 1.0: ${rtf <= 1 ? 'met' : 'MISSED'})`,
      );
    }
  }
}

/** Waits (up to 2 minutes) for the 1-minute load average to fall below 1, e.g. after fresh exports; returns it. */
async function settle(): Promise<number> {
  const until = Date.now() + 120_000;
  while (os.loadavg()[0] >= 1 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 2000));
  return os.loadavg()[0];
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const python = findPython();
  const status = pythonStatus(python);
  const problem = torchProblem(status);
  if (problem !== undefined) {
    console.log(`bench:paper needs PyTorch for the exports and the eager timings: ${problem}`);
    process.exitCode = 1;
    return;
  }
  const torchThreads = String(THREADS);
  const load0 = os.loadavg()[0];
  console.log(
    `paper models benchmark: node ${process.version}, onnxruntime-node via src/models, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ` +
      `${THREADS} threads per model, load average ${load0.toFixed(2)} at start; random weights; export tool ${path.relative(REPO_ROOT, EXPORT_SCRIPT)}`,
  );

  // One export at a time: the machine is shared and the 12-layer export needs ~4.5 GB.
  const vs = await exportCached(python, 'vs', ['--reference', '8', '--threads', torchThreads, '--quantize', 'int8-static'], options.fresh);
  const vsDynamic = await quantisedVariant(python, vs.fp32, 'int8dyn', ['--conv']);
  const vd = await exportCached(python, 'vd', ['--reference', '8', '--threads', torchThreads], options.fresh);
  const a = await exportCached(python, 'a', ['--layers', String(options.layers), '--reference', '2', '--threads', torchThreads, '--quantize', 'int8-static'], options.fresh);
  if (vs.int8 === undefined || a.int8 === undefined || a.int8s === undefined) throw new Error('the int8 exports are missing');
  const aStatic = a.int8s;

  // No spinning: the sessions are timed in turn, and a pool still spinning after its own run would
  // slow the next session's (fp32 ResNet-50 measured 68 ms/frame so, 36 ms alone).
  const open = (m: LoadedManifest): Promise<ModelSession> => acquireSession(m, { intraOpNumThreads: THREADS, interOpNumThreads: 1, allowSpinning: false });
  const lines: string[] = [];
  const say = (s: string): void => {
    lines.push(s);
    console.log(s);
  };
  await measurePipelines(
    say,
    [
      ['int8 static VS, fp32 VD, int8 A with static convolutions', vs.int8, aStatic],
      ['int8 static VS, fp32 VD, int8 A', vs.int8, a.int8],
      ['fp32 VS/VD, int8 A', vs.fp32, a.int8],
    ],
    vd.fp32,
  );

  // --- VS
  const vsFp32 = await open(vs.fp32);
  const vsInt8 = await open(vs.int8);
  const vsInt8Dynamic = await open(vsDynamic);
  const vsRef = vs.reference;
  const vsOut32 = await outputsOf(vsFp32, vsRef.input);
  const vsOut8 = await outputsOf(vsInt8, vsRef.input);
  const vsOut8d = await outputsOf(vsInt8Dynamic, vsRef.input);
  const faces = await ravdessFaces(vs.fp32, 8);
  const faceOut32 = await outputsOf(vsFp32, faces);
  const faceOut8 = await outputsOf(vsInt8, faces);
  say('');
  say(`VS ResNet-50 (input 224x224; fp32 ${fileMb(vs.fp32)}, int8 static ${fileMb(vs.int8)}, int8 dynamic ${fileMb(vsDynamic)})`);
  say(`  onnxruntime fp32 vs PyTorch: logits ${fmtDiff(compare(vsOut32.logits, vsRef.outputs.logits, 7))}; features ${fmtDiff(compare(vsOut32.features, vsRef.outputs.features))}`);
  say(`  int8 static vs fp32, ${faces.shape[0]} RAVDESS faces: logits ${fmtDiff(compare(faceOut8.logits, faceOut32.logits, 7))}; features ${fmtDiff(compare(faceOut8.features, faceOut32.features))}`);
  say(`  int8 static vs fp32, random images (outside the calibration): logits ${fmtDiff(compare(vsOut8.logits, vsOut32.logits, 7))}`);
  say(`  int8 dynamic vs fp32, random images: logits ${fmtDiff(compare(vsOut8d.logits, vsOut32.logits, 7))}; features ${fmtDiff(compare(vsOut8d.features, vsOut32.features))}`);
  const vsNoise = compare((await outputsOf(vsFp32, perturbed('vs', vsRef.input))).logits, vsOut32.logits, 7);
  say(`  fp32 sensitivity baseline:   rounding the input to whole grey levels moves the logits by ${fmtDiff(vsNoise)}`);
  const vsTorchRun = torchTiming(python, 'vs', vsRef, 10);
  const vsTorch = vsTorchRun.median;
  say(`  PyTorch eager ${vsTorchRun.version} (batch 1): ${vsTorch.toFixed(1)} ms/frame = ${(1000 / vsTorch).toFixed(1)} frames/s (same model: outputs within ${vsTorchRun.sameModel.toExponential(1)})`);
  const vsTimes: Timed[] = [];
  for (const batch of [1, 8]) {
    const entries = [
      { label: 'fp32', session: vsFp32 },
      { label: 'int8 static', session: vsInt8 },
      { label: 'int8 dynamic', session: vsInt8Dynamic },
    ];
    vsTimes.push(...(await timeInterleaved(entries, vsRef.input, batch, options.runs)));
  }
  for (const t of vsTimes) {
    const base = vsTimes.find((x) => x.batch === t.batch && x.label === 'fp32') ?? t;
    say(`  onnxruntime ${t.label} batch ${t.batch}: ${t.median.toFixed(1)} ms/frame (best ${t.best.toFixed(1)}) = ${(1000 / t.median).toFixed(1)} frames/s; x${(base.median / t.median).toFixed(2)} vs fp32`);
  }
  await vsFp32.release();
  await vsInt8.release();
  await vsInt8Dynamic.release();

  // --- VD
  const vdFp32 = await open(vd.fp32);
  const vdOut = await outputsOf(vdFp32, vd.reference.input);
  say('');
  say(`VD LSTM (10 x 512 window; ${fileMb(vd.fp32)})`);
  say(`  onnxruntime vs PyTorch: logits ${fmtDiff(compare(vdOut.logits, vd.reference.outputs.logits, 7))}`);
  const vdTorchRun = torchTiming(python, 'vd', vd.reference, 30);
  const vdTorch = vdTorchRun.median;
  say(`  PyTorch eager (batch 1): ${vdTorch.toFixed(2)} ms/window = ${(1000 / vdTorch).toFixed(0)} windows/s (same model: outputs within ${vdTorchRun.sameModel.toExponential(1)})`);
  const vdTimes = [...(await timeInterleaved([{ label: 'fp32', session: vdFp32 }], vd.reference.input, 1, options.runs * 5)), ...(await timeInterleaved([{ label: 'fp32', session: vdFp32 }], vd.reference.input, 8, options.runs * 2))];
  for (const t of vdTimes) say(`  onnxruntime fp32 batch ${t.batch}: ${t.median.toFixed(2)} ms/window (best ${t.best.toFixed(2)}) = ${(1000 / t.median).toFixed(0)} windows/s`);
  await vdFp32.release();

  // --- A
  const aFp32 = await open(a.fp32);
  const aInt8 = await open(a.int8);
  const aInt8Static = await open(aStatic);
  const aRef = a.reference;
  const aOut32 = await outputsOf(aFp32, aRef.input);
  const aOut8 = await outputsOf(aInt8, aRef.input);
  const aOut8s = await outputsOf(aInt8Static, aRef.input);
  const speech = await speechWindows(4);
  const speechOut32 = await outputsOf(aFp32, speech);
  const speechOut8 = await outputsOf(aInt8, speech);
  const speechOut8s = await outputsOf(aInt8Static, speech);
  const classes = aFp32.manifest.labels?.length ?? 8;
  say('');
  say(`A wav2vec2-large-robust (${options.layers} layers) + head (4 s window; fp32 ${fileMb(a.fp32)}, int8 ${fileMb(a.int8)}, int8 static conv ${fileMb(aStatic)}); RTF at the ${HOP_SECONDS} s hop = s per window / ${HOP_SECONDS}`);
  say(`  onnxruntime fp32 vs PyTorch: logits ${fmtDiff(compare(aOut32.logits, aRef.outputs.logits, classes))}`);
  say(`  int8 (MatMul dynamic) vs fp32, random noise:          logits ${fmtDiff(compare(aOut8.logits, aOut32.logits, classes))}`);
  say(`  int8 (+ conv static) vs fp32, random noise:           logits ${fmtDiff(compare(aOut8s.logits, aOut32.logits, classes))}`);
  say(`  int8 (MatMul dynamic) vs fp32, ${speech.shape[0]} RAVDESS speech windows: logits ${fmtDiff(compare(speechOut8.logits, speechOut32.logits, classes))}`);
  say(`  int8 (+ conv static) vs fp32, ${speech.shape[0]} RAVDESS speech windows:  logits ${fmtDiff(compare(speechOut8s.logits, speechOut32.logits, classes))}`);
  const aNoise = compare((await outputsOf(aFp32, perturbed('a', aRef.input))).logits, aOut32.logits, classes);
  say(`  fp32 sensitivity baseline:   rounding the input to 16-bit samples moves the logits by ${fmtDiff(aNoise)}`);
  const aTorchRun = torchTiming(python, 'a', aRef, 2, ['--layers', String(options.layers)]);
  const aTorch = aTorchRun.median;
  say(`  PyTorch eager (batch 1): ${(aTorch / 1000).toFixed(2)} s/window, RTF ${(aTorch / 1000 / HOP_SECONDS).toFixed(2)} (same model: outputs within ${aTorchRun.sameModel.toExponential(1)})`);
  const aTimes: Timed[] = [];
  const aEntries = [
    { label: 'fp32', session: aFp32 },
    { label: 'int8', session: aInt8 },
    { label: 'int8 static conv', session: aInt8Static },
  ];
  for (const batch of [1, 4]) aTimes.push(...(await timeInterleaved(aEntries, aRef.input, batch, Math.max(3, Math.round(options.runs / 2)))));
  for (const t of aTimes) {
    const base = aTimes.find((x) => x.batch === t.batch && x.label === 'fp32') ?? t;
    say(`  onnxruntime ${t.label} batch ${t.batch}: ${t.median.toFixed(0)} ms/window (best ${t.best.toFixed(0)}), RTF ${(t.median / 1000 / HOP_SECONDS).toFixed(2)}; x${(base.median / t.median).toFixed(2)} vs fp32`);
  }
  await aFp32.release();
  await aInt8.release();
  await aInt8Static.release();

  // --- The models' share of a pipeline RTF (decoding, face detection, fusion not included).
  const pick = (ts: readonly Timed[], label: string, batch: number): number => (ts.find((t) => t.label === label && t.batch === batch) ?? { median: NaN }).median;
  const vdPerSecond = 5 * pick(vdTimes, 'fp32', 1);
  const vdTorchPerSecond = 5 * vdTorch;
  say('');
  say(`Models' share of the real-time factor at ${options.fps} frames/s (VS every frame, VD 5 windows/s, A ${1 / HOP_SECONDS} windows/s; no decoding or face detection):`);
  const combos: [string, number, number][] = [
    ['PyTorch eager', vsTorch, aTorch],
    ['onnxruntime fp32, batch 1', pick(vsTimes, 'fp32', 1), pick(aTimes, 'fp32', 1)],
    ['onnxruntime int8 A, fp32 VS, batch 1', pick(vsTimes, 'fp32', 1), pick(aTimes, 'int8', 1)],
    ['onnxruntime int8 A, int8 static VS, batch 1', pick(vsTimes, 'int8 static', 1), pick(aTimes, 'int8', 1)],
    ['onnxruntime int8 A, int8 static VS, VS batch 8, A batch 4', pick(vsTimes, 'int8 static', 8), pick(aTimes, 'int8', 4)],
    ['onnxruntime int8 static-conv A and static VS, batch 1', pick(vsTimes, 'int8 static', 1), pick(aTimes, 'int8 static conv', 1)],
    ['onnxruntime int8 static-conv A and static VS, batched', pick(vsTimes, 'int8 static', 8), pick(aTimes, 'int8 static conv', 4)],
  ];
  for (const [label, vsMs, aMs] of combos) {
    const vdMs = label === 'PyTorch eager' ? vdTorchPerSecond : vdPerSecond;
    const rtf = (options.fps * vsMs + vdMs + aMs / HOP_SECONDS) / 1000;
    say(`  ${label.padEnd(50)} RTF ${rtf.toFixed(2)}  (VS ${((options.fps * vsMs) / 1000).toFixed(2)} + VD ${(vdMs / 1000).toFixed(3)} + A ${(aMs / HOP_SECONDS / 1000).toFixed(2)})`);
  }
  say('');
  say(`load average ${load0.toFixed(2)} at start, ${os.loadavg()[0].toFixed(2)} at the end (other work on the machine slows every figure alike: runs are interleaved)`);
  fs.writeFileSync(path.join(CACHE, 'last-report.txt'), `${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
