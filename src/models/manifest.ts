/**
 * Model manifests: one JSON file beside each ONNX model in `models/`, describing what the model is
 * for, where it came from, how to feed it and what its outputs are called.
 *
 * The loader validates every field and reports problems as one line naming the manifest file and
 * the field, e.g. `models/x.json: input.layout must be one of NHWC, NCHW, NTC, NT`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FileInputError, INPUT_LIMITS, jsonSyntaxDetail, readInputText } from '../io/safe-files';
import { ModelError } from './errors';

export const MODEL_TASKS = [
  'face-detection',
  'static-visual',
  'dynamic-visual',
  'acoustic',
  'voice-activity',
  'face-landmarks',
] as const;
export type ModelTask = (typeof MODEL_TASKS)[number];

export const TENSOR_LAYOUTS = ['NHWC', 'NCHW', 'NTC', 'NT'] as const;
export type TensorLayout = (typeof TENSOR_LAYOUTS)[number];
/** The layouts an image tensor can have. */
export type ImageLayout = Extract<TensorLayout, 'NHWC' | 'NCHW'>;

export const TENSOR_DTYPES = ['float32'] as const;
export type TensorDtype = (typeof TENSOR_DTYPES)[number];

export const COLOUR_ORDERS = ['rgb', 'bgr', 'gray'] as const;
export type ColourOrder = (typeof COLOUR_ORDERS)[number];

export const INTERPOLATIONS = ['nearest', 'bilinear'] as const;
export type Interpolation = (typeof INTERPOLATIONS)[number];

export const RESIZE_MODES = ['stretch', 'letterbox'] as const;
export type ResizeMode = (typeof RESIZE_MODES)[number];

export const OUTPUT_KINDS = ['logits', 'probabilities'] as const;
export type OutputKind = (typeof OUTPUT_KINDS)[number];

/**
 * The largest crop margin a static-visual model may ask for in `extra.crop.margin` (a fraction of
 * the face box's width and height added on each side). The face detector node sends each face on
 * with this much room around it (src/vision/align.ts faceContextBox).
 */
export const MAX_CROP_MARGIN = 0.25;

/** ITU-R BT.601 luma weights, used for `colour: "gray"` when `grayWeights` is not given. */
export const DEFAULT_GRAY_WEIGHTS: readonly [number, number, number] = [0.299, 0.587, 0.114];

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };
export type JsonObject = { readonly [key: string]: JsonValue };

export interface ModelInputSpec {
  readonly name: string;
  /** Dimensions; -1 marks a dynamic one (batch, time). */
  readonly shape: readonly number[];
  readonly layout: TensorLayout;
  readonly dtype: TensorDtype;
}

/**
 * How an image becomes the model's input: value fed = (pixel * scale - mean[c]) / std[c], per
 * channel in the given colour order (one channel for gray).
 */
export interface ImagePreprocessing {
  /** [width, height] of the model input. */
  readonly size: readonly [number, number];
  readonly colour: ColourOrder;
  /** Weights of r, g, b for gray; DEFAULT_GRAY_WEIGHTS when absent. */
  readonly grayWeights?: readonly [number, number, number];
  readonly scale: number;
  readonly mean: readonly number[];
  readonly std: readonly number[];
  readonly interpolation: Interpolation;
  readonly resize: ResizeMode;
}

/** Names of the model's output tensors by role; `scores` is always there. */
export interface ModelOutputNames {
  readonly scores: string;
  readonly features?: string;
  readonly [role: string]: string | undefined;
}

/** A manifest as written in the JSON file. */
export interface ModelManifest {
  readonly id: string;
  readonly task: ModelTask;
  /** The ONNX file, relative to the manifest's folder. */
  readonly file: string;
  /** Lower-case hex SHA-256 of the ONNX file. */
  readonly sha256: string;
  readonly licence: string;
  readonly nonCommercial: boolean;
  readonly source: string;
  readonly description: string;
  readonly input: ModelInputSpec;
  readonly preprocessing?: ImagePreprocessing;
  readonly outputs: ModelOutputNames;
  readonly outputKind?: OutputKind;
  readonly labels?: readonly string[];
  /** Task-specific settings (e.g. BlazeFace anchors); validated by the code that uses them. */
  readonly extra?: JsonObject;
}

