import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { COMPOUND_NAMES, FUSION_PRESETS } from '../../src/core';
import { resolveFfmpeg, resolveFfprobe } from '../../src/media/binaries';
import { decodeFrames } from '../../src/media/frame-decoder';
import { decodeFramesInWorker, FrameDecoderThread } from '../../src/media/frame-worker';
import { cer } from '../helpers/cli';
import { ASTRONAUT_PNG, RAVDESS_CLIP, REPO_ROOT } from '../helpers/testdata';
import { makeMediaFixtures, MediaFixtures, processExists } from '../media/fixtures';

interface Result {
  frame: number;
  t: number;
  face: { box: number[]; score: number; track: number } | null;
  vs: number[] | null;
  vd: number[] | null;
  a: number[] | null;
  fused: number[] | null;
  compound: number[] | null;
  label: string | null;
}
interface Analysis {
  input: string;
  fps: number | null;
  frames: number;
  duration: number;
  models: { vs: string; vd: string; a: string | null };
  fusion: { strategy: string; preset?: string };
  rule: string;
  results: Result[];
  rtf: number | null;
}

/** ffmpeg / ffprobe processes whose command line mentions `text` (from /proc). */
function mediaProcessesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (/ff(mpeg|probe)/.test(cmdline.split('\0')[0]) && cmdline.includes(text)) found.push(Number(entry));
    } catch {
      // ended while we looked
    }
  }
  return found;
}

function assertProbability(v: number[] | null, what: string): void {
  assert.ok(v !== null, `${what} is null`);
  assert.equal(v.length, 7, what);
  v.forEach((p) => assert.ok(p >= 0 && p <= 1, `${what}: ${p}`));
  assert.ok(Math.abs(v.reduce((a, b) => a + b, 0) - 1) < 1e-5, `${what} sums to one`);
}

