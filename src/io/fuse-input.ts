/**
 * The JSON that `cer fuse` and `cer fit-weights` read:
 *   { "models": ["vs","vd","a"], "probs": { "vs": [[7]…], … }, "frames"?: ["name", …],
 *     "fusion"?: { strategy, preset?, weights?, modelWeights? }, "rule"?: "none"|"rule1"|"rule2"|"rule1+rule2" }
 * A frame of a model may be null: that model has no vote for the frame.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultFusion, FusionConfigError, fusionFromOption, FusionSpec, NUM_BASIC, parseFusionSpec, parseRule, Rule } from '../core';
import { parseJson, readConfigFile } from './files';
import { InputError } from './errors';
import { describe } from '../core/describe';
import { checkVote, renormalisedWarning } from './votes';

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
  let fusion: FusionSpec;
  let rule: Rule;
  try {
    fusion = raw.fusion === undefined ? defaultFusion(models) : parseFusionSpec(raw.fusion, `${file}: fusion`);
    rule = raw.rule === undefined ? 'none' : parseRule(raw.rule, `${file}: rule`);
  } catch (err) {
    // A reader's errors are all InputErrors (one line, shown without a stack).
    throw err instanceof FusionConfigError ? new InputError(err.message) : err;
  }
  return { models, probs, present, frames, frameNames, fusion, rule, warnings };
}

/**
 * `--fusion` names a preset (dirichlet strategy) or a JSON file holding a fusion object; a relative
 * file name is read against `cwd` when one is given (else the process's working folder).
 */
export function fusionOption(value: string, cwd?: string): FusionSpec {
  const at = (file: string): string => (cwd === undefined ? file : path.resolve(cwd, file));
  return fusionFromOption(value, (file) => parseJson(readConfigFile(at(file), 'fusion file'), at(file)), (file) => fs.existsSync(at(file)));
}