/** A validated manifest together with where it and its model file are. */
export interface LoadedManifest extends ModelManifest {
  /** Absolute path of the manifest JSON file. */
  readonly manifestPath: string;
  /** Absolute path of the ONNX file (`file` resolved against the manifest's folder). */
  readonly modelPath: string;
  /** Short form of manifestPath for messages, e.g. `models/x.json`. */
  readonly label: string;
}

const MANIFEST_KEYS: ReadonlySet<string> = new Set([
  'id', 'task', 'file', 'sha256', 'licence', 'nonCommercial', 'source', 'description',
  'input', 'preprocessing', 'outputs', 'outputKind', 'labels', 'extra',
]);
const INPUT_KEYS: ReadonlySet<string> = new Set(['name', 'shape', 'layout', 'dtype']);
const PREPROCESSING_KEYS: ReadonlySet<string> = new Set([
  'size', 'colour', 'grayWeights', 'scale', 'mean', 'std', 'interpolation', 'resize',
]);
/** The most values (fixed dimensions multiplied) a model's input may take: 64 MiB of float32. */
export const MAX_INPUT_VALUES = 16 * 1024 * 1024;
/** The largest side of a model's input image (preprocessing.size). */
export const MAX_IMAGE_SIDE = 4096;
const LAYOUT_RANK: Readonly<Record<TensorLayout, number>> = { NHWC: 4, NCHW: 4, NTC: 3, NT: 2 };

/** The package root: the nearest folder above this file holding a package.json. */
function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(start, '..', '..');
    dir = parent;
  }
}

/** The package root (works from src/models and from dist/src/models). */
export const PACKAGE_ROOT = findPackageRoot(__dirname);
/** The package's own `models/` folder. */
export const DEFAULT_MODELS_DIR = path.join(PACKAGE_ROOT, 'models');

/**
 * A short name for a file in messages: relative to the package root when inside it
 * (`models/x.json`), else relative to the working directory when inside that, else absolute.
 */
export function displayPath(file: string): string {
  const abs = path.resolve(file);
  for (const base of [PACKAGE_ROOT, process.cwd()]) {
    const rel = path.relative(base, abs);
    if (rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel)) return rel.split(path.sep).join('/');
  }
  return abs;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** Field-by-field validation, throwing one-line ModelErrors naming `label` and the field. */
class Checker {
  constructor(private readonly label: string) {}

  fail(field: string, requirement: string, value: unknown): never {
    throw new ModelError(`${this.label}: ${field} ${requirement} (got ${describe(value)})`);
  }

  object(v: unknown, field: string): Record<string, unknown> {
    if (!isObject(v)) this.fail(field, 'must be an object', v);
    return v;
  }

  keys(obj: Record<string, unknown>, allowed: ReadonlySet<string>, field: string): void {
    for (const key of Object.keys(obj)) {
      if (!allowed.has(key)) {
        const where = field === '' ? key : `${field}.${key}`;
        throw new ModelError(`${this.label}: ${where} is not a known field (known: ${[...allowed].join(', ')})`);
      }
    }
  }

  string(v: unknown, field: string): string {
    if (typeof v !== 'string' || v.trim() === '') this.fail(field, 'must be a non-empty string', v);
    return v;
  }

  boolean(v: unknown, field: string): boolean {
    if (typeof v !== 'boolean') this.fail(field, 'must be true or false', v);
    return v;
  }

  number(v: unknown, field: string): number {
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(field, 'must be a finite number', v);
    return v;
  }

  oneOf<T extends string>(v: unknown, allowed: readonly T[], field: string): T {
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.fail(field, `must be one of ${allowed.join(', ')}`, v);
    }
    return v as T;
  }

  numbers(v: unknown, field: string, length?: number): number[] {
    if (!Array.isArray(v) || (length !== undefined && v.length !== length) || v.length === 0) {
      this.fail(field, length !== undefined ? `must be an array of ${length} numbers` : 'must be a non-empty array of numbers', v);
    }
    return v.map((x: unknown, i: number) => this.number(x, `${field}[${i}]`));
  }

  json(v: unknown, field: string): JsonValue {
    if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
    if (typeof v === 'number') return this.number(v, field);
    if (Array.isArray(v)) return v.map((x: unknown, i: number) => this.json(x, `${field}[${i}]`));
    if (isObject(v)) {
      const out: Record<string, JsonValue> = {};
      for (const [k, x] of Object.entries(v)) out[k] = this.json(x, `${field}.${k}`);
      return out;
    }
    return this.fail(field, 'must be plain JSON', v);
  }
}

