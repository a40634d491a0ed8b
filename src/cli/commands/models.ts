/**
 * `cer models …`: list the installed models with their task, source, licence and checksum status;
 * verify checksums; install models from a folder or a URL; export the paper's models from PyTorch
 * checkpoints with tools/export (Python, Debian's python3-torch).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { InputError, oneLine } from '../../io/errors';
import { writeFileAtomic } from '../../io/files';
import {
  DEFAULT_MODELS_DIR,
  displayPath,
  loadManifest,
  PACKAGE_ROOT,
  validateManifest,
  type LoadedManifest,
  type ModelManifest,
} from '../../models/manifest';
import { recogniseOnnx } from '../../models/recognise';
import { sha256File } from '../../models/session';

// ---------------------------------------------------------------------------------------------
// Listing and verifying

export type ChecksumStatus = 'ok' | 'mismatch' | 'missing' | 'unreadable';

export interface ModelEntry {
  readonly id: string;
  readonly task: string;
  readonly manifest: string;
  readonly file: string;
  readonly licence: string;
  readonly nonCommercial: boolean;
  readonly source: string;
  readonly sha256: string;
  readonly checksum: ChecksumStatus;
  /** The file's actual SHA-256 when it could be read. */
  readonly actualSha256?: string;
  readonly bytes?: number;
}

export interface InvalidManifest {
  readonly manifest: string;
  readonly error: string;
}

export interface ModelsReport {
  readonly dir: string;
  readonly models: readonly ModelEntry[];
  readonly invalid: readonly InvalidManifest[];
}

async function checkFile(manifest: LoadedManifest): Promise<Pick<ModelEntry, 'checksum' | 'actualSha256' | 'bytes'>> {
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(manifest.modelPath);
  } catch {
    return { checksum: 'missing' };
  }
  if (!stat.isFile()) return { checksum: 'missing' };
  try {
    const actual = await sha256File(manifest.modelPath);
    return { checksum: actual === manifest.sha256 ? 'ok' : 'mismatch', actualSha256: actual, bytes: stat.size };
  } catch {
    return { checksum: 'unreadable', bytes: stat.size };
  }
}

/** Every manifest in `dir` with the status of its model file; invalid manifests are reported, not thrown. */
export async function inspectModels(dir: string): Promise<ModelsReport> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch (err) {
    throw new InputError(`${displayPath(dir)}: cannot list models (${oneLine(err)})`);
  }
  const models: ModelEntry[] = [];
  const invalid: InvalidManifest[] = [];
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    const file = path.join(dir, name);
    let manifest: LoadedManifest;
    try {
      manifest = await loadManifest(file);
    } catch (err) {
      invalid.push({ manifest: displayPath(file), error: oneLine(err) });
      continue;
    }
    models.push({
      id: manifest.id,
      task: manifest.task,
      manifest: manifest.label,
      file: displayPath(manifest.modelPath),
      licence: manifest.licence,
      nonCommercial: manifest.nonCommercial,
      source: manifest.source,
      sha256: manifest.sha256,
      ...(await checkFile(manifest)),
    });
  }
  return { dir: displayPath(dir), models, invalid };
}

const STATUS_TEXT: Readonly<Record<ChecksumStatus, string>> = {
  ok: 'checksum ok',
  mismatch: 'CHECKSUM MISMATCH',
  missing: 'MODEL FILE MISSING',
  unreadable: 'MODEL FILE UNREADABLE',
};

/** The report as text people read: one block per model, licence first-class. */
export function formatModels(report: ModelsReport): string {
  const lines: string[] = [`models in ${report.dir}:`];
  if (report.models.length === 0 && report.invalid.length === 0) lines.push('  (none)');
  const idWidth = Math.max(0, ...report.models.map((m) => m.id.length));
  const taskWidth = Math.max(0, ...report.models.map((m) => m.task.length));
  for (const m of report.models) {
    lines.push(`${m.id.padEnd(idWidth)}  ${m.task.padEnd(taskWidth)}  ${STATUS_TEXT[m.checksum]}${m.nonCommercial ? '  NON-COMMERCIAL' : ''}`);
    lines.push(`  licence: ${m.licence}${m.nonCommercial ? ' (non-commercial use only)' : ''}`);
    lines.push(`  source:  ${m.source}`);
    if (m.checksum === 'mismatch') lines.push(`  sha256:  expected ${m.sha256}, file has ${m.actualSha256 ?? '?'}`);
    if (m.checksum === 'missing') lines.push(`  file:    ${m.file} not found`);
  }
  for (const bad of report.invalid) lines.push(`INVALID ${bad.manifest}: ${bad.error}`);
  return `${lines.join('\n')}\n`;
}

