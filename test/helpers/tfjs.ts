/**
 * TensorFlow.js on its CPU backend, as the reference our tfjs-to-ONNX conversions are checked
 * against: a graph model read from disk (no fetch, no tfjs-node).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';

export { tf, type GraphModel };

interface GraphModelJson {
  format: string;
  generatedBy?: string;
  convertedBy?: string;
  modelTopology: object;
  weightsManifest: tf.io.WeightsManifestConfig;
  userDefinedMetadata?: Record<string, object>;
}

/** Selects the CPU backend. Production mode: without it the backend prints a banner urging tfjs-node on first use. */
export async function tfjsCpu(): Promise<void> {
  tf.enableProdMode();
  await tf.setBackend('cpu');
  await tf.ready();
}

/** Loads a tfjs graph model from disk through an IOHandler. */
export async function loadTfjsFromDisk(modelJson: string): Promise<GraphModel> {
  const json = JSON.parse(fs.readFileSync(modelJson, 'utf8')) as GraphModelJson;
  const dir = path.dirname(modelJson);
  const bytes = Buffer.concat(json.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(dir, p)))));
  const handler: tf.io.IOHandler = {
    load: async () => ({
      modelTopology: json.modelTopology,
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
      userDefinedMetadata: json.userDefinedMetadata,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
    }),
  };
  return loadGraphModel(handler);
}
