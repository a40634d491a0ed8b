/**
 * Measures the activation ranges for static int8 quantisation of a static-visual (VS) model, on
 * the faces of real media prepared exactly as the VS stage prepares them (see
 * tools/export/quantize_static.py, which writes the model to measure and then the int8 model).
 *
 *   node dist/tools/calibrate.js --model exposed.onnx --manifest vs.json --out ranges.json
 *                                [--media FILE]... [--faces N]
 *
 * --manifest: the fp32 model's manifest (its preprocessing and input name); --media: videos or
 * images with faces (default: the bundled examples/sample.mp4 and examples/astronaut.png);
 * --faces: how many faces at most, spread over each video (default 48).
 */
import * as path from 'node:path';
import { writeFileAtomic } from '../src/io/files';
import { oneLine } from '../src/io/errors';
import { decodeFrames } from '../src/media/frames';
import { probeMedia } from '../src/media/probe';
import { activationRanges } from '../src/models/calibrate';
import { loadManifest } from '../src/models/manifest';
import type { FloatFeed } from '../src/models/session';
import { VSInput } from '../src/stages/vs';
import { BlazeFaceDetector } from '../src/vision/blazeface';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const DEFAULT_MEDIA = [path.join(REPO_ROOT, 'examples', 'sample.mp4'), path.join(REPO_ROOT, 'examples', 'astronaut.png')];

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
  return { model: o.model, manifest: o.manifest, out: o.out, media: o.media.length > 0 ? o.media : DEFAULT_MEDIA, faces: o.faces as number };
}

async function main(): Promise<void> {
  const options = parse(process.argv.slice(2));
  const manifest = await loadManifest(options.manifest);
  const prepare = new VSInput(manifest);
  const detector = await BlazeFaceDetector.load('front-128', { intraOpNumThreads: 1 });
  const inputs: FloatFeed[] = [];
  try {
    for (const media of options.media) {
      const info = await probeMedia(media);
      const every = Math.max(1, Math.floor((info.frameCount ?? 1) / options.faces));
      let found = 0;
      for await (const frame of decodeFrames(media, { info })) {
        if (frame.index % every !== 0 || found >= options.faces) continue;
        const faces = await detector.detect(frame);
        if (faces.length === 0) continue;
        const largest = faces.reduce((a, b) => ((b.box[2] - b.box[0]) * (b.box[3] - b.box[1]) > (a.box[2] - a.box[0]) * (a.box[3] - a.box[1]) ? b : a));
        inputs.push({ data: Float32Array.from(prepare.prepare(frame, largest.box)), shape: prepare.shape });
        found++;
      }
      if (found === 0) throw new Error(`${media}: no face found for calibration`);
    }
  } finally {
    await detector.release();
  }
  const ranges = await activationRanges(options.model, manifest.input.name, inputs);
  writeFileAtomic(options.out, JSON.stringify(ranges));
  process.stdout.write(`${JSON.stringify({ faces: inputs.length, activations: Object.keys(ranges).length })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`calibrate: ${oneLine(err)}\n`);
  process.exit(1);
});