export interface ListOptions {
  readonly dir?: string;
  readonly json?: boolean;
}

export async function runModelsList(options: ListOptions): Promise<void> {
  const report = await inspectModels(path.resolve(options.dir ?? DEFAULT_MODELS_DIR));
  process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatModels(report));
}

/** Checks every model (or those named); throws an InputError when any fails. */
export async function runModelsVerify(ids: readonly string[], options: ListOptions): Promise<void> {
  const report = await inspectModels(path.resolve(options.dir ?? DEFAULT_MODELS_DIR));
  const unknown = ids.filter((id) => !report.models.some((m) => m.id === id));
  if (unknown.length > 0) throw new InputError(`no model with id ${unknown.join(', ')} in ${report.dir}`);
  const chosen = ids.length === 0 ? report.models : report.models.filter((m) => ids.includes(m.id));
  const invalid = ids.length === 0 ? report.invalid : [];
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ dir: report.dir, models: chosen, invalid }, null, 2)}\n`);
  } else {
    for (const m of chosen) process.stdout.write(`${m.checksum === 'ok' ? 'ok  ' : 'FAIL'}  ${m.id}  ${m.checksum === 'ok' ? m.sha256 : STATUS_TEXT[m.checksum]}\n`);
    for (const bad of invalid) process.stdout.write(`FAIL  ${bad.manifest}: ${bad.error}\n`);
  }
  const failed = chosen.filter((m) => m.checksum !== 'ok').length + invalid.length;
  if (failed > 0) throw new InputError(`${failed} of ${chosen.length + invalid.length} model(s) failed verification in ${report.dir}`);
}

// ---------------------------------------------------------------------------------------------
// Installing

export interface InstallOptions {
  readonly dir?: string;
  readonly sha256?: string;
  readonly force?: boolean;
  readonly quiet?: boolean;
  /** The id of the manifest written for an ONNX file without one (default: the recognised family's). */
  readonly id?: string;
}

/** What an ONNX file without a manifest was recognised as (src/models/recognise.ts). */
export interface RecognisedInstall {
  readonly family: string;
  readonly signature: string;
  readonly notes: readonly string[];
}

export interface Installed {
  readonly id: string;
  readonly manifest: string;
  readonly file: string;
  readonly nonCommercial: boolean;
  readonly licence: string;
  readonly recognised?: RecognisedInstall;
}

function checkSha(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9a-fA-F]{64}$/.test(value)) throw new InputError(`--sha256: expected 64 hex digits, got "${value}"`);
  return value.toLowerCase();
}

function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/** A temporary name in `dir` for a file being written; removed unless renamed into place. */
function partialPath(dir: string, name: string): string {
  return path.join(dir, `.${name}.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Removes `file` if the process is interrupted while it exists; returns the undo. */