function channelsOf(colour: ColourOrder): number {
  return colour === 'gray' ? 1 : 3;
}

function validatePreprocessing(c: Checker, raw: unknown, input: ModelInputSpec): ImagePreprocessing {
  const p = c.object(raw, 'preprocessing');
  c.keys(p, PREPROCESSING_KEYS, 'preprocessing');
  const size = c.numbers(p.size, 'preprocessing.size', 2);
  if (!size.every((s) => Number.isInteger(s) && s > 0)) c.fail('preprocessing.size', 'must be two positive integers [width, height]', p.size);
  if (size.some((s) => s > MAX_IMAGE_SIDE)) c.fail('preprocessing.size', `must be at most ${MAX_IMAGE_SIDE} pixels a side (a model's input image, not the video's)`, p.size);
  const colour = c.oneOf(p.colour, COLOUR_ORDERS, 'preprocessing.colour');
  const channels = channelsOf(colour);
  let grayWeights: [number, number, number] | undefined;
  if (p.grayWeights !== undefined) {
    const w = c.numbers(p.grayWeights, 'preprocessing.grayWeights', 3);
    grayWeights = [w[0], w[1], w[2]];
  }
  const scale = c.number(p.scale, 'preprocessing.scale');
  const mean = c.numbers(p.mean, 'preprocessing.mean', channels);
  const std = c.numbers(p.std, 'preprocessing.std', channels);
  std.forEach((s, i) => {
    if (s === 0) c.fail(`preprocessing.std[${i}]`, 'must not be 0', s);
  });
  const interpolation = c.oneOf(p.interpolation, INTERPOLATIONS, 'preprocessing.interpolation');
  const resize = c.oneOf(p.resize, RESIZE_MODES, 'preprocessing.resize');

  // The input tensor, where its sizes are fixed, must agree with the preprocessing.
  if (input.layout === 'NHWC' || input.layout === 'NCHW') {
    const [h, w, ch] = input.layout === 'NHWC'
      ? [input.shape[1], input.shape[2], input.shape[3]]
      : [input.shape[2], input.shape[3], input.shape[1]];
    if (w !== -1 && w !== size[0]) c.fail('preprocessing.size', `must match the input width ${w} of input.shape`, p.size);
    if (h !== -1 && h !== size[1]) c.fail('preprocessing.size', `must match the input height ${h} of input.shape`, p.size);
    if (ch !== -1 && ch !== channels) c.fail('preprocessing.colour', `gives ${channels} channel(s) but input.shape has ${ch}`, colour);
  } else {
    c.fail('preprocessing', `is for image inputs (input.layout NHWC or NCHW, not ${input.layout})`, raw);
  }
  return {
    size: [size[0], size[1]],
    colour,
    ...(grayWeights ? { grayWeights } : {}),
    scale,
    mean,
    std,
    interpolation,
    resize,
  };
}

/**
 * Validates parsed manifest JSON. `label` names the manifest in error messages.
 * Unknown fields are errors (they are usually typos); task-specific settings belong in `extra`.
 */
