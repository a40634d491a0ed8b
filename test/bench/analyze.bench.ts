/**
 * npm run bench — the video pipeline's speed and memory on this machine:
 *  - on the RAVDESS clip, in the same run: decode only (ffmpeg to raw RGB, the floor), `cer analyze`
 *    with no flags (the bundled acoustic model, voice activity and the mouth-open cue on), its
 *    real-time factor and its ratio to the floor (targets: RTF ≤ 0.25, ≤ 2× the floor), with the
 *    spread of the runs and, for comparison, the RTF without the acoustic model, of the visual path
 *    alone and of a batch's second input; the audio path's cost per second of media, the acoustic
 *    model's per 4 s window, and face detection's (with its letterbox) and the mouth-open cue's per
 *    frame;
 *  - peak RSS of `cer analyze` streaming a synthetic 720p30 video with a face overlaid, 1 and
 *    10 minutes long (target ≤ 400 MB, independent of length).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { resolveFfmpeg } from '../../src/media/binaries';
import { decodeAudio } from '../../src/media/audio';
import { decodeFramesInWorker } from '../../src/media/frame-worker';
import { probeMedia } from '../../src/media/probe';
import { MouthOpenCue } from '../../src/stages/mouth';
import { SileroVAD } from '../../src/stages/vad';
import { BLAZEFACE_VARIANTS, BlazeFaceDetector, blazeFaceManifestPath } from '../../src/vision/blazeface';
import { loadFaceDetector } from '../../src/vision/auto-detector';
import { DEFAULT_MODELS_DIR, listManifests, loadManifest } from '../../src/models/manifest';
import { ACOUSTIC_WINDOW_SAMPLES, normaliseWindow, openAcousticModel } from '../../src/stages/acoustic';
import { preprocessImage } from '../../src/vision/image';
import type { FaceDetection } from '../../src/vision/types';
import { CER } from '../helpers/cli';
import { ASTRONAUT_PNG, RAVDESS_CLIP } from '../helpers/testdata';

const RUNS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs `cer analyze` and returns its wall time and its peak RSS (VmHWM, polled from /proc). */
function runAnalyze(args: string[]): Promise<{ seconds: number; peakRssMb: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [CER, 'analyze', '--quiet', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let peakKb = 0;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch {
        /* exited */
      }
    }, 100);
    child.once('error', reject);
    child.once('close', (code) => {
      clearInterval(poll);
      if (code !== 0) reject(new Error(`cer analyze failed: ${stderr}`));
      else resolve({ seconds: (performance.now() - t0) / 1000, peakRssMb: peakKb / 1024, stderr });
    });
  });
}

/**
 * `--detector auto` where faces are small: the RAVDESS clip scaled so its face is 32 px wide in a
 * 1280×720 frame (followed on crops), and a grey frame with no face (the searches' share).
 */