function removeOnSignal(file: string): () => void {
  const handler = (signal: NodeJS.Signals): void => {
    fs.rmSync(file, { force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.removeListener('SIGINT', handler);
    process.removeListener('SIGTERM', handler);
  };
}

function prepareTarget(dir: string, manifest: ModelManifest, force: boolean): { modelName: string; manifestName: string } {
  const modelName = path.basename(manifest.file);
  const manifestName = `${manifest.id}.json`;
  fs.mkdirSync(dir, { recursive: true });
  if (!force) {
    for (const name of [manifestName, modelName]) {
      if (fs.existsSync(path.join(dir, name))) {
        throw new InputError(`${displayPath(path.join(dir, name))} already exists (use --force to replace ${manifest.id})`);
      }
    }
  }
  return { modelName, manifestName };
}

/** The manifest JSON as installed: the same fields, `file` being the bare file name. */
function installedManifestText(raw: Record<string, unknown>, modelName: string): string {
  return `${JSON.stringify({ ...raw, file: modelName }, null, 2)}\n`;
}

function expectSha(label: string, manifest: ModelManifest, expected: string | undefined): void {
  if (expected !== undefined && expected !== manifest.sha256) {
    throw new InputError(`${label}: --sha256 ${expected} does not match the manifest's ${manifest.sha256}`);
  }
}

async function copyVerified(from: string, to: string, sha256: string, label: string): Promise<void> {
  const dir = path.dirname(to);
  const partial = partialPath(dir, path.basename(to));
  const undo = removeOnSignal(partial);
  try {
    const hash = createHash('sha256');
    await new Promise<void>((resolve, reject) => {
      const input = fs.createReadStream(from, { highWaterMark: 1 << 20 });
      const output = fs.createWriteStream(partial, { flags: 'wx' });
      input.on('data', (chunk) => hash.update(chunk));
      input.on('error', reject);
      output.on('error', reject);
      output.on('finish', () => resolve());
      input.pipe(output);
    });
    const actual = hash.digest('hex');
    if (actual !== sha256) throw new InputError(`${label}: does not have the SHA-256 its manifest expects (${sha256}); nothing installed (fetch the model again, or fix the manifest's sha256)`);
    await fs.promises.rename(partial, to);
  } finally {
    undo();
    fs.rmSync(partial, { force: true });
  }
}

async function installFromFile(manifestFile: string, options: InstallOptions, expected: string | undefined): Promise<Installed> {
  const manifest = await loadManifest(manifestFile);
  expectSha(manifest.label, manifest, expected);
  const raw = JSON.parse(await fs.promises.readFile(manifestFile, 'utf8')) as Record<string, unknown>;
  const dir = path.resolve(options.dir ?? DEFAULT_MODELS_DIR);
  if (path.resolve(path.dirname(manifest.modelPath)) === dir && path.resolve(path.dirname(manifestFile)) === dir) {
    throw new InputError(`${manifest.label} is already in ${displayPath(dir)}`);
  }
  if (!fs.existsSync(manifest.modelPath)) throw new InputError(`${manifest.label}: model file ${displayPath(manifest.modelPath)} not found`);
  const { modelName, manifestName } = prepareTarget(dir, manifest, options.force === true);
  await copyVerified(manifest.modelPath, path.join(dir, modelName), manifest.sha256, displayPath(manifest.modelPath));
  writeFileAtomic(path.join(dir, manifestName), installedManifestText(raw, modelName));
  return { id: manifest.id, manifest: displayPath(path.join(dir, manifestName)), file: displayPath(path.join(dir, modelName)), nonCommercial: manifest.nonCommercial, licence: manifest.licence };
}

/**
 * Installs an ONNX file that has no manifest beside it: its graph is recognised as one of the
 * well-known facial-expression models and the manifest for it is written with the copy
 * (`<id>.onnx` and `<id>.json`); an unknown graph is refused with the fields to write.
 */
async function installRecognised(file: string, options: InstallOptions, expected: string | undefined): Promise<Installed> {
  const recognition = await recogniseOnnx(file, options.id === undefined ? {} : { id: options.id });
  const manifest = validateManifest(recognition.manifest, `${String(recognition.manifest.id)}.json`);
  expectSha(displayPath(file), manifest, expected);
  const dir = path.resolve(options.dir ?? DEFAULT_MODELS_DIR);
  const { modelName, manifestName } = prepareTarget(dir, manifest, options.force === true);
  await copyVerified(file, path.join(dir, modelName), manifest.sha256, displayPath(file));
  writeFileAtomic(path.join(dir, manifestName), installedManifestText(recognition.manifest, modelName));
  return {
    id: manifest.id,
    manifest: displayPath(path.join(dir, manifestName)),
    file: displayPath(path.join(dir, modelName)),
    nonCommercial: manifest.nonCommercial,
    licence: manifest.licence,
    recognised: { family: recognition.family, signature: recognition.signature, notes: recognition.notes },
  };
}

async function fetchOk(url: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { redirect: 'follow' });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
    throw new InputError(`${url}: download failed (${oneLine(err)}${cause})`);
  }
  if (!response.ok) throw new InputError(`${url}: download failed (HTTP ${response.status} ${response.statusText})`);
  return response;
}

