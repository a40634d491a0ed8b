/**
 * Media for the output tests, made with the system's ffmpeg (Debian's, on the PATH) from the
 * project's own public-domain docs/samples/astronaut.png, and `cer analyze` runs on them.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AnalyzeResult } from '../../src/pipeline/analyze';
import { cer } from './cli';
import { ASTRONAUT_PNG } from './testdata';

function tool(cmd: string, args: readonly string[]): Buffer {
  const r = spawnSync(cmd, args, { maxBuffer: 1 << 30 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.toString().trim()}`);
  return r.stdout;
}

export interface ProbedStream {
  readonly codec_type: string;
  readonly codec_name: string;
  readonly profile?: string;
  readonly width?: number;
  readonly height?: number;
  readonly pix_fmt?: string;
  readonly r_frame_rate?: string;
  readonly nb_frames?: string;
  readonly sample_rate?: string;
  readonly channels?: number;
  readonly duration?: string;
}

export interface Probed {
  readonly streams: ProbedStream[];
  readonly format: { readonly duration: string; readonly size: string; readonly format_name: string };
}

/** ffprobe's account of a file's streams and container. */
export function ffprobeJson(file: string): Probed {
  return JSON.parse(tool('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file]).toString()) as Probed;
}

/** A file's audio, mixed to mono at `rate` Hz, as floats in [-1, 1]. */
export function decodeAudio(file: string, rate = 16000): Float32Array {
  const raw = tool('ffmpeg', ['-v', 'error', '-i', file, '-vn', '-ac', '1', '-ar', String(rate), '-f', 's16le', '-']);
  const out = new Float32Array(raw.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = raw.readInt16LE(2 * i) / 32768;
  return out;
}

/** Root mean square of samples [from, to) seconds. */
export function rms(samples: Float32Array, rate: number, from: number, to: number): number {
  const a = Math.max(0, Math.floor(from * rate));
  const b = Math.min(samples.length, Math.floor(to * rate));
  let sum = 0;
  for (let i = a; i < b; i++) sum += samples[i] * samples[i];
  return b > a ? Math.sqrt(sum / (b - a)) : 0;
}

/**
 * 2.4 s at 25 fps (60 frames), 640x480: grey, the astronaut from 0.6 s to 1.8 s, grey again. So
 * frames 0–14 and 45–59 have no face.
 */
export function makeGapVideo(file: string): void {
  tool('ffmpeg', [
    '-v', 'error', '-y',
    '-f', 'lavfi', '-i', 'color=c=gray:s=640x480:r=25:d=2.4',
    '-loop', '1', '-framerate', '25', '-i', ASTRONAUT_PNG,
    '-filter_complex', "[1:v]scale=480:480,setsar=1[f];[0:v][f]overlay=x=80:y=0:enable='between(t,0.6,1.8)':shortest=1,format=yuv420p",
    '-t', '2.4', '-c:v', 'libx264', '-crf', '28', file,
  ]);
}

/** 1 s at 25 fps, 1024x512: the astronaut at full size on the left and at 360 px on the right. */
export function makeTwoFaceVideo(file: string): void {
  tool('ffmpeg', [
    '-v', 'error', '-y',
    '-loop', '1', '-framerate', '25', '-i', ASTRONAUT_PNG,
    '-filter_complex',
    'color=black:s=1024x512:r=25[bg];[0:v]split[a][b];[b]scale=360:360[s];[bg][a]overlay=0:0:shortest=1[t];[t][s]overlay=x=600:y=80,format=yuv420p',
    '-t', '1', '-c:v', 'libx264', '-crf', '28', file,
  ]);
}

/** Runs `cer analyze` on one input into `outDir` and returns the result it wrote. */
export function analyzeWithCli(input: string, outDir: string, extra: readonly string[] = []): { result: AnalyzeResult; jsonText: string; jsonFile: string } {
  const r = cer(['analyze', input, '--out', outDir, '--quiet', ...extra], { timeoutMs: 300000 });
  if (r.status !== 0) throw new Error(`cer analyze ${input} failed (${r.status}): ${r.stderr.trim()}`);
  const jsonFile = path.join(outDir, `${path.basename(input).replace(/\.[^.]+$/, '')}.json`);
  const jsonText = fs.readFileSync(jsonFile, 'utf8');
  // The written JSON lacks the run's `seconds`; the writers do not read it.
  const result = { ...(JSON.parse(jsonText) as Omit<AnalyzeResult, 'seconds'>), seconds: 0 };
  return { result, jsonText, jsonFile };
}

/** "#RRGGBB" → [r, g, b]. */
export function hexRgb(hex: string): [number, number, number] {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) throw new Error(`not a colour: ${hex}`);
  return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
}