async function smallFaceCost(out: string): Promise<void> {
  const ffmpeg = resolveFfmpeg().path;
  const small = path.join(out, 'ravdess-32px.mp4');
  const made = spawnSync(ffmpeg, ['-v', 'error', '-y', '-i', RAVDESS_CLIP, '-vf', 'scale=112:64,pad=1280:720:700:400:color=0x303030', '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '16', '-an', small]);
  if (made.status !== 0) throw new Error(`making the small-face clip failed: ${made.stderr.toString()}`);
  const auto = await loadFaceDetector('auto', { intraOpNumThreads: 1 });
  try {
    for (const [name, frames] of [
      ['RAVDESS clip with a 32 px face', decodeFramesInWorker(small, { reuseBuffers: true })],
      ['grey 1280×720 frames, no face (48)', greyFrames(48)],
    ] as const) {
      const stream = auto.forStream();
      let n = 0;
      let found = 0;
      const t0 = performance.now();
      for await (const frame of frames) {
        if ((await stream.detect(frame)).length > 0) found++;
        n++;
      }
      console.log(`  auto on the ${name}: ${((performance.now() - t0) / n).toFixed(2)} ms per frame (decoding included), a face on ${found}/${n} frames`);
    }
  } finally {
    await auto.release();
  }
}

async function* greyFrames(n: number): AsyncGenerator<{ width: number; height: number; data: Uint8Array }> {
  const data = new Uint8Array(1280 * 720 * 3).fill(128);
  for (let i = 0; i < n; i++) yield { width: 1280, height: 720, data };
}

async function main(): Promise<void> {
  const ffmpeg = resolveFfmpeg();
  console.log(`analyze benchmark: node ${process.version}, ${os.cpus().length} cores, ffmpeg ${ffmpeg.path} (${ffmpeg.source})`);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-bench-'));
  try {
    const info = await probeMedia(RAVDESS_CLIP);
    const duration = info.duration ?? 0;
    const floors: number[] = [];
    const analyses: number[] = [];
    const rtfs: number[] = [];
    const visualRtfs: number[] = [];
    const noAcousticRtfs: number[] = [];
    const warmRtfs: number[] = [];
    // The same clip again under another name: the second input of a batch (its probe ran during the
    // first, whose run warmed the code and the buffers).
    const again = path.join(out, 'again.mp4');
    fs.symlinkSync(RAVDESS_CLIP, again);
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      let n = 0;
      for await (const frame of decodeFramesInWorker(RAVDESS_CLIP, { reuseBuffers: true })) n += frame.index >= 0 ? 1 : 0;
      floors.push((performance.now() - t0) / 1000);
      /** The summary line of each input: [frames, seconds, real-time factor]. */
      const summaries = (inputs: string[], ...extra: string[]): number[][] => {
        const run = spawnSync(process.execPath, [CER, 'analyze', ...inputs, '--out', out, ...extra], { encoding: 'utf8' });
        if (run.status !== 0) throw new Error(run.stderr);
        const lines = [...run.stderr.matchAll(/(\d+) frames in ([\d.]+) s, .* real-time factor ([\d.]+)/g)];
        if (lines.length !== inputs.length) throw new Error(`not one summary line an input in: ${run.stderr}`);
        return lines.map((m) => [Number(m[1]), Number(m[2]), Number(m[3])]);
      };
      const [first] = summaries([RAVDESS_CLIP]);
      analyses.push(first[1]);
      rtfs.push(first[2]);
      noAcousticRtfs.push(summaries([RAVDESS_CLIP], '--no-acoustic')[0][2]);
      visualRtfs.push(summaries([RAVDESS_CLIP], '--no-acoustic', '--no-vad', '--no-mouth-cue')[0][2]);
      warmRtfs.push(summaries([RAVDESS_CLIP, again])[1][2]);
      if (i === 0) console.log(`RAVDESS clip: ${n} frames, ${duration.toFixed(2)} s, ${info.width}x${info.height}`);
    }
    const floor = median(floors);
    const analysis = median(analyses);
    const rtf = median(rtfs);
    console.log(`decode only (probe + ffmpeg → raw RGB), median of ${RUNS}:   ${floor.toFixed(3)} s  (RTF ${(floor / duration).toFixed(3)})`);
    console.log(`cer analyze per input (probe … JSON), median of ${RUNS}:    ${analysis.toFixed(3)} s`);
    const spread = (xs: number[]): string => `${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)}`;
    console.log(`real-time factor, no flags (A, VAD, mouth cue):    ${rtf.toFixed(3)}  (target ≤ 0.25: ${rtf <= 0.25 ? 'met' : 'MISSED'}; runs ${spread(rtfs)})`);
    console.log(`  --no-acoustic (VAD, mouth cue):                  ${median(noAcousticRtfs).toFixed(3)}  (runs ${spread(noAcousticRtfs)})`);
    const visualRtf = median(visualRtfs);
    console.log(`real-time factor, visual path only:                ${visualRtf.toFixed(3)}  (target ≤ 0.25: ${visualRtf <= 0.25 ? 'met' : 'MISSED'}; runs ${spread(visualRtfs)})`);
    console.log(`  everything on, a batch's second input (warm):    ${median(warmRtfs).toFixed(3)}  (runs ${spread(warmRtfs)})`);
    console.log(`ratio to the decode floor:                         ${(analysis / floor).toFixed(2)}×  (target ≤ 2×: ${analysis / floor <= 2 ? 'met' : 'MISSED'})`);

    // The audio path alone: 16 kHz decoding and voice activity, per second of media.
    const vad = await SileroVAD.load();
    const audioRuns: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      vad.reset();
      const t0 = performance.now();
      for await (const chunk of decodeAudio(RAVDESS_CLIP, { info })) await vad.process(chunk.samples);
      await vad.flush();
      audioRuns.push((performance.now() - t0) / 1000);
    }
    await vad.release();
    console.log(`audio path (decode 16 kHz mono + Silero VAD):      ${((1000 * median(audioRuns)) / duration).toFixed(1)} ms per second of media`);

    // The bundled acoustic model alone, one thread, on the clip's own 4 s windows (one every 0.5 s,
    // as the stage cuts them): what each window costs, and so what A adds per second of speech.
    const acousticManifest = (await listManifests(DEFAULT_MODELS_DIR)).find((m) => m.task === 'acoustic');
    if (acousticManifest === undefined) throw new Error('no bundled acoustic model');
    const acoustic = await openAcousticModel(acousticManifest, { intraOpNumThreads: 1 });
    const pcm: number[] = [];
    for await (const chunk of decodeAudio(RAVDESS_CLIP, { info })) pcm.push(...chunk.samples);
    const windows: Float32Array[] = [];
    for (let start = 0; start < pcm.length; start += ACOUSTIC_WINDOW_SAMPLES / 8) {
      const w = new Float32Array(ACOUSTIC_WINDOW_SAMPLES);
      normaliseWindow(Float32Array.from(pcm.slice(start, start + ACOUSTIC_WINDOW_SAMPLES)), w);
      windows.push(w);
    }
    for (const w of windows.slice(0, 3)) await acoustic.run(w, 1); // warm-up
    const perWindow: number[] = [];
    for (let i = 0; i < 20; i++) {
      for (const w of windows) {
        const t0 = performance.now();
        await acoustic.run(w, 1);
        perWindow.push(performance.now() - t0);
      }
    }
    await acoustic.release();
    const msPerWindow = median(perWindow);
    console.log(
      `acoustic model ${acousticManifest.id} (one 4 s window, 1 thread): ${msPerWindow.toFixed(2)} ms median ` +
        `(target ≤ 10 ms: ${msPerWindow <= 10 ? 'met' : 'MISSED'}; p90 ${[...perWindow].sort((a, b) => a - b)[Math.floor(perWindow.length * 0.9)].toFixed(2)} ms), ` +
        `2 windows per second of speech: ${(2 * msPerWindow).toFixed(1)} ms per second`,
    );

    // Face detection and the mouth-open cue alone, per frame, on the clip's frames (one thread each).
    const detectors = await Promise.all(BLAZEFACE_VARIANTS.map((variant) => BlazeFaceDetector.load(variant, { intraOpNumThreads: 1 })));
    // The default, `--detector auto`, per stream: on this close-up front-128 does the work.
    const auto = await loadFaceDetector('auto', { intraOpNumThreads: 1 });
    const autoStream = auto.forStream();
    let autoSeconds = 0;
    const mouth = await MouthOpenCue.load(undefined, { intraOpNumThreads: 1 });
    const detectSeconds = BLAZEFACE_VARIANTS.map(() => 0);
    let letterboxSeconds = 0;
    let frames = 0;
    let cueSeconds = 0;
    let cues = 0;
    // front-128's own input preparation, as its manifest gives it, timed on its own.
    const front = await loadManifest(blazeFaceManifestPath('front-128'));
    const input = front.preprocessing;
    if (input === undefined) throw new Error(`${front.label}: no preprocessing`);
    const letterbox = new Float32Array(128 * 128 * 3);
    const scratch = new Uint8Array(128 * 128 * 3);
    for await (const frame of decodeFramesInWorker(RAVDESS_CLIP, { info, reuseBuffers: true })) {
      const t = performance.now();
      preprocessImage(frame, input, front.input.layout === 'NCHW' ? 'NCHW' : 'NHWC', { scratch, tensor: letterbox });
      letterboxSeconds += (performance.now() - t) / 1000;
      let face: FaceDetection | undefined;
      for (const [i, detector] of detectors.entries()) {
        const t0 = performance.now();
        const found = await detector.detect(frame);
        detectSeconds[i] += (performance.now() - t0) / 1000;
        if (i === 0) face = found[0];
      }
      const tAuto = performance.now();
      await autoStream.detect(frame);
      autoSeconds += (performance.now() - tAuto) / 1000;
      frames++;
      if (!face) continue;
      const t0 = performance.now();
      await mouth.measure(frame, face.box);
      cueSeconds += (performance.now() - t0) / 1000;
      cues++;
    }
    await Promise.all([...detectors.map((d) => d.release()), mouth.release(), auto.release()]);
    for (const [i, variant] of BLAZEFACE_VARIANTS.entries()) {
      console.log(`face detection, BlazeFace ${variant.padEnd(9)} (1280×720):  ${((1000 * detectSeconds[i]) / frames).toFixed(2)} ms per frame`);
    }
    console.log(`face detection, --detector auto (the default):     ${((1000 * autoSeconds) / frames).toFixed(2)} ms per frame`);
    await smallFaceCost(out);
    console.log(`  front-128's letterbox to 128×128 and its tensor:  ${((1000 * letterboxSeconds) / frames).toFixed(2)} ms per frame`);
    console.log(`mouth-open cue (facemesh 192×192 + lip gap):       ${((1000 * cueSeconds) / cues).toFixed(2)} ms per frame`);

    for (const minutes of [1, 10]) {
      const video = path.join(out, `synthetic-${minutes}min.mp4`);
      const overlay = ['-loop', '1', '-i', ASTRONAUT_PNG, '-filter_complex', "[1:v]scale=360:-1[f];[0:v][f]overlay=x='460+200*sin(t/3)':y=180"];
      const make = spawnSync(ffmpeg.path, [
        '-v', 'error', '-y', '-f', 'lavfi', '-i', `color=c=0x506070:s=1280x720:r=30:d=${minutes * 60}`, ...overlay,
        '-t', String(minutes * 60), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', video,
      ]);
      if (make.status !== 0) throw new Error(`making the synthetic video failed: ${make.stderr.toString()}`);
      const r = await runAnalyze([video, '--out', out]);
      const frames = minutes * 60 * 30;
      console.log(
        `synthetic 720p30, ${String(minutes).padStart(2)} min (${frames} frames): peak RSS ${r.peakRssMb.toFixed(0)} MB` +
          `  (target ≤ 400 MB: ${r.peakRssMb <= 400 ? 'met' : 'MISSED'}), ${r.seconds.toFixed(1)} s, RTF ${(r.seconds / (minutes * 60)).toFixed(3)}`,
      );
      fs.rmSync(video, { force: true });
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
