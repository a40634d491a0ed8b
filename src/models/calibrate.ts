/**
 * Calibration for static int8 quantisation (tools/export/quantize_static.py): the range of every
 * output of a model whose graph outputs include the activations to quantise, over real inputs.
 */
import * as ort from 'onnxruntime-node';
import type { FloatFeed } from './session';

export type ActivationRanges = Record<string, [number, number]>;

/** Min and max of each output of the ONNX model at `modelPath`, over `inputs` (run one at a time). */
export async function activationRanges(modelPath: string, inputName: string, inputs: Iterable<FloatFeed>, threads = 2): Promise<ActivationRanges> {
  const session = await ort.InferenceSession.create(modelPath, { executionProviders: ['cpu'], intraOpNumThreads: threads, logSeverityLevel: 3 });
  const ranges: ActivationRanges = {};
  let count = 0;
  try {
    for (const input of inputs) {
      const out = await session.run({ [inputName]: new ort.Tensor('float32', input.data, [...input.shape]) });
      for (const [name, tensor] of Object.entries(out)) {
        if (tensor.type !== 'float32') continue;
        const data = tensor.data as Float32Array;
        let low = Number.POSITIVE_INFINITY;
        let high = Number.NEGATIVE_INFINITY;
        for (let i = 0; i < data.length; i++) {
          const v = data[i];
          if (v < low) low = v;
          if (v > high) high = v;
        }
        const r = ranges[name];
        ranges[name] = r === undefined ? [low, high] : [Math.min(r[0], low), Math.max(r[1], high)];
        tensor.dispose();
      }
      count++;
    }
  } finally {
    await session.release();
  }
  if (count === 0) throw new Error('calibration needs at least one input');
  return ranges;
}
