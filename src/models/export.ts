/**
 * Exporting the paper's models (VS ResNet-50, VD LSTM, A wav2vec2) from the authors' PyTorch
 * checkpoints to ONNX with their manifests: `cer models export` runs tools/export/export.py (Python
 * with Debian's python3-torch), which the published package ships beside dist/ (package.json
 * "files"), together with the calibration script its int8-static quantisation runs.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, oneLine } from '../io/errors';
import { DEFAULT_MODELS_DIR, displayPath, PACKAGE_ROOT } from './manifest';

/** The export tool of a package (or checkout) rooted at `root`. */
export function exportScriptOf(root: string): string {
  return path.join(root, 'tools', 'export', 'export.py');
}

/** This package's export tool. */
export const EXPORT_SCRIPT = exportScriptOf(PACKAGE_ROOT);

/** `script` when it is there; else an InputError saying that the export needs a checkout of the repository. */
export function requireExportScript(script: string = EXPORT_SCRIPT): string {
  if (!fs.existsSync(script)) {
    throw new InputError(`the export tool ${displayPath(script)} is not part of this installation; cer models export needs a checkout of the repository (git clone it, npm ci, npm run build, then run cer models export there)`);
  }
  return script;
}

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
  requireExportScript(script);
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

export const EXPORT_KINDS = ['vs', 'vd', 'a'] as const;

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

/**
 * Exports one model (`kind`: vs, vd or a) as `cer models export` does: the options are checked,
 * then that the export tool is installed, then that Python has PyTorch; each failure is one line.
 */
export async function exportModel(kind: string, options: ExportOptions, script: string = EXPORT_SCRIPT): Promise<ExportSummary> {
  const args = exportArguments(kind, options);
  requireExportScript(script);
  const python = findPython(options.python);
  const problem = torchProblem(pythonStatus(python));
  if (problem !== undefined) throw new InputError(problem);
  return runExportTool(python, args, script);
}
