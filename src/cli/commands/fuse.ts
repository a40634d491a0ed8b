import {
  applyRule,
  COMPOUND_NAMES,
  Fusion,
  fuseFrameInto,
  fuseFrames,
  NUM_BASIC,
  NUM_COMPOUND,
  parseRule,
  resolveFusionAt,
  Rule,
} from '../../core';
import { readJsonFile } from '../../io/files';
import { FuseInput, fusionOption, parseFuseInput } from '../../io/fuse-input';
import { checkOutput, writeOutput } from '../output';

export interface FuseOutput {
  fused: (number[] | null)[];
  compound: (number[] | null)[];
  labels: (string | null)[];
  indices: (number | null)[];
}

/** Fuses every frame of the input and applies the rule. A frame no model voted for gives nulls. */
export function fuseInputFrames(input: FuseInput, fusion: Fusion, rule: Rule): FuseOutput {
  const allPresent = input.present.every((voted) => voted.every((x) => x === 1));
  let fused: Float64Array;
  const fusedPresent = new Uint8Array(input.frames).fill(1);
  if (allPresent) {
    fused = fuseFrames(fusion, input.probs);
  } else {
    fused = new Float64Array(input.frames * NUM_BASIC);
    const out = new Float64Array(NUM_BASIC);
    for (let f = 0; f < input.frames; f++) {
      const frameProbs = input.probs.map((p, m) => (input.present[m][f] ? p.subarray(f * NUM_BASIC, (f + 1) * NUM_BASIC) : null));
      if (fuseFrameInto(fusion, frameProbs, out)) fused.set(out, f * NUM_BASIC);
      else fusedPresent[f] = 0;
    }
  }
  const { compound, indices } = applyRule(fused, rule);
  const result: FuseOutput = { fused: [], compound: [], labels: [], indices: [] };
  for (let f = 0; f < input.frames; f++) {
    if (!fusedPresent[f]) {
      result.fused.push(null);
      result.compound.push(null);
      result.labels.push(null);
      result.indices.push(null);
      continue;
    }
    result.fused.push(Array.from(fused.subarray(f * NUM_BASIC, (f + 1) * NUM_BASIC)));
    result.compound.push(Array.from(compound.subarray(f * NUM_COMPOUND, (f + 1) * NUM_COMPOUND)));
    result.labels.push(COMPOUND_NAMES[indices[f]]);
    result.indices.push(indices[f]);
  }
  return result;
}

/** Prints what was changed to make an input usable, one line each, on stderr. */
export function printWarnings(warnings: readonly string[]): void {
  for (const w of warnings) process.stderr.write(`cer: warning: ${w}\n`);
}

export interface FuseOptions {
  in: string;
  out?: string;
  fusion?: string;
  rule?: string;
}

export async function runFuse(options: FuseOptions): Promise<void> {
  checkOutput(options.out);
  const input = parseFuseInput(readJsonFile(options.in, 'fuse input'), options.in);
  const spec = options.fusion !== undefined ? fusionOption(options.fusion) : input.fusion;
  const rule = options.rule !== undefined ? parseRule(options.rule, '--rule') : input.rule;
  const fusion = resolveFusionAt(spec, input.models, options.fusion !== undefined ? `--fusion ${options.fusion}` : `${options.in}: fusion`);
  printWarnings([...input.warnings, ...fusion.warnings]);
  await writeOutput(JSON.stringify(fuseInputFrames(input, fusion, rule)) + '\n', options.out);
}