export function validateManifest(raw: unknown, label: string): ModelManifest {
  const c: Checker = new Checker(label);
  if (!isObject(raw)) throw new ModelError(`${label}: must be a JSON object (got ${describe(raw)})`);
  c.keys(raw, MANIFEST_KEYS, '');

  const id = c.string(raw.id, 'id');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id)) c.fail('id', 'must be letters, digits, ".", "_" or "-"', id);
  const task = c.oneOf(raw.task, MODEL_TASKS, 'task');
  const file = c.string(raw.file, 'file');
  if (!isConfinedName(file)) {
    c.fail('file', "must name the model file relative to the manifest's folder, without '..' (an absolute path or one that climbs out is refused); put the model file beside its manifest", file);
  }
  const sha = c.string(raw.sha256, 'sha256');
  if (!/^[0-9a-fA-F]{64}$/.test(sha)) c.fail('sha256', 'must be 64 hex digits', sha);
  const licence = c.string(raw.licence, 'licence');
  const nonCommercial = c.boolean(raw.nonCommercial, 'nonCommercial');
  const source = c.string(raw.source, 'source');
  const description = c.string(raw.description, 'description');

  const inp = c.object(raw.input, 'input');
  c.keys(inp, INPUT_KEYS, 'input');
  const inputName = c.string(inp.name, 'input.name');
  const layout = c.oneOf(inp.layout, TENSOR_LAYOUTS, 'input.layout');
  const shape = c.numbers(inp.shape, 'input.shape');
  if (!shape.every((d) => Number.isInteger(d) && (d > 0 || d === -1))) {
    c.fail('input.shape', 'must hold positive integers or -1 (dynamic)', inp.shape);
  }
  const fixedValues = shape.reduce((product, d) => (d > 0 ? product * d : product), 1);
  if (fixedValues > MAX_INPUT_VALUES) {
    c.fail('input.shape', `must describe at most ${MAX_INPUT_VALUES} values per input (this one needs ${fixedValues}, more memory than any expression model uses); check the shape`, inp.shape);
  }
  if (shape.length !== LAYOUT_RANK[layout]) {
    c.fail('input.shape', `must have ${LAYOUT_RANK[layout]} dimensions for layout ${layout}`, inp.shape);
  }
  const dtype = c.oneOf(inp.dtype, TENSOR_DTYPES, 'input.dtype');
  const input: ModelInputSpec = { name: inputName, shape, layout, dtype };

  const preprocessing = raw.preprocessing === undefined ? undefined : validatePreprocessing(c, raw.preprocessing, input);

  const outs = c.object(raw.outputs, 'outputs');
  const outputs: Record<string, string> = {};
  for (const [role, name] of Object.entries(outs)) outputs[role] = c.string(name, `outputs.${role}`);
  const scores = c.string(outs.scores, 'outputs.scores');

  const outputKind = raw.outputKind === undefined ? undefined : c.oneOf(raw.outputKind, OUTPUT_KINDS, 'outputKind');
  let labels: string[] | undefined;
  if (raw.labels !== undefined) {
    if (!Array.isArray(raw.labels) || raw.labels.length === 0) c.fail('labels', 'must be a non-empty array of strings', raw.labels);
    labels = raw.labels.map((l: unknown, i: number) => c.string(l, `labels[${i}]`));
  }
  let extra: JsonObject | undefined;
  if (raw.extra !== undefined) {
    c.object(raw.extra, 'extra');
    extra = c.json(raw.extra, 'extra') as JsonObject;
    if (task === 'static-visual') checkCrop(c, extra);
  }

  return {
    id,
    task,
    file,
    sha256: sha.toLowerCase(),
    licence,
    nonCommercial,
    source,
    description,
    input,
    ...(preprocessing ? { preprocessing } : {}),
    outputs: { ...outputs, scores },
    ...(outputKind ? { outputKind } : {}),
    ...(labels ? { labels } : {}),
    ...(extra ? { extra } : {}),
  };
}

/** A static-visual model's `extra.crop`: an object; its `margin`, where given, 0 to MAX_CROP_MARGIN. */
function checkCrop(c: Checker, extra: JsonObject): void {
  const crop = extra.crop;
  if (crop === undefined) return;
  const obj = c.object(crop, 'extra.crop');
  if (obj.margin === undefined) return;
  const margin = c.number(obj.margin, 'extra.crop.margin');
  if (margin < 0 || margin > MAX_CROP_MARGIN) c.fail('extra.crop.margin', `must be from 0 to ${MAX_CROP_MARGIN} (a fraction of the face box added on each side)`, margin);
}

/**
 * The crop margin a static-visual model asks for: `extra.crop.margin` (as `cer models install`
 * writes it; checked when the manifest is loaded), 0 when absent.
 */
export function cropMarginOf(manifest: Pick<ModelManifest, 'extra'>): number {
  const crop = manifest.extra?.crop;
  if (typeof crop !== 'object' || crop === null || Array.isArray(crop)) return 0;
  const margin = (crop as JsonObject).margin;
  return typeof margin === 'number' ? margin : 0;
}

