/**
 * Fusion settings (paper §3.3): the one place where they are read, checked and interpreted, for
 * `cer fuse`, `cer analyze`, `cer fit-weights`, the fusion node's editor settings and msg.fusion.
 *
 * A setting is a FusionSpec: a strategy, and a paper preset or the weights W (one row of 7 per
 * model) and, for the hierarchical strategy, v (one per model). Reading one from JSON checks its
 * shape (parseFusionSpec); resolving it for a list of models (resolveFusion) checks it against
 * those models and gives a Fusion ready to run. Every error is a FusionConfigError of one line.
 */
import { describe } from './describe';
import { BASIC_EMOTIONS, NUM_BASIC } from './emotions';
import {
  FUSION_PRESETS,
  FUSION_STRATEGIES,
  PRESET_NAMES,
  WEIGHT_SUM_TOLERANCE,
  type Fusion,
  type FusionSpec,
  type FusionStrategy,
  type PresetName,
} from './fusion';
import { RULES, type Rule } from './rules';

/** A fusion setting that cannot be used: the message is one line, naming the field. */
export class FusionConfigError extends Error {}

/** The models a fusion can join, in the row order of the presets: VS, VD and A. */
export const FUSION_MODELS = ['vs', 'vd', 'a'] as const;
export type FusionModel = (typeof FUSION_MODELS)[number];

const SPEC_FIELDS = ['strategy', 'preset', 'weights', 'modelWeights'] as const;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function isPresetName(name: unknown): name is PresetName {
  return typeof name === 'string' && (PRESET_NAMES as readonly string[]).includes(name);
}

function isStrategy(name: unknown): name is FusionStrategy {
  return typeof name === 'string' && (FUSION_STRATEGIES as readonly string[]).includes(name);
}

/** A weight of W, or a model weight v before its range is checked: a finite number ≥ 0. */
function isWeight(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0;
}

/** A value as a resolve-time message quotes it: at most 30 printable characters, no quotes. */
function short(x: unknown): string {
  if (Array.isArray(x)) return `an array of ${x.length}`;
  if (typeof x === 'object' && x !== null) return 'an object';
  const text = String(x).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
  return text.length > 30 ? `${text.slice(0, 30)}…` : text;
}

/** The preset's spec under the dirichlet strategy (what `--fusion paper-v` means), or undefined for another name. */
export function presetFusion(name: string): FusionSpec | undefined {
  return isPresetName(name) ? { strategy: 'dirichlet', preset: name } : undefined;
}

/** The fusion that applies when none is named: the paper's preset for these models, else the plain average. */
export function defaultFusion(models: readonly string[]): FusionSpec {
  for (const name of ['paper-av8', 'paper-v'] as const) {
    const preset = FUSION_PRESETS[name];
    if (preset.models.length === models.length && preset.models.every((m, i) => models[i] === m)) {
      return { strategy: 'dirichlet', preset: name };
    }
  }
  return { strategy: 'average' };
}

/**
 * The models a setting joins: a preset's own, VS+VD for 2 rows of weights, VS+VD+A for 3, and
 * `fallback` when the setting does not tell (the average, or weights of another size, refused later).
 */
export function modelsOfFusion<M extends string = FusionModel>(spec: FusionSpec, fallback: readonly M[]): M[] {
  if (isPresetName(spec.preset)) return [...FUSION_PRESETS[spec.preset].models] as M[];
  const rows = spec.weights?.length;
  if (rows === 2) return ['vs', 'vd'] as M[];
  if (rows === 3) return ['vs', 'vd', 'a'] as M[];
  return [...fallback];
}

/** Checks a fusion object's shape (W's and v's sizes are checked against the models by resolveFusion). */
export function parseFusionSpec(raw: unknown, where: string): FusionSpec {
  if (!isObject(raw)) throw new FusionConfigError(`${where}: expected an object, got ${describe(raw)}`);
  // `search` is what `cer fit-weights` writes beside the weights it found.
  const known = new Set<string>([...SPEC_FIELDS, 'search']);
  for (const key of Object.keys(raw)) {
    if (!known.has(key)) throw new FusionConfigError(`${where}.${key}: unknown field; expected ${SPEC_FIELDS.join(', ')}`);
  }
  if (!isStrategy(raw.strategy)) {
    throw new FusionConfigError(`${where}.strategy: expected one of ${FUSION_STRATEGIES.join(', ')}, got ${describe(raw.strategy)}`);
  }
  const spec: FusionSpec = { strategy: raw.strategy };
  if (raw.preset !== undefined) {
    if (!isPresetName(raw.preset)) {
      throw new FusionConfigError(`${where}.preset: unknown preset ${describe(raw.preset)}; expected one of ${PRESET_NAMES.join(', ')}`);
    }
    spec.preset = raw.preset;
  }
  if (raw.weights !== undefined) {
    const w = raw.weights;
    if (!Array.isArray(w)) throw new FusionConfigError(`${where}.weights: expected an array of rows, got ${describe(w)}`);
    spec.weights = w.map((row: unknown, m) => {
      if (!Array.isArray(row) || row.length !== NUM_BASIC) {
        throw new FusionConfigError(`${where}.weights[${m}]: expected 7 numbers, got ${describe(row)}`);
      }
      return row.map((x: unknown, c) => {
        if (!isWeight(x)) throw new FusionConfigError(`${where}.weights[${m}][${c}]: expected a finite number ≥ 0, got ${describe(x)}`);
        return x;
      });
    });
  }
  if (raw.modelWeights !== undefined) {
    const v = raw.modelWeights;
    if (!Array.isArray(v)) throw new FusionConfigError(`${where}.modelWeights: expected an array of numbers, got ${describe(v)}`);
    spec.modelWeights = v.map((x: unknown, m) => {
      if (!isWeight(x)) throw new FusionConfigError(`${where}.modelWeights[${m}]: expected a finite number ≥ 0, got ${describe(x)}`);
      return x;
    });
  }
  return spec;
}

