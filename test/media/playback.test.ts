import * as assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { readAudio } from '../../src/media/audio';
import { resolveFfmpeg, resolveFfprobe } from '../../src/media/binaries';
import { PlaybackController, type PlaybackOptions, type PlaybackOutputs, type PlaybackStatus } from '../../src/media/playback';
import type { AudioPayload, EndPayload, FramePayload, SourceEventPayload } from '../../src/contract/messages';
import { RAVDESS_CLIP, SAMPLE_MP4 } from '../helpers/testdata';
import { childMediaPids, makeMediaFixtures, processExists, type MediaFixtures } from './fixtures';

/** Frames ffprobe counts by decoding the whole stream (-count_frames). */
function countFramesWithFfprobe(file: string): number {
  const out = execFileSync(resolveFfprobe().path, [
    '-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file,
  ]);
  return Number(out.toString().trim());
}

/** md5 of every frame as the ffmpeg command line decodes it to RGB24. */
function cliRgbMd5(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(resolveFfmpeg().path, ['-nostdin', '-v', 'error', '-i', file, '-map', '0:v:0', '-vsync', 'passthrough', '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1']);
    const hash = createHash('md5');
    child.stdout.on('data', (chunk: Buffer) => hash.update(chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(hash.digest('hex')) : reject(new Error(`ffmpeg exited ${code}`))));
  });
}

/** Everything one run sent, in order. */
interface Recorded {
  readonly frames: FramePayload[];
  readonly audio: AudioPayload[];
  readonly events: SourceEventPayload[];
  readonly ends: EndPayload[];
  /** Every payload's type and source, in the order sent. */
  readonly order: string[];
  readonly frameMd5: ReturnType<typeof createHash>;
}

function recorder(extra: Partial<PlaybackOutputs> = {}): { rec: Recorded; outputs: PlaybackOutputs } {
  const rec: Recorded = { frames: [], audio: [], events: [], ends: [], order: [], frameMd5: createHash('md5') };
  const outputs: PlaybackOutputs = {
    frame: (p) => {
      rec.frameMd5.update(p.data);
      rec.frames.push({ ...p, data: Buffer.alloc(0) });
      rec.order.push(`frame ${path.basename(p.source)}`);
      extra.frame?.(p);
    },
    audio: (p) => {
      rec.audio.push(p);
      rec.order.push(`audio ${path.basename(p.source)}`);
      extra.audio?.(p);
    },
    event: (p) => {
      rec.events.push(p);
      rec.order.push(`${p.type} ${path.basename(p.source)}`);
      extra.event?.(p);
    },
    end: (p) => {
      rec.ends.push(p);
      rec.order.push(`end ${path.basename(p.source)}`);
      extra.end?.(p);
    },
    ...(extra.gate ? { gate: extra.gate } : {}),
  };
  return { rec, outputs };
}

