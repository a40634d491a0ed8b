/**
 * For the queue tests: `cer worker` processes spawned as a user would run them, the inputs they
 * analyse copied into a folder of the test's own (so that the processes reading them can be found
 * by it), and the processes still running on that folder.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveFfmpeg } from '../../src/media/binaries';
import { CER } from '../helpers/cli';
import { ASTRONAUT_PNG, RAVDESS_CLIP, REPO_ROOT, SAMPLE_MP4, SAMPLES_DIR } from '../helpers/testdata';

export interface SpawnedWorker {
  readonly child: ChildProcess;
  /** Its name in the jobs it takes (host/pid, as `cer worker` names itself). */
  readonly name: string;
  /** What it wrote to stderr so far. */
  log(): string;
  /** Resolves with its exit code (or signal) once it has exited. */
  readonly exited: Promise<number | NodeJS.Signals | null>;
}

/** SIGTERM to each worker still running, then waits for it to exit. */
export async function stopWorkers(workers: readonly SpawnedWorker[]): Promise<void> {
  for (const w of workers) {
    if (w.child.exitCode === null && w.child.signalCode === null) {
      w.child.kill('SIGTERM');
      await w.exited;
    }
  }
}

/** Starts `cer worker` and resolves once it waits for jobs. */
export async function spawnWorker(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<SpawnedWorker> {
  const child = spawn(process.execPath, [CER, 'worker', ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const deadline = Date.now() + timeoutMs;
  while (!/waiting for jobs/.test(log)) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`cer worker exited before it was ready: ${log}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`cer worker not ready within ${timeoutMs} ms: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const name = /cer worker (\S+): waiting for jobs/.exec(log)?.[1] ?? '?';
  return { child, name, log: () => log, exited };
}

/** Pids of the processes (ffmpeg, ffprobe, workers …) whose command line names `text`. */
export function processesNaming(text: string): Array<{ pid: number; cmd: string }> {
  const found: Array<{ pid: number; cmd: string }> = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmd: string;
    try {
      cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue;
    }
    if (cmd.includes(text)) found.push({ pid: Number(entry), cmd });
  }
  return found;
}

/** Polls until `check` is true; rejects with `what` after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs: number, everyMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface QueueInputs {
  /** Inputs that have results, by absolute path. */
  readonly good: string[];
  /** A text file named like a video. */
  readonly bad: string;
}

/**
 * Eight inputs in `dir`: the RAVDESS clip, the sample, two images, the sample's audio alone, the
 * clip without its audio, the sample's first two seconds, and a text file named bad.mp4.
 */
export function makeQueueInputs(dir: string): QueueInputs {
  fs.mkdirSync(dir, { recursive: true });
  const copy = (from: string, name: string): string => {
    const to = path.join(dir, name);
    fs.copyFileSync(from, to);
    return to;
  };
  const ffmpeg = (args: string[], name: string): string => {
    const to = path.join(dir, name);
    execFileSync(resolveFfmpeg().path, ['-hide_banner', '-loglevel', 'error', '-y', ...args, to]);
    return to;
  };
  const good = [
    copy(RAVDESS_CLIP, 'ravdess.mp4'),
    copy(SAMPLE_MP4, 'sample.mp4'),
    copy(path.join(SAMPLES_DIR, 'grace_hopper.jpg'), 'hopper.jpg'),
    copy(ASTRONAUT_PNG, 'astronaut.png'),
    ffmpeg(['-i', SAMPLE_MP4, '-vn', '-c:a', 'pcm_s16le'], 'speech.wav'),
    ffmpeg(['-i', RAVDESS_CLIP, '-an', '-c:v', 'copy'], 'silent.mp4'),
    ffmpeg(['-i', SAMPLE_MP4, '-t', '2', '-c', 'copy'], 'short.mp4'),
  ];
  const bad = path.join(dir, 'bad.mp4');
  fs.writeFileSync(bad, 'this is a text file, not a video\n');
  return { good, bad };
}

/** A result JSON without its timing (the real-time factor): what any machine computes alike. */
export function resultWithoutTiming(file: string): Record<string, unknown> {
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  delete json.rtf;
  delete json.seconds;
  return json;
}