/** Streams a URL into `to` through a partial file, verifying the SHA-256 before the rename. */
async function downloadVerified(url: string, to: string, sha256: string): Promise<void> {
  const partial = partialPath(path.dirname(to), path.basename(to));
  const undo = removeOnSignal(partial);
  try {
    const response = await fetchOk(url);
    if (response.body === null) throw new InputError(`${url}: download failed (empty response)`);
    const hash = createHash('sha256');
    const output = fs.createWriteStream(partial, { flags: 'wx' });
    const finished = new Promise<void>((resolve, reject) => {
      output.on('error', reject);
      output.on('finish', () => resolve());
    });
    try {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        hash.update(value);
        if (!output.write(value)) await new Promise<void>((resolve) => output.once('drain', () => resolve()));
      }
    } catch (err) {
      output.destroy();
      throw new InputError(`${url}: download failed (${oneLine(err)}); nothing installed`);
    }
    output.end();
    await finished;
    const actual = hash.digest('hex');
    if (actual !== sha256) throw new InputError(`${url}: does not have the SHA-256 its manifest expects (${sha256}); nothing installed (the download is damaged or another version)`);
    await fs.promises.rename(partial, to);
  } finally {
    undo();
    fs.rmSync(partial, { force: true });
  }
}

async function installFromUrl(url: string, options: InstallOptions, expected: string | undefined): Promise<Installed> {
  const response = await fetchOk(url);
  const text = await response.text();
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${url}: not a model manifest (not valid JSON: ${oneLine(err)})`);
  }
  const manifest = validateManifest(raw, url);
  expectSha(url, manifest, expected);
  const dir = path.resolve(options.dir ?? DEFAULT_MODELS_DIR);
  const { modelName, manifestName } = prepareTarget(dir, manifest, options.force === true);
  const modelUrl = new URL(manifest.file, response.url || url).toString();
  await downloadVerified(modelUrl, path.join(dir, modelName), manifest.sha256);
  writeFileAtomic(path.join(dir, manifestName), installedManifestText(raw as Record<string, unknown>, modelName));
  return { id: manifest.id, manifest: displayPath(path.join(dir, manifestName)), file: displayPath(path.join(dir, modelName)), nonCommercial: manifest.nonCommercial, licence: manifest.licence };
}

/**
 * Installs the models of a folder (every manifest in it), of one manifest file, or of a manifest
 * URL (its model file is fetched relative to it) into the models folder, each model file checked
 * against its manifest's SHA-256 (and `sha256` when given) before it is put in place.
 */
export async function installModels(source: string, options: InstallOptions = {}): Promise<Installed[]> {
  const expected = checkSha(options.sha256);
  if (isUrl(source)) return [await installFromUrl(source, options, expected)];
  let stat: fs.Stats;
  try {
    stat = fs.statSync(source);
  } catch {
    throw new InputError(`${source}: no such file or folder (give a folder of models, a manifest .json or an http(s) URL of one)`);
  }
  if (!stat.isDirectory() && /\.onnx$/i.test(source)) {
    const beside = source.replace(/\.onnx$/i, '.json');
    if (!fs.existsSync(beside)) return [await installRecognised(source, options, expected)];
    if (options.id !== undefined) throw new InputError(`--id is for an ONNX file without a manifest; ${displayPath(beside)} names ${displayPath(source)} already`);
    const manifest = await loadManifest(beside);
    if (path.resolve(manifest.modelPath) !== path.resolve(source)) throw new InputError(`${manifest.label}: names ${path.basename(manifest.modelPath)}, not ${path.basename(source)}`);
    return [await installFromFile(beside, options, expected)];
  }
  if (options.id !== undefined) throw new InputError('--id is for an ONNX file without a manifest (cer models install FILE.onnx --id ID)');
  const manifests = stat.isDirectory()
    ? fs.readdirSync(source).filter((n) => n.endsWith('.json')).sort().map((n) => path.join(source, n))
    : [source];
  if (manifests.length === 0) throw new InputError(`${source}: no model manifests (*.json) in this folder`);
  if (expected !== undefined && manifests.length > 1) throw new InputError(`--sha256 needs a single model, but ${source} has ${manifests.length} manifests`);
  // Validate them all before copying anything.
  for (const file of manifests) await loadManifest(file);
  const installed: Installed[] = [];
  for (const file of manifests) installed.push(await installFromFile(file, options, expected));
  return installed;
}

export async function runModelsInstall(source: string, options: InstallOptions): Promise<void> {
  const installed = await installModels(source, options);
  for (const m of installed) {
    if (m.recognised !== undefined) {
      process.stdout.write(`recognised ${displayPath(source)} as ${m.recognised.family} (graph: ${m.recognised.signature})\n`);
      for (const note of m.recognised.notes) process.stdout.write(`  note: ${note}\n`);
    }
    process.stdout.write(`installed ${m.id}: ${m.file} (checksum ok)\n`);
    if (m.recognised !== undefined) process.stdout.write(`  manifest written: ${m.manifest}\n`);
    if (m.nonCommercial) process.stdout.write(`  note: non-commercial use only (${m.licence})\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// Exporting with tools/export (Python)

export const EXPORT_SCRIPT = path.join(PACKAGE_ROOT, 'tools', 'export', 'export.py');
export const TORCH_PACKAGES: readonly { readonly module: string; readonly debian: string }[] = [
  { module: 'torch', debian: 'python3-torch' },
  { module: 'torchaudio', debian: 'python3-torchaudio' },
  { module: 'onnx', debian: 'python3-onnx' },
];
export const TORCH_INSTALL_HINT = `sudo apt-get install -y ${TORCH_PACKAGES.map((p) => p.debian).join(' ')} (or bash tools/setup.sh --export in a checkout of this project)`;

/** The Python to use: explicit, else $CER_PYTHON, else Debian's /usr/bin/python3, else python3 on PATH. */
export function findPython(explicit?: string): string {
  if (explicit !== undefined && explicit !== '') return explicit;
  const env = process.env.CER_PYTHON;
  if (env !== undefined && env !== '') return env;
  return fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

export interface PythonStatus {
  readonly python: string;
  /** False when the interpreter could not be run at all. */
  readonly runs: boolean;
  /** Debian packages whose modules the interpreter cannot import. */
  readonly missing: readonly string[];
}

/** Which of torch, torchaudio and onnx `python` lacks (found without importing them). */
export function pythonStatus(python: string): PythonStatus {
  const modules = TORCH_PACKAGES.map((p) => p.module);
  const probe = `import importlib.util,sys\nprint(",".join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))`;
  const r = spawnSync(python, ['-c', probe, ...modules], { encoding: 'utf8', timeout: 60000 });
  if (r.error !== undefined || r.status !== 0) return { python, runs: false, missing: TORCH_PACKAGES.map((p) => p.debian) };
  const absent = r.stdout.trim() === '' ? [] : r.stdout.trim().split(',');
  return { python, runs: true, missing: TORCH_PACKAGES.filter((p) => absent.includes(p.module)).map((p) => p.debian) };
}

/** One line saying what is missing and how to install it, or undefined when all is there. */
export function torchProblem(status: PythonStatus): string | undefined {
  if (!status.runs) return `cannot run ${status.python}; the model export needs Python 3 with ${TORCH_PACKAGES.map((p) => p.debian).join(', ')}: ${TORCH_INSTALL_HINT}`;
  if (status.missing.length === 0) return undefined;
  return `PyTorch is not installed for ${status.python} (missing ${status.missing.join(', ')}); install it with: ${TORCH_INSTALL_HINT}`;
}

export interface ExportedModel {
  readonly id: string;
  readonly manifest: string;
  readonly model: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly nonCommercial: boolean;
  readonly reference?: string;
  readonly quantisation?: Record<string, unknown>;
  /** Why no int8 copy was written, when --quantize int8 found nothing to quantise. */
  readonly int8?: string;
}

export interface ExportSummary {
  readonly models: readonly ExportedModel[];
  readonly seconds: number;
}

/**
 * Runs tools/export/export.py with `args` (the --json flag is added) and returns its summary.
 * Throws an InputError carrying the tool's own one-line message when it fails.
 */
export function runExportTool(python: string, args: readonly string[], script: string = EXPORT_SCRIPT): Promise<ExportSummary> {
  if (!fs.existsSync(script)) {
    throw new InputError(`the export tool ${displayPath(script)} is not part of this installation; run cer models export from a clone of the repository`);
  }
  return new Promise((resolve, reject) => {
    // CER_NODE: the Node.js that runs this, for the tool's calibration step (--quantize int8-static).
    const child = spawn(python, ['-B', script, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CER_NODE: process.execPath } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', (err) => reject(new InputError(`cannot run ${python}: ${oneLine(err)}`)));
    child.once('close', (code) => {
      if (code !== 0) {
        const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
        const last = (lines.at(-1) ?? `exit status ${String(code)}`).replace(/^(export\.py|usage): /, '');
        reject(new InputError(`model export failed: ${last}`));
        return;
      }
      try {
        const line = stdout.trim().split('\n').at(-1) ?? '';
        resolve(JSON.parse(line) as ExportSummary);
      } catch (err) {
        reject(new InputError(`model export printed no summary (${oneLine(err)}): ${stdout.slice(-200)}`));
      }
    });
  });
}

export interface ExportOptions {
  readonly out?: string;
  readonly weights?: string;
  readonly backbone?: string;
  readonly randomWeights?: boolean;
  readonly seed?: string;
  readonly layers?: string;
  readonly classes?: string;
  readonly id?: string;
  readonly quantize?: string;
  readonly quantizeConv?: boolean;
  readonly trustPickle?: boolean;
  readonly python?: string;
}

const EXPORT_KINDS = ['vs', 'vd', 'a'] as const;

function wholeNumber(value: string | undefined, option: string, min: number): string | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min) throw new InputError(`${option}: expected a whole number >= ${min}, got "${value}"`);
  return value;
}

/** The export.py arguments for the options (validated here so mistakes read as cer errors). */
export function exportArguments(kind: string, options: ExportOptions): string[] {
  if (!(EXPORT_KINDS as readonly string[]).includes(kind)) throw new InputError(`model to export: expected vs, vd or a, got "${kind}"`);
  const args = [kind, '--out', path.resolve(options.out ?? DEFAULT_MODELS_DIR)];
  if (options.randomWeights) {
    if (options.weights !== undefined || options.backbone !== undefined) throw new InputError('--random-weights excludes --weights and --backbone');
    args.push('--random-weights');
  } else if (options.weights === undefined && options.backbone === undefined) {
    throw new InputError(
      kind === 'vs'
        ? 'give --weights FER_static_ResNet50_AffectNet.pt (or --random-weights)'
        : kind === 'vd'
          ? 'give --weights FER_dinamic_LSTM_Aff-Wild2.pt (or --random-weights)'
          : 'give --weights epoch_63.pth and, unless it holds the backbone, --backbone <PDEM pytorch_model.bin> (or --random-weights)',
    );
  }
  for (const [flag, file] of [['--weights', options.weights], ['--backbone', options.backbone]] as const) {
    if (file === undefined) continue;
    if (!fs.existsSync(file)) throw new InputError(`${flag} ${file}: no such file`);
    args.push(flag, path.resolve(file));
  }
  if (options.backbone !== undefined && kind !== 'a') throw new InputError('--backbone is for the acoustic model (a)');
  const seed = wholeNumber(options.seed, '--seed', 0);
  if (seed !== undefined) args.push('--seed', seed);
  const layers = wholeNumber(options.layers, '--layers', 1);
  if (layers !== undefined) args.push('--layers', layers);
  if (options.classes !== undefined) {
    if (options.classes !== '7' && options.classes !== '8') throw new InputError(`--classes: expected 7 or 8, got "${options.classes}"`);
    args.push('--classes', options.classes);
  }
  if (options.id !== undefined) args.push('--id', options.id);
  if (options.quantize !== undefined) {
    if (options.quantize !== 'int8' && options.quantize !== 'int8-static' && options.quantize !== 'none') {
      throw new InputError(`--quantize: expected int8, int8-static or none, got "${options.quantize}"`);
    }
    if (options.quantize === 'int8-static' && kind === 'vd') throw new InputError('--quantize int8-static is for vs and a (the LSTM has no convolution)');
    args.push('--quantize', options.quantize);
  }
  if (options.quantizeConv) args.push('--quantize-conv');
  if (options.trustPickle) args.push('--trust-pickle');
  return args;
}

export async function runModelsExport(kind: string, options: ExportOptions): Promise<void> {
  const args = exportArguments(kind, options);
  const python = findPython(options.python);
  const problem = torchProblem(pythonStatus(python));
  if (problem !== undefined) throw new InputError(problem);
  const summary = await runExportTool(python, args);
  for (const m of summary.models) {
    process.stdout.write(`exported ${m.id}: ${displayPath(m.model)} (${(m.bytes / 1e6).toFixed(1)} MB, sha256 ${m.sha256}) and ${displayPath(m.manifest)}\n`);
    if (m.nonCommercial) process.stdout.write('  note: non-commercial use only (see the licence in the manifest)\n');
    if (m.int8 !== undefined) process.stdout.write(`  int8 copy ${m.int8}\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// Commands

export function registerModelsCommand(program: Command): void {
  const models = program.command('models').description('list, verify, install and export models (ONNX files with manifests)');
  const dirHelp = 'the models folder (default: the bundled models/)';

  models
    .command('list')
    .description('installed models with task, licence, source and checksum status')
    .option('--dir <dir>', dirHelp)
    .option('--json', 'machine-readable output')
    .action((options: ListOptions) => runModelsList(options));

  models
    .command('verify')
    .description('check every model file (or those named) against its manifest\'s SHA-256; exit 1 on any failure')
    .argument('[id...]', 'model ids (default: all)')
    .option('--dir <dir>', dirHelp)
    .option('--json', 'machine-readable output')
    .action((ids: string[], options: ListOptions) => runModelsVerify(ids, options));

  models
    .command('install')
    .description(
      'copy models (manifest + ONNX file) from a folder, a manifest file, a manifest URL or an ONNX file into the models folder, verifying checksums; ' +
        'an ONNX file without a manifest beside it is recognised by its graph (HSEmotion, OpenCV Zoo FER, FER+, the paper\'s ResNet-50) and its manifest written',
    )
    .argument('<source>', 'folder of manifests, a manifest .json, an .onnx file (its manifest beside it, or none), or an http(s) URL of a manifest (its model file is fetched beside it)')
    .option('--sha256 <hex>', 'expected SHA-256 of the model file (must also match the manifest)')
    .option('--dir <dir>', dirHelp)
    .option('--force', 'replace a model that is already installed')
    .option('--id <id>', 'an ONNX file without a manifest: the id of the manifest written (default: the recognised model\'s)')
    .addHelpText(
      'after',
      '\nExample:\n  cer models install ./exported/\n  cer models install enet_b2_8.onnx --dir my-models/\n' +
        '  cer models install enet_b0_8_best_afew.onnx --id vs-enet-b0-8-best-afew --dir my-models/\n' +
        '  cer models install https://example.org/models/vs-resnet50-affectnet.json --sha256 <hex>\n' +
        'Models it recognises and how to write a manifest for any other: docs/models.md',
    )
    .action((source: string, options: InstallOptions) => runModelsInstall(source, options));

  models
    .command('export')
    .description("export the paper's models (vs: ResNet-50, vd: LSTM, a: wav2vec2) from the authors' PyTorch checkpoints to ONNX with manifests (needs python3-torch)")
    .argument('<model>', 'vs, vd or a')
    .option('--out <dir>', 'where to write <id>.onnx and <id>.json (default: the bundled models/)')
    .option('--weights <file>', "the authors' checkpoint: FER_static_ResNet50_AffectNet.pt, FER_dinamic_LSTM_Aff-Wild2.pt or epoch_63.pth")
    .option('--backbone <file>', "a: the PDEM backbone's weights (wav2vec2-large-robust-12-ft-emotion-msp-dim pytorch_model.bin or model.safetensors)")
    .option('--random-weights', 'random weights, for tests and benchmarks')
    .option('--seed <n>', 'seed for --random-weights')
    .option('--layers <n>', 'a: transformer layers of the backbone (default 12)')
    .option('--classes <n>', 'a: 8 (with Other, default) or 7')
    .option('--id <id>', 'manifest id (default from the model and weights)')
    .option('--quantize <kind>', 'also write int8 copies: int8, dynamic (<id>-int8); int8-static (vs, a), convolutions with ranges calibrated on the bundled examples (<id>-int8s; for a also <id>-int8); none (default)')
    .option('--quantize-conv', 'with --quantize int8: quantise convolutions too')
    .option('--trust-pickle', 'load .pt/.pth checkpoints with full unpickling (only files you trust)')
    .option('--python <path>', 'the Python 3 with torch (default $CER_PYTHON or /usr/bin/python3)')
    .addHelpText(
      'after',
      '\nExample:\n  cer models export vs --weights FER_static_ResNet50_AffectNet.pt --out my-models/\n' +
        '  cer models export a --weights epoch_63.pth --backbone pytorch_model.bin --quantize int8 --out my-models/',
    )
    .action((kind: string, options: ExportOptions) => runModelsExport(kind, options));
}
