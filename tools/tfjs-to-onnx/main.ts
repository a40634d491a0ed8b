#!/usr/bin/env node
/**
 * tfjs-to-onnx: converts a TensorFlow.js graph model (model.json + weight binaries) to ONNX.
 *
 *   node dist/tools/tfjs-to-onnx/main.js --in <model.json> --out <model.onnx>
 *        [--preset <id>] [--manifest <path.json>] [--no-manifest] [--opset <n>]
 *        [--outputs <node:0,...>]   (expose these TensorFlow tensors instead of the signature's outputs)
 *
 * When a preset is named, or the output file's base name is a preset id (e.g.
 * models/vs-fer2013-minixception.onnx), the model manifest is written beside the ONNX file
 * (or to --manifest).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { convertGraphModel } from './convert';
import { buildManifest, findPreset, formatManifest, PRESETS, sha256Hex } from './manifest';
import { readTfjsGraphModel } from './tfjs-model';

const USAGE = `usage: tfjs-to-onnx --in <model.json> --out <model.onnx> [--preset <id>] [--manifest <path.json>] [--no-manifest] [--opset <n>] [--outputs <tf:0,...>]
presets: ${PRESETS.map((p) => p.id).join(', ')}`;

export interface CliResult {
  onnxPath: string;
  sha256: string;
  manifestPath: string | null;
}

export function runCli(argv: string[]): CliResult {
  const { values } = parseArgs({
    args: argv,
    options: {
      in: { type: 'string' },
      out: { type: 'string' },
      preset: { type: 'string' },
      manifest: { type: 'string' },
      'no-manifest': { type: 'boolean', default: false },
      opset: { type: 'string' },
      outputs: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return { onnxPath: '', sha256: '', manifestPath: null };
  }
  if (!values.in || !values.out) throw new Error(`--in and --out are required\n${USAGE}`);
  // A preset is implied by the output's base name, unless the outputs are overridden.
  const presetId = values.preset ?? (values.outputs ? '' : path.basename(values.out).replace(/\.onnx$/, ''));
  const preset = findPreset(presetId);
  if (values.preset && !preset) throw new Error(`unknown preset ${values.preset}\n${USAGE}`);

  const model = readTfjsGraphModel(values.in);
  const outputs = values.outputs ? values.outputs.split(',').map((o) => o.trim()).filter((o) => o.length > 0) : undefined;
  const result = convertGraphModel(model, { opset: values.opset ? Number(values.opset) : undefined, outputs });
  fs.mkdirSync(path.dirname(path.resolve(values.out)), { recursive: true });
  fs.writeFileSync(values.out, result.bytes);
  const sha256 = sha256Hex(result.bytes);
  const ops = Object.entries(result.tfOps).map(([op, n]) => `${op}×${n}`).join(' ');
  console.log(`wrote ${values.out} (${result.bytes.length} bytes, sha256 ${sha256})`);
  console.log(`  TensorFlow ops: ${ops}`);
  for (const i of result.inputs) console.log(`  input  ${i.name} ${i.dtype} [${i.shape.join(', ')}] NHWC`);
  for (const o of result.outputs) console.log(`  output ${o.name} ${o.dtype} [${o.shape.join(', ')}] (TensorFlow ${o.tfName})`);

  let manifestPath: string | null = null;
  if (preset && !values['no-manifest']) {
    manifestPath = values.manifest ?? values.out.replace(/\.onnx$/, '') + '.json';
    fs.writeFileSync(manifestPath, formatManifest(buildManifest(preset, path.basename(values.out), result)));
    console.log(`wrote ${manifestPath} (preset ${preset.id})`);
  }
  return { onnxPath: values.out, sha256, manifestPath };
}

if (require.main === module) {
  try {
    runCli(process.argv.slice(2));
  } catch (err) {
    console.error(`tfjs-to-onnx: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}
