/**
 * Real inputs for a model, prepared exactly as the pipeline prepares them: for calibrating static
 * int8 quantisation (tools/calibrate.ts) and for measuring a quantised model's difference from fp32
 * (npm run bench:paper).
 */
import { readAudio } from '../src/media/audio';
import { decodeFrames } from '../src/media/frame-decoder';
import { probeMedia } from '../src/media/probe';
import type { LoadedManifest } from '../src/models/manifest';
import type { FloatFeed } from '../src/models/session';
import { ACOUSTIC_STEP_SAMPLES, ACOUSTIC_WINDOW_SAMPLES, normaliseWindow } from '../src/stages/acoustic';
import { VSInput } from '../src/stages/vs';
import { BlazeFaceDetector } from '../src/vision/blazeface';

/** Up to `most` normalised 4 s windows of each file's audio, every 0.5 s (whole windows only). */
export async function audioWindows(media: readonly string[], most: number): Promise<FloatFeed[]> {
  const inputs: FloatFeed[] = [];
  for (const file of media) {
    const audio = (await readAudio(file)).samples;
    let found = 0;
    for (let start = 0; start + ACOUSTIC_WINDOW_SAMPLES <= audio.length && found < most; start += ACOUSTIC_STEP_SAMPLES, found++) {
      const window = new Float32Array(ACOUSTIC_WINDOW_SAMPLES);
      normaliseWindow(audio.subarray(start, start + ACOUSTIC_WINDOW_SAMPLES), window);
      inputs.push({ data: window, shape: [1, ACOUSTIC_WINDOW_SAMPLES] });
    }
    if (found === 0) throw new Error(`${file}: less than 4 s of audio for calibration`);
  }
  return inputs;
}

/** Up to `most` faces of each file, prepared as the VS stage prepares them. */
export async function faceInputs(manifest: LoadedManifest, media: readonly string[], most: number): Promise<FloatFeed[]> {
  const prepare = new VSInput(manifest);
  const detector = await BlazeFaceDetector.load('front-128', { intraOpNumThreads: 1 });
  const inputs: FloatFeed[] = [];
  try {
    for (const file of media) {
      const info = await probeMedia(file);
      const every = Math.max(1, Math.floor((info.frameCount ?? 1) / most));
      let found = 0;
      for await (const frame of decodeFrames(file, { info })) {
        if (frame.index % every !== 0 || found >= most) continue;
        const faces = await detector.detect(frame);
        if (faces.length === 0) continue;
        const largest = faces.reduce((a, b) => ((b.box[2] - b.box[0]) * (b.box[3] - b.box[1]) > (a.box[2] - a.box[0]) * (a.box[3] - a.box[1]) ? b : a));
        // The crop the pipeline feeds by default (no flip: one tensor).
        inputs.push({ data: Float32Array.from(prepare.prepare(frame, largest.box, { keypoints: largest.keypoints })[0]), shape: prepare.shape });
        found++;
      }
      if (found === 0) throw new Error(`${file}: no face found for calibration`);
    }
  } finally {
    await detector.release();
  }
  return inputs;
}
