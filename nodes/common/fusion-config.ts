/** The fusion node's settings as a fusion spec (src/core/fusion.ts) and the models it joins. */
import { FUSION_PRESETS, FUSION_STRATEGIES, PRESET_NAMES, type FusionSpec, type FusionStrategy, type PresetName } from '../../src/core';
import { MODALITIES, type Modality } from '../../src/nodes-api/messages';
import { toError } from './errors';

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

function parseJson(text: unknown, what: string): unknown {
  if (typeof text !== 'string' || text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${what} is not valid JSON: ${toError(err).message}`);
  }
}

/** The fusion spec and models a node definition describes. */
export function fusionFromDef(def: FusionSettings): { spec: FusionSpec; models: Modality[] } {
  const strategy: FusionStrategy = (FUSION_STRATEGIES as readonly string[]).includes(def.strategy) ? def.strategy : 'dirichlet';
  if (def.preset && (PRESET_NAMES as readonly string[]).includes(def.preset)) {
    const preset = FUSION_PRESETS[def.preset];
    return { spec: { strategy, preset: preset.name }, models: preset.models as Modality[] };
  }
  const models = String(def.models || 'vs,vd')
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '');
  for (const m of models) if (!(MODALITIES as readonly string[]).includes(m)) throw new Error(`unknown model "${m}" (expected vs, vd, a)`);
  const spec: FusionSpec = { strategy };
  const weights = parseJson(def.weights, 'weights');
  const modelWeights = parseJson(def.modelWeights, 'model weights');
  if (weights !== undefined) spec.weights = weights as number[][];
  if (modelWeights !== undefined) spec.modelWeights = modelWeights as number[];
  return { spec, models: models as Modality[] };
}
