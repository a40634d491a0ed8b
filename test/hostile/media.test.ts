/**
 * Hostile media inputs: files that claim to be media but make ffmpeg open other files or URLs
 * (HLS playlists, concat lists, SDP descriptions, image2 patterns), other formats in disguise, and
 * damaged media. Each case asserts the exact outcome: the error code, the one-line message, that
 * nothing was read that was not asked for (a FIFO nobody opened, an HTTP listener nobody connected
 * to) and that no ffmpeg or ffprobe is left running. Real ffmpeg, real media.
 *
 * How "nothing was read" is told without strace: the file a playlist names is a FIFO. Opening a
 * FIFO for reading blocks until a writer comes, so an ffmpeg that opened it would hang until the
 * test's timeout; afterwards, opening it for writing without blocking fails with ENXIO exactly
 * when no reader has it open. Network references point at an HTTP listener of the test's own that
 * counts connections.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { readAudio } from '../../src/media/audio';
import { resolveFfmpeg } from '../../src/media/binaries';
import { MediaError } from '../../src/media/errors';
import { decodeFrames } from '../../src/media/frame-decoder';
import { probeMedia } from '../../src/media/probe';
import {
  ALLOW_PLAYLISTS_ENV,
  inputArgs,
  LOCAL_DEMUXERS,
  localFormatWhitelist,
  openSource,
  refusedDemuxer,
} from '../../src/media/source';
import type { MediaInfo } from '../../src/media/types';
import { cerAsync } from '../helpers/cli';
import { ASTRONAUT_PNG, RAVDESS_CLIP } from '../helpers/testdata';
import { ffmpegChildren, helper, NODES, type FlowNode, type TestMessage } from '../nodes/helpers';

const PLAYLIST_REFUSED = /is an HLS playlist \(#EXTM3U\), not a media file: local playlists are refused because they make ffmpeg open other files \(set CER_ALLOW_PLAYLISTS=1 to allow HLS playlists and concat lists that name local files\)$/;
const CONCAT_REFUSED = /is an ffmpeg concat list, not a media file: local playlists are refused because they make ffmpeg open other files \(set CER_ALLOW_PLAYLISTS=1 /;

/** The MediaError a promise rejects with (fails the test when it resolves or throws something else). */
async function mediaError(p: Promise<unknown>): Promise<MediaError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof MediaError, `expected a MediaError, got ${String(err)}`);
    assert.ok(!err.message.includes('\n'), 'one line');
    return err;
  }
  assert.fail('expected a MediaError, got a result');
}

/** True when no process has the FIFO open for reading (and so nobody read it). */
function fifoUnopened(fifo: string): boolean {
  try {
    const fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    fs.closeSync(fd);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENXIO';
  }
}

/** ffmpeg / ffprobe processes (anyone's) whose command line mentions `dir`. */
function mediaProcessesMentioning(dir: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (/ff(mpeg|probe)/.test(path.basename(cmd[0] ?? '')) && cmd.some((a) => a.includes(dir))) found.push(Number(entry));
    } catch {
      // ended while we looked
    }
  }
  return found;
}

function hls(...segments: string[]): string {
  return ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:10', ...segments.flatMap((s) => ['#EXTINF:3.0,', s]), '#EXT-X-ENDLIST', ''].join('\n');
}