export function parseRule(raw: unknown, where: string): Rule {
  if (typeof raw !== 'string' || !(RULES as readonly string[]).includes(raw)) {
    throw new FusionConfigError(`${where}: expected one of ${RULES.join(', ')}, got ${describe(raw)}`);
  }
  return raw as Rule;
}

/**
 * A setting given at run time (msg.fusion, or the fit-weights node's payload, whose `type` is
 * dropped): checked as a `--fusion` file is; the strategy defaults to dirichlet.
 */
export function fusionFromMessage(value: unknown, where: string): FusionSpec {
  if (!isObject(value)) throw new FusionConfigError(`${where}: expected an object: { strategy, preset?, weights?, modelWeights? }`);
  const fields: Record<string, unknown> = { ...value };
  delete fields.type;
  if (fields.strategy === undefined) fields.strategy = 'dirichlet';
  return parseFusionSpec(fields, where);
}

/**
 * `--fusion VALUE`: a preset's name (the dirichlet strategy) or a JSON file holding a fusion object.
 * `readJson` reads and parses the file (its errors name the file); `exists` says whether it is there.
 */
export function fusionFromOption(value: string, readJson: (file: string) => unknown, exists: (file: string) => boolean): FusionSpec {
  const preset = presetFusion(value);
  if (preset !== undefined) return parseFusionSpec(preset, '--fusion');
  // A word that is neither a preset nor a file was most likely meant as a preset.
  if (!exists(value) && !/[/\\.]/.test(value)) {
    throw new FusionConfigError(`--fusion: "${value}" is neither a preset (${PRESET_NAMES.join(', ')}) nor a file`);
  }
  return parseFusionSpec(readJson(value), value);
}

/** The fusion node's editor settings. */
export interface FusionSettings {
  strategy: FusionStrategy;
  /** A paper preset, or '' for the weights below. */
  preset: PresetName | '';
  /** Models in row order when no preset: "vs,vd" or "vs,vd,a". */
  models: string;
  /** W as JSON: one row of 7 per model (no preset). */
  weights: string;
  /** v as JSON: one number per model (hierarchical, no preset). */
  modelWeights: string;
}

