/**
 * Media test inputs made from the shared RAVDESS clip and astronaut.png with the ffmpeg the media
 * layer resolves: broken files, a rotated clip, an audio-only file, a variable-frame-rate clip.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveFfmpeg } from '../../src/media/binaries';
import { ASTRONAUT_PNG, RAVDESS_CLIP } from '../helpers/testdata';

export interface MediaFixtures {
  readonly dir: string;
  readonly empty: string;
  readonly text: string;
  /** The first 40 % of the RAVDESS clip (its moov is at the front): probes, fails midway. */
  readonly truncated: string;
  /** The first 30 kB: index complete, no picture data at all. */
  readonly noMediaData: string;
  /** RAVDESS remuxed with the index at the end, then cut at 40 %: no moov, fails at probe. */
  readonly moovLess: string;
  /** RAVDESS remuxed to MPEG-TS, cut at 50 % (a TS has no index: ffmpeg just stops early). */
  readonly cutTs: string;
  /** 0.5 s of RAVDESS with a display matrix (rotate tag 90). */
  readonly rotated: string;
  /** RAVDESS audio only (AAC in .m4a). */
  readonly audioOnly: string;
  /** 20 frames at 30 fps with a 0.5 s gap after frame 9 (variable frame rate). */
  readonly vfr: string;
  /** astronaut.png as JPEG, and copies whose names contain '%'. */
  readonly jpeg: string;
  readonly percentJpeg: string;
  readonly percentPng: string;
  cleanup(): void;
}

export function makeMediaFixtures(): MediaFixtures {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-media-'));
  const ffmpeg = resolveFfmpeg().path;
  const run = (...args: string[]): void => {
    execFileSync(ffmpeg, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const file = (name: string): string => path.join(dir, name);
  const head = (from: string, to: string, fraction: number): void => {
    const bytes = fs.readFileSync(from);
    fs.writeFileSync(to, bytes.subarray(0, Math.floor(bytes.length * fraction)));
  };

  const clip = fs.readFileSync(RAVDESS_CLIP);
  fs.writeFileSync(file('empty.mp4'), '');
  fs.writeFileSync(file('notes.mp4'), 'These are my notes, not a video.\nSecond line.\n');
  head(RAVDESS_CLIP, file('truncated.mp4'), 0.4);
  fs.writeFileSync(file('no-media-data.mp4'), clip.subarray(0, 30_000));

  run('-i', RAVDESS_CLIP, '-c', 'copy', '-f', 'mp4', file('moov-at-end.mp4'));
  head(file('moov-at-end.mp4'), file('moov-less.mp4'), 0.4);
  run('-i', RAVDESS_CLIP, '-c', 'copy', '-f', 'mpegts', file('full.ts'));
  head(file('full.ts'), file('cut.ts'), 0.5);

  run('-i', RAVDESS_CLIP, '-t', '0.5', '-c', 'copy', '-metadata:s:v:0', 'rotate=90', file('rotated.mp4'));
  run('-i', RAVDESS_CLIP, '-vn', '-c:a', 'copy', file('audio-only.m4a'));
  run(
    '-i', RAVDESS_CLIP, '-an', '-frames:v', '20',
    '-vf', "setpts='(N+if(gte(N,10),15,0))/(30*TB)'", '-vsync', 'vfr', '-c:v', 'mpeg4', '-q:v', '5', file('vfr.mp4'),
  );
  run('-i', ASTRONAUT_PNG, file('astronaut.jpg'));
  fs.copyFileSync(file('astronaut.jpg'), file('astro%d.jpg'));
  fs.copyFileSync(ASTRONAUT_PNG, file('astro%03d.png'));

  return {
    dir,
    empty: file('empty.mp4'),
    text: file('notes.mp4'),
    truncated: file('truncated.mp4'),
    noMediaData: file('no-media-data.mp4'),
    moovLess: file('moov-less.mp4'),
    cutTs: file('cut.ts'),
    rotated: file('rotated.mp4'),
    audioOnly: file('audio-only.m4a'),
    vfr: file('vfr.mp4'),
    jpeg: file('astronaut.jpg'),
    percentJpeg: file('astro%d.jpg'),
    percentPng: file('astro%03d.png'),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** PIDs of this process's children whose command is ffmpeg or ffprobe (from /proc; [] where there is no /proc). */
export function childMediaPids(): number[] {
  if (!fs.existsSync('/proc/self/stat')) return [];
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …; comm may hold spaces and parentheses, so split after the last ')'.
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      if (ppid === process.pid && /^ff(mpeg|probe)$/.test(comm)) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/** True while a process with this pid exists (zombies included). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