describe('hostile media inputs', function () {
  this.timeout(120_000);
  let dir: string;
  let fifo: string;
  let server: http.Server;
  let connections = 0;
  let base: string;
  let ravdessInfo: MediaInfo;
  const file = (name: string): string => path.join(dir, name);
  const write = (name: string, text: string): string => {
    fs.writeFileSync(file(name), text);
    return file(name);
  };
  const ffmpeg = (...args: string[]): void => {
    execFileSync(resolveFfmpeg().path, ['-hide_banner', '-loglevel', 'error', '-y', ...args], { stdio: 'ignore' });
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-hostile-media-'));
    fifo = file('secret.ts');
    execFileSync('mkfifo', [fifo]);
    fs.copyFileSync(RAVDESS_CLIP, file('other.mp4'));
    server = http.createServer((_req, res) => res.end('x'));
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    ravdessInfo = await probeMedia(RAVDESS_CLIP);
  });

  after(async () => {
    delete process.env[ALLOW_PLAYLISTS_ENV];
    await new Promise<void>((resolve) => server.close(() => resolve()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    connections = 0;
    delete process.env[ALLOW_PLAYLISTS_ENV];
  });

  afterEach(() => {
    assert.deepEqual(ffmpegChildren(), [], 'no ffmpeg or ffprobe left running');
    assert.ok(fifoUnopened(fifo), 'the FIFO a playlist names was never opened');
  });

  describe('the probe (cer analyze, the media node and the library share it)', function () {
    it('an HLS playlist named .mp4 that names a local file: refused in one line, the file never opened', async () => {
      const input = write('x.mp4', hls(fifo));
      const started = Date.now();
      const err = await mediaError(probeMedia(input, { timeoutMs: 10_000 }));
      assert.equal(err.code, 'UNSUPPORTED_INPUT');
      assert.ok(err.message.startsWith(`${input}: `), err.message);
      assert.match(err.message, PLAYLIST_REFUSED);
      assert.ok(Date.now() - started < 5_000, 'refused at once, not after waiting on the FIFO');
    });

    it('an HLS playlist that names an http:// segment: refused, no connection made', async () => {
      const err = await mediaError(probeMedia(write('net.mp4', hls(`${base}/seg.ts`))));
      assert.equal(err.code, 'UNSUPPORTED_INPUT');
      assert.match(err.message, PLAYLIST_REFUSED);
      assert.equal(connections, 0);
    });

    it('an HLS playlist with its own extension (.m3u8): refused the same way', async () => {
      const err = await mediaError(probeMedia(write('list.m3u8', hls(fifo, `${base}/a.ts`))));
      assert.match(err.message, PLAYLIST_REFUSED);
      assert.equal(connections, 0);
    });

    it('an ffconcat list naming a file beside it: refused as a concat list', async () => {
      const err = await mediaError(probeMedia(write('concat.mp4', `ffconcat version 1.0\nfile ${path.basename(fifo)}\n`)));
      assert.equal(err.code, 'UNSUPPORTED_INPUT');
      assert.match(err.message, CONCAT_REFUSED);
    });

    it('a concat list naming an absolute path: refused as a concat list, not "Operation not permitted"', async () => {
      const err = await mediaError(probeMedia(write('abs.mp4', `ffconcat version 1.0\nfile ${file('other.mp4')}\n`)));
      assert.match(err.message, CONCAT_REFUSED);
      assert.doesNotMatch(err.message, /Operation not permitted/);
    });

    it('an SDP description (opens UDP/RTP): refused, saying it opens network streams', async () => {
      const sdp = 'v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\nm=video 5004 RTP/AVP 96\na=rtpmap:96 H264/90000\n';
      const err = await mediaError(probeMedia(write('stream.mp4', sdp)));
      assert.equal(err.code, 'UNSUPPORTED_INPUT');
      assert.match(err.message, /stream\.mp4: is an SDP\/RTP session description, which opens network streams, not a media file: refused \(play the stream itself with live input enabled\)$/);
    });

    it('another text format ffmpeg knows (ffmetadata) in disguise: refused, naming the detected format', async () => {
      const err = await mediaError(probeMedia(write('meta.mp4', ';FFMETADATA1\ntitle=x\n')));
      assert.equal(err.code, 'UNSUPPORTED_INPUT');
      assert.match(err.message, /meta\.mp4: was detected as 'ffmetadata', which is not one of the formats allowed for local files \(containers such as MP4, MOV, MKV, WebM, AVI, MPEG-TS, WAV, MP3, and still images\); convert it to one of them$/);
    });

    it('a subtitle file (WebVTT) named .mp4: refused, naming the detected format', async () => {
      const err = await mediaError(probeMedia(write('subs.mp4', 'WEBVTT\n\n00:00.000 --> 00:01.000\nhi\n')));
      assert.match(err.message, /subs\.mp4: was detected as 'webvtt', which is not one of the formats allowed/);
    });

    it('a playlist with a .png name and the sharp path: still goes to ffprobe and is refused', async () => {
      const err = await mediaError(probeMedia(write('still.png', hls(fifo)), { stillDecoder: 'sharp' }));
      assert.match(err.message, PLAYLIST_REFUSED);
    });
  });

  describe('decoding a file that became a playlist after it was probed', function () {
    it('frames: ffmpeg refuses it with the same one-line message', async () => {
      const input = write('swapped.mp4', hls(fifo));
      const err = await mediaError((async () => {
        for await (const _ of decodeFrames(input, { info: ravdessInfo })) assert.fail('no frame');
      })());
      assert.equal(err.code, 'UNSUPPORTED_INPUT');
      assert.match(err.message, PLAYLIST_REFUSED);
    });

    it('audio: ffmpeg refuses it with the same one-line message', async () => {
      const input = write('swapped-audio.mp4', hls(fifo, `${base}/b.ts`));
      const err = await mediaError(readAudio(input, { info: ravdessInfo }));
      assert.match(err.message, PLAYLIST_REFUSED);
      assert.equal(connections, 0);
    });
  });

  describe('image names that ffmpeg would read as patterns', function () {
    before(() => {
      ffmpeg('-i', ASTRONAUT_PNG, file('astro-src.bmp'));
      fs.copyFileSync(file('astro-src.bmp'), file('astro%d.bmp'));
      fs.copyFileSync(file('astro-src.bmp'), file('astro*.bmp'));
      ffmpeg('-i', ASTRONAUT_PNG, file('astro-src.tga'));
      fs.copyFileSync(file('astro-src.tga'), file('astro%d.tga'));
      ffmpeg('-f', 'lavfi', '-i', 'color=red:size=16x16', '-frames:v', '1', file('astro0.tga'));
      // What a pattern would pick up instead: smaller images beside them.
      for (const name of ['astro0.bmp', 'astro1.bmp', 'astroA.bmp']) ffmpeg('-f', 'lavfi', '-i', 'color=red:size=16x16', '-frames:v', '1', file(name));
    });

    for (const name of ['astro%d.bmp', 'astro*.bmp', 'astro%d.tga']) {
      it(`${name}: the one file is read (one frame of its own size), not a sequence or glob`, async () => {
        const info = await probeMedia(file(name));
        assert.equal(info.kind, 'image');
        assert.deepEqual([info.width, info.height], [512, 512]);
        const frames: Array<[number, number]> = [];
        for await (const f of decodeFrames(file(name), { info })) frames.push([f.width, f.height]);
        assert.deepEqual(frames, [[512, 512]]);
      });
    }
  });

  describe('plain containers stay accepted', function () {
    const cases: Array<[string, string[], 'video' | 'audio']> = [
      ['clip.mkv', ['-c:v', 'libx264', '-c:a', 'aac'], 'video'],
      ['clip.webm', ['-c:v', 'libvpx', '-b:v', '200k', '-c:a', 'libopus'], 'video'],
      ['clip.avi', ['-c:v', 'mpeg4', '-c:a', 'libmp3lame'], 'video'],
      ['clip.ts', ['-c:v', 'libx264', '-c:a', 'aac'], 'video'],
      ['clip.wav', ['-vn', '-c:a', 'pcm_s16le'], 'audio'],
      ['clip.flac', ['-vn', '-c:a', 'flac'], 'audio'],
      ['clip.ogg', ['-vn', '-c:a', 'libvorbis'], 'audio'],
      ['clip.mp3', ['-vn', '-c:a', 'libmp3lame'], 'audio'],
    ];
    for (const [name, codecs, kind] of cases) {
      it(`${name} probes as ${kind}`, async () => {
        ffmpeg('-i', RAVDESS_CLIP, '-t', '0.5', ...codecs, file(name));
        const info = await probeMedia(file(name));
        assert.equal(info.kind, kind);
        assert.equal(info.hasAudio, true);
      });
    }
  });

  describe('the opt-in (CER_ALLOW_PLAYLISTS=1)', function () {
    it('lets a local HLS playlist of a local clip play', async () => {
      process.env[ALLOW_PLAYLISTS_ENV] = '1';
      const info = await probeMedia(write('ok.m3u8', hls(file('other.mp4'))));
      assert.equal(info.kind, 'video');
      assert.equal(info.formatName, 'hls');
      assert.deepEqual([info.width, info.height], [1280, 720]);
    });

    it('still refuses network references in a playlist, with no connection made', async () => {
      process.env[ALLOW_PLAYLISTS_ENV] = '1';
      const err = await mediaError(probeMedia(write('opted-net.m3u8', hls(`${base}/seg.ts`))));
      assert.equal(err.code, 'UNSUPPORTED_INPUT');
      assert.match(err.message, /opted-net\.m3u8: refers to a network address \(http:\/\/\), and local files may only refer to local files/);
      assert.equal(connections, 0);
    });

    it("still leaves the concat demuxer's safe mode on: an absolute name is refused in one clear line", async () => {
      process.env[ALLOW_PLAYLISTS_ENV] = '1';
      const err = await mediaError(probeMedia(write('opted-abs.mp4', `ffconcat version 1.0\nfile ${fifo}\n`)));
      assert.match(err.message, /opted-abs\.mp4: is a concat list naming a file by an absolute path or with '\.\.', which the concat demuxer refuses: name the files relative to the list$/);
    });

    it('the arguments: -protocol_whitelist file,pipe and a -format_whitelist without playlists unless opted in', async () => {
      const source = await openSource(file('other.mp4'));
      const args = inputArgs(source);
      assert.deepEqual(args.slice(0, 4), ['-protocol_whitelist', 'file,pipe', '-format_whitelist', LOCAL_DEMUXERS.join(',')]);
      for (const banned of ['hls', 'concat', 'sdp', 'rtp', 'tee', 'image2pipe', 'data', 'ffmetadata', 'dash', 'imf']) {
        assert.ok(!LOCAL_DEMUXERS.includes(banned), banned);
      }
      assert.ok(localFormatWhitelist({ [ALLOW_PLAYLISTS_ENV]: '1' }).endsWith(',hls,concat'));
      assert.equal(refusedDemuxer(["[hls @ 0x55751f973240] Format not on whitelist 'mov'", 'file:/x: Invalid argument']), 'hls');
      assert.equal(refusedDemuxer(['file:/x: Invalid data found when processing input']), null);
    });
  });

  describe('damaged media', function () {
    it('a video cut at 10 %: its audio error says the file is truncated, not just "decoded no audio"', async () => {
      const whole = fs.readFileSync(RAVDESS_CLIP);
      const cut = file('cut10.mp4');
      fs.writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 10)));
      const err = await mediaError(readAudio(cut));
      assert.equal(err.code, 'DECODE_FAILED');
      assert.match(err.message, /cut10\.mp4: has an audio stream, but ffmpeg decoded no audio from it of the 3\.\d{3} s it declares.*: the file is truncated or corrupt; download or export it again$/);
    });
  });

  describe('cer analyze', function () {
    it('a playlist named .mp4: exit 1, one line naming it, no connection, nothing written, no ffmpeg left', async () => {
      const input = write('cli.mp4', hls(fifo, `${base}/c.ts`));
      const out = fs.mkdtempSync(path.join(dir, 'out-'));
      const r = await cerAsync(['analyze', input, '--out', out, '--quiet']);
      assert.equal(r.status, 1, r.stderr);
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.equal(lines[0], `cer: ${input}: is an HLS playlist (#EXTM3U), not a media file: local playlists are refused because they make ffmpeg open other files (set CER_ALLOW_PLAYLISTS=1 to allow HLS playlists and concat lists that name local files)`);
      assert.equal(connections, 0);
      assert.deepEqual(fs.readdirSync(out), []);
      assert.deepEqual(mediaProcessesMentioning(dir), []);
    });

    it('a concat list named .mp4: exit 1, one line naming it', async () => {
      const input = write('cli-concat.mp4', `ffconcat version 1.0\nfile other.mp4\n`);
      const out = fs.mkdtempSync(path.join(dir, 'out-'));
      const r = await cerAsync(['analyze', input, '--out', out, '--quiet']);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^cer: \S*cli-concat\.mp4: is an ffmpeg concat list, not a media file: /);
      assert.deepEqual(mediaProcessesMentioning(dir), []);
    });
  });

  describe('the media node', function () {
    before(async () => {
      await helper.startServer();
    });
    after(async () => {
      await helper.stopServer();
    });
    afterEach(async () => {
      await helper.unload();
    });

    it('a playlist as msg.payload: the Catch node gets the one-line refusal, no connection made, no ffmpeg left', async () => {
      const input = write('node.mp4', hls(fifo, `${base}/n.ts`));
      const flow: FlowNode[] = [
        { id: 'tab1', type: 'tab', label: 'test' },
        { id: 'media', z: 'tab1', type: 'cer-media', allowLive: false, loop: false, realtime: false, audio: true, lookahead: 4, wires: [[], [], ['events']] },
        { id: 'events', z: 'tab1', type: 'helper' },
        { id: 'catcher', z: 'tab1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', z: 'tab1', type: 'helper' },
      ];
      await helper.load(NODES, flow);
      const caught = new Promise<TestMessage>((resolve) => helper.getNode('caught').on('input', resolve));
      helper.getNode('media').receive({ payload: input });
      const msg = await caught;
      assert.equal(msg.error?.source?.id, 'media');
      const message = msg.error?.message ?? '';
      assert.ok(!message.includes('\n'));
      assert.ok(message.includes(`${input}: is an HLS playlist (#EXTM3U)`), message);
      assert.equal(connections, 0);
      assert.deepEqual(ffmpegChildren(), []);
    });
  });
});