/**
 * True for a `file` a manifest may hold: relative (no leading / or \\, no drive letter or URL scheme), no '..'
 * segment, no NUL. Where it resolves (symbolic links followed) is checked by confinedModelPath.
 */
export function isConfinedName(file: string): boolean {
  // A scheme (`http:`, `file:`) or drive letter (`C:`) would take the name out of the folder too.
  if (file.includes('\0') || path.posix.isAbsolute(file) || path.win32.isAbsolute(file) || /^[A-Za-z][A-Za-z0-9+.-]*:/.test(file)) return false;
  return !file.split(/[\\/]+/).some((segment) => segment === '..');
}

/**
 * The model file a manifest names, resolved against the manifest's folder, after checking that it
 * stays there once symbolic links are resolved (a missing file is left for the checks that read
 * it to report). Throws a one-line ModelError naming the manifest and its `file` field otherwise.
 */
export function confinedModelPath(manifestPath: string, file: string, label: string): string {
  const dir = path.dirname(path.resolve(manifestPath));
  const modelPath = path.resolve(dir, file);
  let realDir: string;
  let realFile: string;
  try {
    realDir = fs.realpathSync(dir);
    realFile = fs.realpathSync(modelPath);
  } catch {
    return modelPath;
  }
  const rel = path.relative(realDir, realFile);
  if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
    throw new ModelError(`${label}: file ${describe(file)} resolves outside the manifest's folder (through a symbolic link); the model file must lie in the manifest's folder or below it`);
  }
  return modelPath;
}

/** What loadManifest may be told beyond the manifest's path. */
export interface LoadManifestOptions {
  /**
   * The model file, when the caller wrote the manifest for it (a bare ONNX file's manifest in a
   * temporary folder): used instead of resolving `file`. Never from user input.
   */
  readonly modelPath?: string;
}

function parseManifestText(text: string, manifestPath: string, options: LoadManifestOptions = {}): LoadedManifest {
  const abs = path.resolve(manifestPath);
  const label = displayPath(abs);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ModelError(`${label}: not valid JSON: ${jsonSyntaxDetail(err, text)}`);
  }
  const manifest = validateManifest(raw, label);
  const modelPath = options.modelPath !== undefined ? path.resolve(options.modelPath) : confinedModelPath(abs, manifest.file, label);
  return { ...manifest, manifestPath: abs, modelPath, label };
}

function readError(manifestPath: string, err: unknown): ModelError {
  const label = displayPath(manifestPath);
  if (err instanceof FileInputError) return new ModelError(err.code === 'NOT_FOUND' ? `${label}: manifest not found` : `${label}: cannot read manifest: ${err.detail}`);
  return new ModelError(`${label}: cannot read manifest: ${err instanceof Error ? err.message : String(err)}`);
}

/** A manifest's text: a regular file of at most 4 MB (see io/safe-files.ts). */
function readManifestText(manifestPath: string): string {
  return readInputText(manifestPath, { maxBytes: INPUT_LIMITS.config, what: 'model manifest', raise: 'a manifest is a few KB; is this the right file?' });
}

/** Reads and validates a manifest file. */
export async function loadManifest(manifestPath: string, options: LoadManifestOptions = {}): Promise<LoadedManifest> {
  let text: string;
  try {
    text = readManifestText(manifestPath);
  } catch (err) {
    throw readError(manifestPath, err);
  }
  return parseManifestText(text, manifestPath, options);
}

/** Synchronous loadManifest, for configuration time. */
export function loadManifestSync(manifestPath: string): LoadedManifest {
  let text: string;
  try {
    text = readManifestText(manifestPath);
  } catch (err) {
    throw readError(manifestPath, err);
  }
  return parseManifestText(text, manifestPath);
}

/**
 * Every manifest (`*.json`) in `dir`, sorted by file name. An invalid manifest is an error (naming
 * the file and field) rather than being skipped silently.
 */
export async function listManifests(dir: string = DEFAULT_MODELS_DIR): Promise<LoadedManifest[]> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch (err) {
    throw new ModelError(`${displayPath(dir)}: cannot list models: ${err instanceof Error ? err.message : String(err)}`);
  }
  const files = names.filter((n) => n.endsWith('.json')).sort();
  return Promise.all(files.map((n) => loadManifest(path.join(dir, n))));
}