describe('cer analyze: the visual path on real media', function () {
  let out: string;
  before(() => (out = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-analyze-'))));
  after(() => fs.rmSync(out, { recursive: true, force: true }));

  describe('the RAVDESS clip', function () {
    let analysis: Analysis;
    let decodedFrames: number;
    before(function () {
      // The visual path alone (test/pipeline/audio-path.test.ts has the default, with A).
      const r = cer(['analyze', RAVDESS_CLIP, '--out', out, '--no-acoustic']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /ffmpeg: .* \(from /);
      assert.match(r.stderr, /cer: ffprobe: ffprobe .* \(from /);
      assert.match(r.stderr, /98 frames in [\d.]+ s, [\d.]+ frames\/s, real-time factor [\d.]+/);
      analysis = JSON.parse(fs.readFileSync(path.join(out, '01-01-01-01-01-01-01.json'), 'utf8')) as Analysis;
      const counted = execFileSync(resolveFfprobe().path, ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', RAVDESS_CLIP], { encoding: 'utf8' });
      decodedFrames = Number(counted.trim());
    });

    it('gives one result per decoded frame, in order, with exact times', () => {
      assert.equal(decodedFrames, 98);
      assert.equal(analysis.frames, decodedFrames);
      assert.equal(analysis.results.length, decodedFrames);
      analysis.results.forEach((r, i) => {
        assert.equal(r.frame, i);
        assert.ok(Math.abs(r.t - (i * 1001) / 30000) < 1e-9, `frame ${i} at ${r.t}`);
      });
      assert.ok(Math.abs((analysis.fps ?? 0) - 30000 / 1001) < 1e-12);
      assert.ok(Math.abs(analysis.duration - 3.35) < 0.01);
      assert.equal(typeof analysis.rtf, 'number');
      assert.deepEqual(analysis.models, { vs: 'vs-fer2013-minixception', vd: 'temporal-smoothing', a: null });
      assert.deepEqual(analysis.fusion, { strategy: 'dirichlet', preset: 'paper-v' });
    });

    it('finds the face on at least 95 % of the frames, near the centre, as one track', () => {
      const withFace = analysis.results.filter((r) => r.face !== null);
      assert.ok(withFace.length >= 0.95 * analysis.frames, `${withFace.length} of ${analysis.frames}`);
      for (const r of withFace) {
        const [x1, y1, x2, y2] = r.face?.box ?? [];
        assert.ok(x1 < 640 && x2 > 640 && y1 < 400 && y2 > 300, `frame ${r.frame} box ${r.face?.box}`);
        assert.ok((r.face?.score ?? 0) > 0.5);
        assert.equal(r.face?.track, 1);
      }
    });

    it('gives valid probability vectors, fused and labelled as the paper-v formula says', () => {
      const W = FUSION_PRESETS['paper-v'].weights;
      for (const r of analysis.results.filter((x) => x.face !== null)) {
        assertProbability(r.vs, `frame ${r.frame} vs`);
        assertProbability(r.vd, `frame ${r.frame} vd`);
        assert.equal(r.a, null);
        const vs = r.vs as number[];
        const vd = r.vd as number[];
        r.fused?.forEach((p, c) => assert.ok(Math.abs(p - (vs[c] * W[0][c] + vd[c] * W[1][c])) < 1e-12));
        const compound = r.compound as number[];
        assert.equal(compound.length, 7);
        assert.equal(r.label, COMPOUND_NAMES[compound.indexOf(Math.max(...compound))]);
      }
    });

    it('VD is temporal smoothing of VS sampled every 6th frame (29.97 fps), filled from the first', () => {
      const [f0, f6, f12] = [0, 6, 12].map((i) => analysis.results[i]);
      assert.deepEqual(f0.vd, f0.vs, 'the window starts as 10 copies of frame 0');
      for (let i = 1; i < 6; i++) assert.deepEqual(analysis.results[i].vd, f0.vd, `held at frame ${i}`);
      const vs0 = f0.vs as number[];
      const vs6 = f6.vs as number[];
      const vs12 = f12.vs as number[];
      f6.vd?.forEach((p, c) => assert.ok(Math.abs(p - (9 * vs0[c] + vs6[c]) / 10) < 1e-12));
      f12.vd?.forEach((p, c) => assert.ok(Math.abs(p - (8 * vs0[c] + vs6[c] + vs12[c]) / 10) < 1e-12));
    });

    it('--target all gives the one person one track; --reference-compat is recorded', () => {
      const r = cer(['analyze', RAVDESS_CLIP, '--out', out, '--target', 'all', '--reference-compat', '--rule', 'rule1', '--quiet']);
      assert.equal(r.status, 0, r.stderr);
      const all = JSON.parse(fs.readFileSync(path.join(out, '01-01-01-01-01-01-01.json'), 'utf8')) as Analysis & { referenceCompat: boolean; target: string };
      assert.equal(all.frames, 98);
      assert.equal(all.target, 'all');
      assert.equal(all.referenceCompat, true);
      assert.equal(all.rule, 'rule1');
      assert.ok(all.results.every((x) => x.face === null || x.face.track === 1));
    });

    it('--vs-batch 8 (VS crops in batches) gives the same results, frame for frame', () => {
      const batched = path.join(out, 'batched');
      fs.mkdirSync(batched, { recursive: true });
      const r = cer(['analyze', RAVDESS_CLIP, '--out', batched, '--vs-batch', '8', '--quiet', '--no-acoustic']);
      assert.equal(r.status, 0, r.stderr);
      const b = JSON.parse(fs.readFileSync(path.join(batched, '01-01-01-01-01-01-01.json'), 'utf8')) as Analysis;
      assert.equal(b.results.length, analysis.results.length);
      b.results.forEach((x, i) => {
        const a = analysis.results[i];
        assert.equal(x.frame, a.frame);
        assert.equal(x.label, a.label, `label of frame ${i}`);
        (x.vs as number[]).forEach((p, c) => assert.ok(Math.abs(p - (a.vs as number[])[c]) < 1e-5, `VS of frame ${i}`));
        (x.vd as number[]).forEach((p, c) => assert.ok(Math.abs(p - (a.vd as number[])[c]) < 1e-5, `VD of frame ${i}`));
      });
      assert.match(cer(['analyze', RAVDESS_CLIP, '--out', batched, '--vs-batch', '0']).stderr, /--vs-batch: expected a whole number ≥ 1, got "0"/);
    });

    it('a folder stands for its media files, in name order; --skip-existing resumes a batch; two inputs with one results name are refused before anything runs', function () {
      // The test data is linked, not copied: a folder of two media files, a text file, a hidden file
      // and a subfolder (not entered).
      const folder = path.join(out, 'folder');
      const results = path.join(out, 'folder-results');
      fs.mkdirSync(path.join(folder, 'sub'), { recursive: true });
      fs.mkdirSync(results, { recursive: true });
      fs.symlinkSync(RAVDESS_CLIP, path.join(folder, 'b-speaker.mp4'));
      fs.symlinkSync(ASTRONAUT_PNG, path.join(folder, 'a-astronaut.png'));
      fs.symlinkSync(ASTRONAUT_PNG, path.join(folder, '.hidden.png'));
      fs.symlinkSync(ASTRONAUT_PNG, path.join(folder, 'sub', 'deeper.png'));
      fs.writeFileSync(path.join(folder, 'notes.txt'), 'not media');
      const r = cer(['analyze', folder, path.join(folder, 'a-astronaut.png'), '--out', results, '--no-acoustic']);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(fs.readdirSync(results).sort(), ['a-astronaut.json', 'b-speaker.json'], 'each media file once, nothing else');
      const order = [...r.stderr.matchAll(/→ \S*\/(\S+)\.json:/g)].map((m) => m[1]);
      assert.deepEqual(order, ['a-astronaut', 'b-speaker']);
      const speaker = JSON.parse(fs.readFileSync(path.join(results, 'b-speaker.json'), 'utf8')) as Analysis;
      assert.deepEqual(speaker.results.map((x) => x.label), analysis.results.map((x) => x.label), 'the same results as the clip named directly');
      assert.match(r.stderr, /cer: 2 of 2 inputs analysed, 0 failed\n$/);

      // --skip-existing: a stopped batch goes on where it was.
      const astronautJson = path.join(results, 'a-astronaut.json');
      const before = fs.statSync(astronautJson).mtimeMs;
      fs.rmSync(path.join(results, 'b-speaker.json'));
      const resumed = cer(['analyze', folder, '--out', results, '--skip-existing']);
      assert.equal(resumed.status, 0, resumed.stderr);
      assert.match(resumed.stderr, /--skip-existing: 1 of 2 inputs have their results in \S+ already/);
      assert.deepEqual([...resumed.stderr.matchAll(/→ \S*\/(\S+)\.json:/g)].map((m) => m[1]), ['b-speaker'], 'only the missing one is analysed');
      assert.match(resumed.stderr, /cer: 1 of 2 inputs analysed, 1 skipped \(results there already\), 0 failed\n$/);
      assert.equal(fs.statSync(astronautJson).mtimeMs, before, 'the existing results are left as they are');
      assert.deepEqual(fs.readdirSync(results).sort(), ['a-astronaut.json', 'b-speaker.json']);
      // A format that is not there yet means the input is not done.
      const csv = cer(['analyze', folder, '--out', results, '--skip-existing', '--format', 'json,csv', '--quiet']);
      assert.equal(csv.status, 0, csv.stderr);
      assert.deepEqual(fs.readdirSync(results).sort(), ['a-astronaut.csv', 'a-astronaut.json', 'b-speaker.csv', 'b-speaker.json']);

      const clash = path.join(out, 'clash');
      fs.mkdirSync(clash);
      fs.symlinkSync(RAVDESS_CLIP, path.join(clash, 'x.mp4'));
      fs.symlinkSync(ASTRONAUT_PNG, path.join(clash, 'x.png'));
      const refused = cer(['analyze', clash, '--out', clash]);
      assert.equal(refused.status, 1);
      assert.match(refused.stderr.trim(), /^cer: \S*clash\/x\.mp4 and \S*clash\/x\.png would both write their results to x\.\*: analyse them into different --out folders$/);
      assert.deepEqual(fs.readdirSync(clash).sort(), ['x.mp4', 'x.png'], 'nothing written');

      const empty = path.join(out, 'empty');
      fs.mkdirSync(empty);
      const none = cer(['analyze', empty, '--out', results]);
      assert.equal(none.status, 1);
      assert.match(none.stderr.trim(), /^cer: \S*empty: is a folder with no media files in it$/);
    });
  });

  it('astronaut.png: one face, found on her face', function () {
    const r = cer(['analyze', ASTRONAUT_PNG, '--out', out, '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    const a = JSON.parse(fs.readFileSync(path.join(out, 'astronaut.json'), 'utf8')) as Analysis;
    assert.equal(a.frames, 1);
    assert.equal(a.results.length, 1);
    assert.equal(a.fps, null);
    const [x1, y1, x2, y2] = a.results[0].face?.box ?? [];
    // Her eyes are at about (204, 101) and (246, 104), her mouth at (224, 145).
    assert.ok(x1 < 204 && x2 > 246 && y1 < 101 && y2 > 145, `box ${a.results[0].face?.box}`);
    assertProbability(a.results[0].vs, 'vs');
    assert.ok(COMPOUND_NAMES.includes(a.results[0].label as string));
    // A smiling face: Happiness is VS's strongest emotion.
    const vs = a.results[0].vs as number[];
    assert.equal(vs.indexOf(Math.max(...vs)), 4);
  });

  it('--out makes a missing folder (and its parents); a file there is refused in one line', function () {
    const nested = path.join(out, 'new', 'results');
    const made = cer(['analyze', ASTRONAUT_PNG, '--out', nested, '--quiet']);
    assert.equal(made.status, 0, made.stderr);
    assert.deepEqual(fs.readdirSync(nested), ['astronaut.json']);
    const file = path.join(out, 'new', 'results', 'astronaut.json');
    const refused = cer(['analyze', ASTRONAUT_PNG, '--out', file, '--quiet']);
    assert.equal(refused.status, 1);
    assert.equal(refused.stderr, `cer: --out: ${file} is not a folder\n`);
    fs.rmSync(path.join(out, 'new'), { recursive: true });
  });

  it('--whole-frame-face takes the whole image as the face', function () {
    const r = cer(['analyze', ASTRONAUT_PNG, '--out', out, '--whole-frame-face', '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    const a = JSON.parse(fs.readFileSync(path.join(out, 'astronaut.json'), 'utf8')) as Analysis;
    assert.deepEqual(a.results[0].face, { box: [0, 0, 512, 512], score: 1, track: 1, detector: null });
  });

  describe('bad inputs: one line naming the problem, no ffmpeg left, no partial output', function () {
    let fx: MediaFixtures;
    let badOut: string;
    let noFace: string;
    let modelsDir: string;
    before(function () {
      fx = makeMediaFixtures();
      noFace = path.join(fx.dir, 'grey.png');
      execFileSync(resolveFfmpeg().path, ['-v', 'error', '-f', 'lavfi', '-i', 'color=c=gray:s=320x240', '-frames:v', '1', noFace]);
      modelsDir = path.join(fx.dir, 'models');
      fs.mkdirSync(modelsDir);
    });
    beforeEach(() => (badOut = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-bad-'))));
    afterEach(() => fs.rmSync(badOut, { recursive: true, force: true }));
    after(() => fx?.cleanup());

    function expectOneLineError(args: string[], message: RegExp): void {
      const r = cer(['analyze', ...args, '--out', badOut, '--quiet']);
      assert.equal(r.status, 1, r.stderr);
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /^cer: /);
      assert.match(lines[0], message);
      assert.deepEqual(fs.readdirSync(badOut), [], 'no output file, not even a temporary one');
      assert.deepEqual(mediaProcessesMentioning(fx.dir), [], 'no ffmpeg left behind');
    }

    it('a missing file', () => expectOneLineError([path.join(fx.dir, 'absent.mp4')], /absent\.mp4: no such file/));
    it('a zero-byte file', () => expectOneLineError([fx.empty], /empty\.mp4: is empty/));
    it('a text file named .mp4', () => expectOneLineError([fx.text], /notes\.mp4: not a media file/));
    it('a truncated mp4', () => expectOneLineError([fx.truncated], /truncated\.mp4: (audio )?decoding stopped after [\d.]+ (frames|s of audio).*the file is truncated or corrupt/));
    it('an image with no face', () => expectOneLineError([noFace], /grey\.png: no face found in the image/));

    it('a corrupt model file', () => {
      const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'models', 'vs-fer2013-minixception.json'), 'utf8')) as Record<string, unknown>;
      const garbage = Buffer.from('this is not an onnx model at all');
      fs.writeFileSync(path.join(modelsDir, 'vs-fer2013-minixception.onnx'), garbage);
      manifest.sha256 = require('node:crypto').createHash('sha256').update(garbage).digest('hex') as string;
      fs.writeFileSync(path.join(modelsDir, 'vs-fer2013-minixception.json'), JSON.stringify(manifest));
      expectOneLineError([ASTRONAUT_PNG, '--models', modelsDir], /vs-fer2013-minixception\.json: onnxruntime cannot load model file .*vs-fer2013-minixception\.onnx/);
    });

    it('a model file with the wrong checksum', () => {
      const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'models', 'vs-fer2013-minixception.json'), 'utf8')) as Record<string, unknown>;
      fs.copyFileSync(path.join(REPO_ROOT, 'models', 'vs-fer2013-minixception.onnx'), path.join(modelsDir, 'vs-fer2013-minixception.onnx'));
      manifest.sha256 = '0'.repeat(64);
      fs.writeFileSync(path.join(modelsDir, 'vs-fer2013-minixception.json'), JSON.stringify(manifest));
      expectOneLineError([ASTRONAUT_PNG, '--models', modelsDir], /vs-fer2013-minixception\.json: model file \S*vs-fer2013-minixception\.onnx does not have the SHA-256 the manifest expects \(0{64}\): /);
    });

    it('a models folder with two models for one task: which one runs is not guessed', () => {
      const bundled = path.join(REPO_ROOT, 'models');
      expectOneLineError([ASTRONAUT_PNG, '--models', bundled], /models: 3 face-detection models \(blazeface-back-256\.json, blazeface-front-128\.json, blazeface-full-192\.json\): name the one to use by its manifest file$/);
      // Named before the folder, the choice is made.
      const r = cer(['analyze', ASTRONAUT_PNG, '--models', `${path.join(bundled, 'blazeface-back-256.json')},${bundled}`, '--out', badOut]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /models: faces blazeface-back-256 \(cpu\), VS vs-fer2013-minixception/);
      const analysis = JSON.parse(fs.readFileSync(path.join(badOut, 'astronaut.json'), 'utf8')) as Analysis;
      assert.ok(analysis.results[0].face !== null, 'back-256 finds the astronaut');
    });

    it('one bad input among good ones: the good ones are written, the exit status says it failed', () => {
      const r = cer(['analyze', fx.empty, ASTRONAUT_PNG, '--out', badOut, '--quiet']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /empty\.mp4: is empty/);
      assert.deepEqual(fs.readdirSync(badOut), ['astronaut.json']);
      // Second, the bad input is probed ahead while the first runs: its error still comes at its turn.
      fs.rmSync(path.join(badOut, 'astronaut.json'));
      const second = cer(['analyze', ASTRONAUT_PNG, fx.empty, '--out', badOut]);
      assert.equal(second.status, 1);
      assert.match(second.stderr, /astronaut\.json: 1 frames .*\ncer: \S*empty\.mp4: is empty \(0 bytes\)\ncer: 1 of 2 inputs analysed, 1 failed\n$/);
      assert.deepEqual(fs.readdirSync(badOut), ['astronaut.json']);
    });
  });
});

describe('decoding in a worker thread', function () {
  it('gives the same frames as decodeFrames', async () => {
    const direct: Array<{ t: number; head: string }> = [];
    for await (const f of decodeFrames(RAVDESS_CLIP)) {
      direct.push({ t: f.t, head: Buffer.from(f.data.subarray(0, 4096)).toString('hex') });
      if (f.index === 9) break;
    }
    let i = 0;
    for await (const f of decodeFramesInWorker(RAVDESS_CLIP, { reuseBuffers: true })) {
      assert.equal(f.t, direct[i].t);
      assert.equal(Buffer.from(f.data.subarray(0, 4096)).toString('hex'), direct[i].head);
      if (++i === 10) break;
    }
    assert.equal(i, 10);
  });

  it('stops ffmpeg when the loop ends early, and reports errors as one line', async () => {
    let pid = 0;
    for await (const f of decodeFramesInWorker(RAVDESS_CLIP, { onStart: (s) => (pid = s.pid) })) {
      if (f.index === 2) break;
    }
    assert.ok(pid > 0);
    assert.equal(processExists(pid), false);
    await assert.rejects(async () => {
      for await (const _ of decodeFramesInWorker(path.join(REPO_ROOT, 'README.md'))) {
        // not reached
      }
    }, /README\.md: not a media file/);
  });

  it('a kept decoder thread serves input after input: one stopped early, one failing, one whole, its buffers handed back', async () => {
    const thread = FrameDecoderThread.start();
    try {
      let pid = 0;
      for await (const f of decodeFramesInWorker(RAVDESS_CLIP, { thread, reuseBuffers: true, onStart: (s) => (pid = s.pid) })) {
        assert.equal(thread.busy, true);
        if (f.index === 2) break;
      }
      assert.equal(processExists(pid), false, 'ffmpeg of the input stopped early is gone');
      assert.equal(thread.busy, false);
      await assert.rejects(async () => {
        for await (const _ of decodeFramesInWorker(path.join(REPO_ROOT, 'README.md'), { thread })) {
          // not reached
        }
      }, /README\.md: not a media file/);
      // The same thread decodes a whole input after both, frame for frame as a fresh decoder does.
      const fresh: string[] = [];
      for await (const f of decodeFrames(RAVDESS_CLIP)) fresh.push(Buffer.from(f.data.subarray(0, 4096)).toString('hex'));
      let n = 0;
      for await (const f of decodeFramesInWorker(RAVDESS_CLIP, { thread })) {
        assert.equal(Buffer.from(f.data.subarray(0, 4096)).toString('hex'), fresh[f.index], `frame ${f.index}`);
        thread.recycle(f.data); // handed back: moved to the thread, no longer readable here
        assert.equal(f.data.byteLength, 0);
        n++;
      }
      assert.equal(n, fresh.length);
      assert.equal(n, 98);
    } finally {
      await thread.close();
    }
    await assert.rejects(async () => {
      for await (const _ of thread.decode(RAVDESS_CLIP)) {
        // not reached
      }
    }, /used after close/);
  });
});