describe('media/playback: the media splitter node\'s controller, without Node-RED', function () {
  let fx: MediaFixtures;
  const controllers: PlaybackController[] = [];
  const statuses: PlaybackStatus[] = [];

  const controller = (options: PlaybackOptions = {}): PlaybackController => {
    const c = new PlaybackController({ ...options, onStatus: (s) => statuses.push(s) });
    controllers.push(c);
    return c;
  };

  before(() => {
    fx = makeMediaFixtures();
  });
  after(() => fx.cleanup());
  beforeEach(() => {
    statuses.length = 0;
  });
  afterEach(async () => {
    await Promise.all(controllers.splice(0).map((c) => c.close()));
  });

  it('plays a clip: a start event, every frame as ffmpeg decodes it, the whole audio track in order, 100 % and a done end', async () => {
    const c = controller();
    const gated: string[] = [];
    const { rec, outputs } = recorder({
      gate: (stream) => ({
        acquire: async () => {
          gated.push(`acquire ${stream}`);
        },
        close: () => gated.push(`close ${stream}`),
      }),
    });
    const run = c.play(await c.sources(RAVDESS_CLIP), outputs);
    await run.finished;

    const expectedFrames = countFramesWithFfprobe(RAVDESS_CLIP);
    assert.equal(rec.frames.length, expectedFrames);
    assert.deepEqual(rec.frames.map((f) => f.frame), Array.from({ length: expectedFrames }, (_, i) => i));
    assert.ok(rec.frames.every((f, i) => i === 0 || f.t > rec.frames[i - 1].t), 'frame times increase');
    assert.equal(rec.frameMd5.digest('hex'), await cliRgbMd5(RAVDESS_CLIP), 'the frames are the RGB bytes ffmpeg decodes');
    assert.ok(rec.frames.every((f) => f.width === 1280 && f.height === 720 && Math.abs(f.fps - 30000 / 1001) < 1e-9));

    const streams = new Set([...rec.frames, ...rec.audio, ...rec.events, ...rec.ends].map((p) => p.stream));
    assert.equal(streams.size, 1, 'one stream for one file played once');
    assert.equal(rec.order[0], `start ${path.basename(RAVDESS_CLIP)}`);
    const start = rec.events[0];
    assert.ok(start.type === 'start' && start.info.kind === 'video' && start.info.hasAudio && start.info.frameRate === '30000/1001');

    // Audio: 16 kHz chunks, sample-contiguous, together the track readAudio decodes.
    let next = 0;
    for (const chunk of rec.audio) {
      assert.equal(chunk.sampleIndex, next);
      assert.equal(chunk.sampleRate, 16000);
      assert.equal(chunk.start, chunk.sampleIndex / 16000);
      next += chunk.samples.length;
    }
    const whole = await readAudio(RAVDESS_CLIP);
    assert.equal(next, whole.samples.length);
    assert.deepEqual(Buffer.concat(rec.audio.map((a) => Buffer.from(a.samples.buffer, a.samples.byteOffset, a.samples.byteLength))), Buffer.from(whole.samples.buffer));

    const last = rec.events[rec.events.length - 1];
    assert.ok(last.type === 'progress' && last.percent === 100 && last.frame === expectedFrames);
    assert.equal(rec.ends.length, 1);
    assert.equal(rec.ends[0].reason, 'done');
    assert.equal(rec.ends[0].frames, expectedFrames);
    assert.equal(rec.order[rec.order.length - 1], `end ${path.basename(RAVDESS_CLIP)}`);

    // The gate was asked once per frame before it was sent, and closed with the stream.
    const stream = [...streams][0];
    assert.deepEqual(gated, [...Array.from({ length: expectedFrames }, () => `acquire ${stream}`), `close ${stream}`]);
    assert.deepEqual(statuses[0], { state: 'probing', source: RAVDESS_CLIP });
    const playing = statuses.filter((s): s is Extract<PlaybackStatus, { state: 'playing' }> => s.state === 'playing');
    assert.equal(playing.length, expectedFrames);
    assert.ok(playing.every((s) => typeof s.pid === 'number' && s.pid > 0), 'the status names the ffmpeg pid');
    assert.ok(!processExists(playing[0].pid as number), 'that ffmpeg has exited');
    assert.deepEqual(statuses[statuses.length - 1], { state: 'ended', frames: expectedFrames, seconds: rec.ends[0].seconds, index: 1, count: 1 });
    assert.equal(c.running, 0);
    assert.deepEqual(childMediaPids(), []);
  });

  it('stop mid-file ends the stream with reason stopped and leaves no ffmpeg running', async () => {
    const c = controller();
    let pidWhilePlaying: number[] = [];
    const { rec, outputs } = recorder({
      frame: (p) => {
        if (p.frame === 10) {
          pidWhilePlaying = childMediaPids();
          c.stop(p.stream);
        }
      },
    });
    const run = c.play([SAMPLE_MP4], outputs);
    await run.finished;
    assert.ok(pidWhilePlaying.length > 0, 'ffmpeg ran while the file played');
    assert.equal(rec.ends.length, 1);
    assert.equal(rec.ends[0].reason, 'stopped');
    assert.ok(rec.frames.length >= 11 && rec.frames.length < countFramesWithFfprobe(SAMPLE_MP4), `${rec.frames.length} frames sent`);
    assert.equal(rec.ends[0].frames, rec.frames.length);
    assert.deepEqual(statuses[statuses.length - 1], { state: 'stopped', frames: rec.frames.length });
    assert.deepEqual(childMediaPids(), [], 'no ffmpeg is left');
    for (const pid of pidWhilePlaying) assert.ok(!processExists(pid), `ffmpeg ${pid} has exited`);
    assert.equal(c.running, 0);
  });

  it('close() while a clip plays stops it, sends nothing more and resolves once ffmpeg has exited', async () => {
    const c = controller();
    let sentAtClose = -1;
    let closed: Promise<void> | null = null;
    const { rec, outputs } = recorder({
      frame: (p) => {
        if (p.frame === 5 && closed === null) {
          sentAtClose = rec.order.length;
          closed = c.close();
        }
      },
    });
    const run = c.play([SAMPLE_MP4], outputs);
    await run.finished;
    await closed;
    assert.equal(rec.order.length, sentAtClose, 'nothing was sent once the close began (no end either)');
    assert.deepEqual(childMediaPids(), []);
  });

  it('loop plays a single file again and again, each time a new stream from frame 0', async () => {
    const c = controller({ loop: true });
    const { rec, outputs } = recorder({
      end: () => {
        if (rec.ends.length === 3) run.stop();
      },
    });
    const run = c.play(await c.sources(fx.vfr), outputs);
    await run.finished;
    assert.deepEqual(rec.ends.map((e) => e.reason), ['done', 'done', 'done']);
    const perFile = countFramesWithFfprobe(fx.vfr);
    assert.deepEqual(rec.ends.map((e) => e.frames), [perFile, perFile, perFile]);
    assert.equal(new Set(rec.ends.map((e) => e.stream)).size, 3, 'a new stream each time');
    for (const end of rec.ends) {
      assert.deepEqual(rec.frames.filter((f) => f.stream === end.stream).map((f) => f.frame), Array.from({ length: perFile }, (_, i) => i));
    }
    assert.equal(rec.events.filter((e) => e.type === 'start').length, 3);
  });

  it('a folder plays its media files in name order, each a stream of its own, and the run is then over', async () => {
    const dir = fs.mkdtempSync(path.join(fx.dir, 'folder-'));
    fs.copyFileSync(fx.vfr, path.join(dir, 'b-second.mp4'));
    fs.copyFileSync(fx.rotated, path.join(dir, 'a-first.mp4'));
    fs.copyFileSync(fx.jpeg, path.join(dir, 'c-third.jpg'));
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'not media');
    const c = controller({ loop: true }); // loop applies to a single file only
    const sources = await c.sources(dir);
    assert.deepEqual(sources.map((s) => path.basename(s)), ['a-first.mp4', 'b-second.mp4', 'c-third.jpg']);
    const { rec, outputs } = recorder();
    await c.play(sources, outputs).finished;
    const starts = rec.order.filter((o) => o.startsWith('start ') || o.startsWith('end '));
    assert.deepEqual(starts, ['start a-first.mp4', 'end a-first.mp4', 'start b-second.mp4', 'end b-second.mp4', 'start c-third.jpg', 'end c-third.jpg']);
    assert.deepEqual(rec.ends.map((e) => e.reason), ['done', 'done', 'done']);
    assert.equal(new Set(rec.ends.map((e) => e.stream)).size, 3);
    assert.deepEqual(rec.ends.map((e) => e.frames), [countFramesWithFfprobe(fx.rotated), countFramesWithFfprobe(fx.vfr), 1]);
    const ended = statuses.filter((s): s is Extract<PlaybackStatus, { state: 'ended' }> => s.state === 'ended');
    assert.deepEqual(ended.map((s) => `${s.index}/${s.count}`), ['1/3', '2/3', '3/3']);
    // A still image is decoded in this process: its status names no ffmpeg.
    const stillStatus = statuses.filter((s) => s.state === 'playing').pop();
    assert.deepEqual(stillStatus && stillStatus.state === 'playing' ? stillStatus.pid : 'none', null);
  });

  it('a bad file in a folder: its one-line error and an error end, then the run stops there (as the node always did)', async () => {
    const dir = fs.mkdtempSync(path.join(fx.dir, 'bad-'));
    fs.copyFileSync(fx.vfr, path.join(dir, '1-good.mp4'));
    fs.copyFileSync(fx.text, path.join(dir, '2-bad.mp4'));
    fs.copyFileSync(fx.vfr, path.join(dir, '3-good.mp4'));
    const c = controller();
    const { rec, outputs } = recorder();
    const run = c.play(await c.sources(dir), outputs);
    const failure = await run.finished.then(
      () => null,
      (err: unknown) => err,
    );
    assert.ok(failure instanceof Error, 'finished rejects with the error');
    const error = rec.events.find((e) => e.type === 'error');
    assert.ok(error !== undefined && error.type === 'error');
    assert.match(error.message, /2-bad\.mp4/);
    assert.doesNotMatch(error.message, /\n/);
    assert.equal(error.code, 'NOT_MEDIA');
    assert.equal(failure.message.replace(/\s*\n\s*/g, ' '), error.message);
    assert.deepEqual(rec.ends.map((e) => `${path.basename(e.source)} ${e.reason}`), ['1-good.mp4 done', '2-bad.mp4 error']);
    assert.ok(!rec.order.some((o) => o.endsWith('3-good.mp4')), 'the file after the bad one is not played');
    assert.deepEqual(statuses[statuses.length - 1], { state: 'failed', message: error.message });
    assert.deepEqual(childMediaPids(), []);
  });

  it('realtime paces frames at the media\'s own clock; audio off sends no audio', async () => {
    const c = controller({ realtime: true, audio: false });
    const { rec, outputs } = recorder();
    const started = performance.now();
    await c.play([fx.vfr], outputs).finished;
    const elapsed = (performance.now() - started) / 1000;
    const lastT = rec.frames[rec.frames.length - 1].t;
    // vfr.mp4 has a 0.5 s gap: its last frame is at about 1.13 s, decoding it takes a fraction of that.
    assert.ok(lastT > 1, `last frame at ${lastT} s`);
    assert.ok(elapsed >= lastT - 0.02, `played in ${elapsed.toFixed(3)} s, the last frame is at ${lastT.toFixed(3)} s`);
    assert.equal(rec.audio.length, 0);
    assert.equal(rec.ends[0].reason, 'done');
  });
});