/**
 * The manifest in `dir` for `task` (and `id`, when given). Throws a ModelError when there is none,
 * or when, without an id, there are several (see selectModels).
 */
export async function findManifest(dir: string, task: ModelTask, id?: string): Promise<LoadedManifest> {
  if (id === undefined) {
    const found = (await selectModels([dir], [task])).get(task);
    if (found === undefined) throw new ModelError(`${displayPath(dir)}: no model manifest for task ${task}`);
    return found;
  }
  const found = (await listManifests(dir)).find((m) => m.task === task && m.id === id);
  if (!found) throw new ModelError(`${displayPath(dir)}: no model manifest for task ${task} with id ${id}`);
  return found;
}

/** Where an ONNX model file's manifest goes: the `.json` of the same name beside it. */
export function manifestPathBeside(onnxPath: string): string {
  return onnxPath.replace(/\.onnx$/i, '.json');
}

/**
 * The manifest beside an ONNX model file (which must name that file), or null when there is none:
 * the file is then a bare ONNX file (see recognise.ts).
 */
export async function manifestBesideOnnx(onnxPath: string): Promise<LoadedManifest | null> {
  const beside = manifestPathBeside(onnxPath);
  if (!fs.existsSync(beside)) return null;
  const manifest = await loadManifest(beside);
  if (path.resolve(manifest.modelPath) !== path.resolve(onnxPath)) throw new ModelError(`${manifest.label}: names ${path.basename(manifest.modelPath)}, not ${path.basename(onnxPath)}`);
  return manifest;
}

/**
 * The manifest an ONNX model file is described by: the `.json` of the same name beside it, which
 * must name that file.
 */
export async function manifestOfOnnx(onnxPath: string): Promise<LoadedManifest> {
  const manifest = await manifestBesideOnnx(onnxPath);
  if (manifest === null) {
    throw new ModelError(`${displayPath(onnxPath)}: an ONNX file needs its manifest beside it (${path.basename(manifestPathBeside(onnxPath))}): it says what the model is for and how to feed it; cer models install recognises the well-known expression models and writes it, docs/models.md shows how to write one`);
  }
  return manifest;
}

/**
 * One manifest per task from a list of manifest files, ONNX files (with their manifest beside them)
 * and folders of manifests. A folder fills the tasks no earlier entry settled; a file names its
 * task's model, and a second file for one task, or a file for a task an earlier folder settled, is
 * an error (name files before folders). Only `tasks` are considered when given. A folder with
 * several manifests for a task no earlier entry settled is an error naming them, not a silent pick:
 * `cer models export --quantize` writes fp32 and int8 models side by side, and which one runs must
 * be the user's choice.
 */
export async function selectModels(entries: readonly string[], tasks?: readonly ModelTask[]): Promise<Map<ModelTask, LoadedManifest>> {
  const wanted = (task: ModelTask): boolean => tasks === undefined || tasks.includes(task);
  const chosen = new Map<ModelTask, LoadedManifest>();
  for (const entry of entries) {
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(entry);
    } catch {
      throw new ModelError(`${displayPath(entry)}: no such model file or folder`);
    }
    if (!stat.isDirectory()) {
      const manifest = /\.onnx$/i.test(entry) ? await manifestOfOnnx(entry) : await loadManifest(entry);
      if (!wanted(manifest.task)) continue;
      const earlier = chosen.get(manifest.task);
      if (earlier !== undefined) throw new ModelError(`${manifest.label}: a second ${manifest.task} model, after ${earlier.label}`);
      chosen.set(manifest.task, manifest);
      continue;
    }
    const byTask = new Map<ModelTask, LoadedManifest[]>();
    for (const m of await listManifests(entry)) {
      if (wanted(m.task) && !chosen.has(m.task)) byTask.set(m.task, [...(byTask.get(m.task) ?? []), m]);
    }
    for (const [task, candidates] of byTask) {
      if (candidates.length > 1) {
        const names = candidates.map((m) => path.basename(m.manifestPath)).join(', ');
        throw new ModelError(`${displayPath(entry)}: ${candidates.length} ${task} models (${names}): name the one to use by its manifest file`);
      }
      chosen.set(task, candidates[0]);
    }
  }
  return chosen;
}
