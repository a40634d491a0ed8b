/**
 * Measures the activation ranges for static int8 quantisation (see tools/export/quantize_static.py,
 * which writes the model to measure and then the int8 model), on real inputs prepared exactly as
 * the pipeline prepares them:
 *  - a static-visual (VS) manifest: the faces of the media (BlazeFace, the largest per frame),
 *    cropped, resized and normalised as the VS stage does;
 *  - an acoustic (A) manifest: 4 s windows of the media's audio every 0.5 s, normalised as the
 *    acoustic stage does.
 *
 *   node dist/tools/calibrate.js --model exposed.onnx --manifest model.json --out ranges.json
 *                                [--media FILE]... [--faces N]
 *
 * --manifest: the model's manifest (task, preprocessing, input name); --media: videos or images
 * (default: the bundled docs/samples/sample.mp4, and for VS docs/samples/astronaut.png too); --faces: how
 * many faces (or audio windows) at most per file (default 48).
 */
import * as path from 'node:path';
import { writeFileAtomic } from '../src/io/files';
import { oneLine } from '../src/io/errors';
import { activationRanges } from '../src/models/calibrate';
import { loadManifest } from '../src/models/manifest';
import type { FloatFeed } from '../src/models/session';
import { audioWindows, faceInputs } from './calibration-inputs';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const SAMPLE = path.join(REPO_ROOT, 'docs', 'samples', 'sample.mp4');
const DEFAULT_MEDIA = [SAMPLE, path.join(REPO_ROOT, 'docs', 'samples', 'astronaut.png')];

interface Options {
  model: string;
  manifest: string;
  out: string;
  media: string[];
  faces: number;
}

function parse(argv: readonly string[]): Options {
  const o: Partial<Options> & { media: string[] } = { media: [], faces: 48 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag}: a value is needed`);
    if (flag === '--model') o.model = value;
    else if (flag === '--manifest') o.manifest = value;
    else if (flag === '--out') o.out = value;
    else if (flag === '--media') o.media.push(value);
    else if (flag === '--faces') o.faces = Number(value);
    else throw new Error(`unknown option ${flag} (known: --model, --manifest, --out, --media, --faces)`);
  }
  if (!o.model || !o.manifest || !o.out) throw new Error('--model, --manifest and --out are needed');
  if (!(Number.isInteger(o.faces) && (o.faces as number) > 0)) throw new Error('--faces: expected a whole number > 0');
  return { model: o.model, manifest: o.manifest, out: o.out, media: o.media, faces: o.faces as number };
}

async function main(): Promise<void> {
  const options = parse(process.argv.slice(2));
  const manifest = await loadManifest(options.manifest);
  let inputs: FloatFeed[];
  if (manifest.task === 'static-visual') inputs = await faceInputs(manifest, options.media.length > 0 ? options.media : DEFAULT_MEDIA, options.faces);
  else if (manifest.task === 'acoustic') inputs = await audioWindows(options.media.length > 0 ? options.media : [SAMPLE], options.faces);
  else throw new Error(`${manifest.label}: calibration is for static-visual and acoustic models, not ${manifest.task}`);
  const ranges = await activationRanges(options.model, manifest.input.name, inputs);
  writeFileAtomic(options.out, JSON.stringify(ranges));
  process.stdout.write(`${JSON.stringify({ inputs: inputs.length, activations: Object.keys(ranges).length })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`calibrate: ${oneLine(err)}\n`);
  process.exit(1);
});
