/**
 * The JSON that `cer fuse` and `cer fit-weights` read:
 *   { "models": ["vs","vd","a"], "probs": { "vs": [[7]…], … }, "frames"?: ["name", …],
 *     "fusion"?: { strategy, preset?, weights?, modelWeights? }, "rule"?: "none"|"rule1"|"rule2" }
 * A frame of a model may be null: that model has no vote for the frame.
 */
import {
  FUSION_PRESETS,
  FUSION_STRATEGIES,
  FusionSpec,
  FusionStrategy,
  NUM_BASIC,
  PRESET_NAMES,
  PresetName,
  Rule,
  RULES,
} from '../core';
import { InputError } from './errors';
import { checkVote, describe, renormalisedWarning } from './votes';

export interface FuseInput {
  readonly models: string[];
  /** Per model, frames × 7 values; a frame without a vote holds NaN in all 7 places. */
  readonly probs: Float64Array[];
  /** Per model and frame, whether the model voted. */
  readonly present: Uint8Array[];
  readonly frames: number;
  readonly frameNames?: string[];
  readonly fusion: FusionSpec;
  readonly rule: Rule;
  /** What was changed to make the input usable (votes renormalised), one line each. */
  readonly warnings: string[];
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** The fusion that applies when the input names none: the paper's preset for its models, else the plain average. */
export function defaultFusion(models: readonly string[]): FusionSpec {
  for (const name of ['paper-av8', 'paper-v'] as const) {
    const preset = FUSION_PRESETS[name];
    if (preset.models.length === models.length && preset.models.every((m, i) => models[i] === m)) {
      return { strategy: 'dirichlet', preset: name };
    }
  }
  return { strategy: 'average' };
}

/** Validates a fusion object's shape (the weights' sizes are checked against the models by resolveFusion). */
export function parseFusionSpec(raw: unknown, where: string): FusionSpec {
  if (!isObject(raw)) throw new InputError(`${where}: expected an object, got ${describe(raw)}`);
  const known = new Set(['strategy', 'preset', 'weights', 'modelWeights', 'search']);
  for (const key of Object.keys(raw)) {
    if (!known.has(key)) throw new InputError(`${where}.${key}: unknown field; expected strategy, preset, weights, modelWeights`);
  }
  const strategy = raw.strategy;
  if (typeof strategy !== 'string' || !(FUSION_STRATEGIES as readonly string[]).includes(strategy)) {
    throw new InputError(`${where}.strategy: expected one of ${FUSION_STRATEGIES.join(', ')}, got ${describe(strategy)}`);
  }
  const spec: FusionSpec = { strategy: strategy as FusionStrategy };
  if (raw.preset !== undefined) {
    if (typeof raw.preset !== 'string' || !(PRESET_NAMES as readonly string[]).includes(raw.preset)) {
      throw new InputError(`${where}.preset: unknown preset ${describe(raw.preset)}; expected one of ${PRESET_NAMES.join(', ')}`);
    }
    spec.preset = raw.preset as PresetName;
  }
  if (raw.weights !== undefined) {
    const w = raw.weights;
    if (!Array.isArray(w)) throw new InputError(`${where}.weights: expected an array of rows, got ${describe(w)}`);
    spec.weights = w.map((row: unknown, m) => {
      if (!Array.isArray(row) || row.length !== NUM_BASIC) {
        throw new InputError(`${where}.weights[${m}]: expected 7 numbers, got ${describe(row)}`);
      }
      return row.map((x: unknown, c) => {
        if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) {
          throw new InputError(`${where}.weights[${m}][${c}]: expected a finite number ≥ 0, got ${describe(x)}`);
        }
        return x;
      });
    });
  }
  if (raw.modelWeights !== undefined) {
    const v = raw.modelWeights;
    if (!Array.isArray(v)) throw new InputError(`${where}.modelWeights: expected an array of numbers, got ${describe(v)}`);
    spec.modelWeights = v.map((x: unknown, m) => {
      if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) {
        throw new InputError(`${where}.modelWeights[${m}]: expected a finite number ≥ 0, got ${describe(x)}`);
      }
      return x;
    });
  }
  return spec;
}