function settingJson(text: unknown, what: string): unknown {
  if (typeof text !== 'string' || text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new FusionConfigError(`${what} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * The spec and models the editor settings describe. An unknown strategy is taken as dirichlet;
 * the weights' values are checked by resolveFusion.
 */
export function fusionFromSettings(settings: FusionSettings): { spec: FusionSpec; models: FusionModel[] } {
  const strategy: FusionStrategy = isStrategy(settings.strategy) ? settings.strategy : 'dirichlet';
  if (isPresetName(settings.preset)) {
    const preset = FUSION_PRESETS[settings.preset];
    return { spec: { strategy, preset: preset.name }, models: [...preset.models] as FusionModel[] };
  }
  const models = String(settings.models || 'vs,vd')
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '');
  for (const m of models) {
    if (!(FUSION_MODELS as readonly string[]).includes(m)) throw new FusionConfigError(`unknown model "${m}" (expected ${FUSION_MODELS.join(', ')})`);
  }
  const spec: FusionSpec = { strategy };
  const weights = settingJson(settings.weights, 'weights');
  const modelWeights = settingJson(settings.modelWeights, 'model weights');
  if (weights !== undefined) spec.weights = weights as number[][];
  if (modelWeights !== undefined) spec.modelWeights = modelWeights as number[];
  return { spec, models: models as FusionModel[] };
}

/**
 * Resolves a fusion spec for the named models. A preset needs the models named as its rows
 * (`vs`, `vd` and, for the audio-visual presets, `a`) in that order; explicit weights override it.
 * A spec that did not come through parseFusionSpec (the editor's table, a spec built in code) has
 * its values checked here too.
 */
export function resolveFusion(spec: FusionSpec, models: readonly string[]): Fusion {
  const M = models.length;
  if (M === 0) throw new FusionConfigError('fusion needs at least one model');
  if (!isStrategy(spec.strategy)) {
    throw new FusionConfigError(`unknown fusion strategy "${short(spec.strategy)}"; expected ${FUSION_STRATEGIES.join(', ')}`);
  }
  let weights: readonly (readonly number[])[] | undefined = spec.weights;
  let modelWeights: readonly number[] | undefined = spec.modelWeights;
  if (spec.preset !== undefined) {
    if (!isPresetName(spec.preset)) {
      throw new FusionConfigError(`unknown preset "${short(spec.preset)}"; expected ${PRESET_NAMES.join(', ')}`);
    }
    const preset = FUSION_PRESETS[spec.preset];
    if (models.length !== preset.models.length || preset.models.some((name, i) => models[i] !== name)) {
      throw new FusionConfigError(
        `preset ${preset.name} needs the models [${preset.models.join(', ')}] in that order, got [${models.join(', ')}]`,
      );
    }
    weights ??= preset.weights;
    modelWeights ??= preset.modelWeights;
  }

  const W = new Float64Array(M * NUM_BASIC);
  const v = new Float64Array(M).fill(1);
  if (spec.strategy === 'average') {
    W.fill(1 / M);
    return { strategy: spec.strategy, models: [...models], W, v, warnings: [] };
  }
  if (weights === undefined) {
    throw new FusionConfigError(`fusion strategy ${spec.strategy} needs "weights" (${M} rows of 7) or a "preset"`);
  }
  if (!Array.isArray(weights)) throw new FusionConfigError(`fusion.weights must be ${M} rows of 7 numbers, got ${short(weights)}`);
  if (weights.length !== M) {
    throw new FusionConfigError(`fusion.weights has ${weights.length} rows, expected one per model (${M}: ${models.join(', ')})`);
  }
  weights.forEach((row, m) => {
    if (!Array.isArray(row) || row.length !== NUM_BASIC) {
      throw new FusionConfigError(`fusion.weights[${m}] (${models[m]}) must have 7 numbers`);
    }
    row.forEach((w, c) => {
      if (!isWeight(w)) throw new FusionConfigError(`fusion.weights[${m}][${c}] must be a finite number ≥ 0, got ${short(w)}`);
      W[m * NUM_BASIC + c] = w;
    });
  });
  const warnings: string[] = [];
  // The published presets stay as published (paper-av7's Disgust column sums to 1.0536), also when
  // their weights are given out in full (a preset's table saved as a node's own, a result's fusion).
  const published = Object.values(FUSION_PRESETS).some(
    (p) => p.weights.length === M && p.weights.every((row, m) => row.every((w, c) => W[m * NUM_BASIC + c] === w)),
  );
  const off: string[] = [];
  for (let c = 0; c < NUM_BASIC; c++) {
    let sum = 0;
    for (let m = 0; m < M; m++) sum += W[m * NUM_BASIC + c];
    if (!(sum > 0)) {
      throw new FusionConfigError(`fusion.weights: every model's weight for ${BASIC_EMOTIONS[c]} (column ${c}) is 0; each class needs a weight > 0`);
    }
    if (published || Math.abs(sum - 1) <= WEIGHT_SUM_TOLERANCE) continue;
    off.push(`${BASIC_EMOTIONS[c]} ${Number(sum.toPrecision(6))}`);
    for (let m = 0; m < M; m++) W[m * NUM_BASIC + c] /= sum;
  }
  if (off.length > 0) warnings.push(`fusion.weights: the models' weights of a class should sum to 1; normalised the columns that did not (${off.join(', ')})`);
  if (spec.strategy === 'hierarchical') {
    if (modelWeights === undefined) {
      throw new FusionConfigError('hierarchical fusion needs "modelWeights" (one per model) or a "preset"');
    }
    if (!Array.isArray(modelWeights)) throw new FusionConfigError(`fusion.modelWeights must be ${M} numbers, got ${short(modelWeights)}`);
    if (modelWeights.length !== M) {
      throw new FusionConfigError(`fusion.modelWeights has ${modelWeights.length} values, expected ${M}`);
    }
    modelWeights.forEach((x, m) => {
      if (!isWeight(x) || x > 1) throw new FusionConfigError(`fusion.modelWeights[${m}] must be a number in [0, 1], got ${short(x)}`);
      v[m] = x;
    });
    if (v.every((x) => x === 0)) throw new FusionConfigError('fusion.modelWeights: every model weight is 0; at least one must be > 0');
  }
  return { strategy: spec.strategy, models: [...models], W, v, warnings };
}

/** resolveFusion, its errors prefixed with where the setting came from ("--fusion x.json", "msg.fusion"). */
export function resolveFusionAt(spec: FusionSpec, models: readonly string[], where: string): Fusion {
  try {
    return resolveFusion(spec, models);
  } catch (err) {
    if (err instanceof FusionConfigError) throw new FusionConfigError(`${where}: ${err.message}`);
    throw err;
  }
}
