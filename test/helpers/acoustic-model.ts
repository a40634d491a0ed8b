/**
 * A tiny ONNX "acoustic model" for tests of the acoustic stage, built with the repository's ONNX
 * builder. It reads a normalised 4 s window x (float32 [N, 64000]) and returns logits that are simple,
 * hand-checkable functions of it, in the canonical order (plus Other):
 *
 *   Neutral   = x[0]              first sample
 *   Anger     = x[63999]          last sample (0 in a window padded with its mean)
 *   Disgust   = mean(x)           ~0 after normalisation
 *   Fear      = mean(x²)          var/(var + 1e-7) after normalisation, ~1
 *   Happiness = x[32000]          sample at 2 s
 *   Sadness   = 2·x[8000]         twice the sample at 0.5 s
 *   Surprise  = 0
 *   Other     = 50                (8-class variant only; dominates unless the stage drops it)
 *
 * testModelLogits() computes the same in JavaScript (float64) for expected values.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataType, encodeModel, OnnxGraphBuilder } from '../../tools/tfjs-to-onnx/onnx-builder';
import { sha256File } from '../../src/models/session';
import { loadManifest, type LoadedManifest } from '../../src/models/manifest';

export const TEST_WINDOW = 64000;
export const OTHER_LOGIT = 50;
const SCALE = [1, 1, 1, 1, 1, 2, 0, 0];
const BIAS = [0, 0, 0, 0, 0, 0, 0, OTHER_LOGIT];

export interface AcousticTestModelOptions {
  /** 8 (with Other, the default) or 7 classes. */
  readonly classes?: 7 | 8;
  /** Batch dimension: -1 (dynamic, default) or 1. */
  readonly batch?: number;
  /** File stem (default `acoustic-test-<classes>`). */
  readonly name?: string;
}

/** Writes the model and its manifest into `dir`; returns the loaded manifest. */
export async function writeAcousticTestModel(dir: string, options: AcousticTestModelOptions = {}): Promise<LoadedManifest> {
  const classes = options.classes ?? 8;
  const batch = options.batch ?? -1;
  const name = options.name ?? `acoustic-test-${classes}`;
  const b = new OnnxGraphBuilder({ 0: 'N' });
  b.addInput({ name: 'audio', dtype: DataType.FLOAT, shape: [batch, TEST_WINDOW] });
  const firstLast = b.op('Gather', ['audio', b.int64Const('idx_a', [0, TEST_WINDOW - 1])], 'first_last', { axis: 1 });
  const mean = b.op('ReduceMean', ['audio'], 'mean', { axes: [1], keepdims: 1 });
  const squares = b.op('Mul', ['audio', 'audio'], 'squares');
  const meanSquare = b.op('ReduceMean', [squares], 'mean_square', { axes: [1], keepdims: 1 });
  const rest = b.op('Gather', ['audio', b.int64Const('idx_b', [32000, 8000, 0, 0].slice(0, classes - 4))], 'rest', { axis: 1 });
  const all = b.op('Concat', [firstLast, mean, meanSquare, rest], 'all', { axis: 1 });
  const scaled = b.op('Mul', [all, b.floatConst('scale', SCALE.slice(0, classes))], 'scaled');
  b.reserve('logits');
  b.nodeExact('Add', [scaled, b.floatConst('bias', BIAS.slice(0, classes))], ['logits']);
  b.addOutput({ name: 'logits', dtype: DataType.FLOAT, shape: [batch, classes] });
  const model = b.build({ graphName: name, producerName: 'acoustic-model test helper', producerVersion: '1' });

  const onnxFile = path.join(dir, `${name}.onnx`);
  fs.writeFileSync(onnxFile, encodeModel(model));
  const labels = ['Neutral', 'Anger', 'Disgust', 'Fear', 'Happiness', 'Sadness', 'Surprise', 'Other'].slice(0, classes);
  const manifest = {
    id: name,
    task: 'acoustic',
    file: `${name}.onnx`,
    sha256: await sha256File(onnxFile),
    licence: 'MIT',
    nonCommercial: false,
    source: 'built by test/helpers/acoustic-model.ts',
    description: 'Test model: logits are fixed samples and moments of the normalised window.',
    input: { name: 'audio', shape: [batch, TEST_WINDOW], layout: 'NT', dtype: 'float32' },
    outputs: { scores: 'logits' },
    outputKind: 'logits',
    labels,
  };
  const manifestFile = path.join(dir, `${name}.json`);
  fs.writeFileSync(manifestFile, JSON.stringify(manifest, null, 2));
  return loadManifest(manifestFile);
}

/** The test model's logits for one normalised window (64000 values), in float64. */
export function testModelLogits(x: ArrayLike<number>, classes: 7 | 8 = 8): number[] {
  let sum = 0;
  let squares = 0;
  for (let i = 0; i < x.length; i++) {
    sum += x[i];
    squares += x[i] * x[i];
  }
  const raw = [x[0], x[TEST_WINDOW - 1], sum / x.length, squares / x.length, x[32000], x[8000], 0, 0];
  return raw.slice(0, classes).map((v, i) => v * SCALE[i] + BIAS[i]);
}