export function parseRule(raw: unknown, where: string): Rule {
  if (typeof raw !== 'string' || !(RULES as readonly string[]).includes(raw)) {
    throw new InputError(`${where}: expected one of ${RULES.join(', ')}, got ${describe(raw)}`);
  }
  return raw as Rule;
}

export function parseFuseInput(raw: unknown, file: string): FuseInput {
  if (!isObject(raw)) throw new InputError(`${file}: expected a JSON object, got ${describe(raw)}`);
  const modelsRaw = raw.models;
  if (!Array.isArray(modelsRaw) || modelsRaw.length === 0) {
    throw new InputError(`${file}: models: expected a non-empty array of model names, got ${describe(modelsRaw)}`);
  }
  const models = modelsRaw.map((name: unknown, i) => {
    if (typeof name !== 'string' || name.length === 0) throw new InputError(`${file}: models[${i}]: expected a name, got ${describe(name)}`);
    if (modelsRaw.indexOf(name) !== i) throw new InputError(`${file}: models[${i}]: ${describe(name)} is listed twice`);
    return name;
  });
  const probsRaw = raw.probs;
  if (!isObject(probsRaw)) throw new InputError(`${file}: probs: expected an object with one entry per model, got ${describe(probsRaw)}`);
  for (const key of Object.keys(probsRaw)) {
    if (!models.includes(key)) throw new InputError(`${file}: probs.${describe(key).slice(1, -1)}: ${describe(key)} is not in models [${models.join(', ')}]`);
  }
  let frames = -1;
  const warnings: string[] = [];
  const probs: Float64Array[] = [];
  const present: Uint8Array[] = [];
  models.forEach((name, m) => {
    const rows = probsRaw[name];
    if (!Array.isArray(rows)) throw new InputError(`${file}: probs.${name}: expected an array of frames, got ${describe(rows)}`);
    if (m === 0) frames = rows.length;
    else if (rows.length !== frames) {
      throw new InputError(`${file}: probs.${name} has ${rows.length} frames, probs.${models[0]} has ${frames}`);
    }
    const flat = new Float64Array(rows.length * NUM_BASIC);
    const voted = new Uint8Array(rows.length);
    let renormalised = 0;
    let firstOff = { f: 0, sum: 1 };
    rows.forEach((row: unknown, f) => {
      if (row === null) {
        flat.fill(NaN, f * NUM_BASIC, (f + 1) * NUM_BASIC);
        return;
      }
      const vote = checkVote(row, `${file}: probs.${name}[${f}]`);
      if (vote.renormalised && renormalised++ === 0) firstOff = { f, sum: vote.sum };
      flat.set(vote.probs, f * NUM_BASIC);
      voted[f] = 1;
    });
    if (renormalised > 0) warnings.push(renormalisedWarning(`${file}: probs.${name}`, renormalised, `frame ${firstOff.f}`, firstOff.sum));
    probs.push(flat);
    present.push(voted);
  });
  let frameNames: string[] | undefined;
  if (raw.frames !== undefined) {
    const names = raw.frames;
    if (!Array.isArray(names) || names.length !== frames || names.some((n) => typeof n !== 'string')) {
      throw new InputError(`${file}: frames: expected ${frames} frame names, got ${describe(names)}`);
    }
    frameNames = names as string[];
  }
  const fusion = raw.fusion === undefined ? defaultFusion(models) : parseFusionSpec(raw.fusion, `${file}: fusion`);
  const rule = raw.rule === undefined ? 'none' : parseRule(raw.rule, `${file}: rule`);
  return { models, probs, present, frames, frameNames, fusion, rule, warnings };
}
