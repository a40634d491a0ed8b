/**
 * The face detector node's target settings (minimum score, reference compatibility) on a real
 * two-person clip: the same target, frame for frame, as `cer analyze` with the same settings.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { EndPayload, FacePayload } from '../../src/contract/messages';
import { cer } from '../helpers/cli';
import { FRAMES, makeArriving, who } from '../helpers/two-person';
import { helper, NODES, type FlowNode } from './helpers';

function facesFlow(settings: Record<string, unknown>): FlowNode[] {
  const z = 'tab1';
  return [
    { id: z, type: 'tab', label: 'test' },
    { id: 'media', z, type: 'cer-media', source: '', allowLive: false, loop: false, realtime: false, audio: false, lookahead: 4, wires: [['faces'], [], []] },
    { id: 'faces', z, type: 'cer-faces', model: '', target: 'largest', wholeFrameFace: false, thumbnail: 0, ...settings, wires: [['out']] },
    { id: 'out', z, type: 'helper' },
    { id: 'catcher', z, type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z, type: 'helper' },
  ];
}

type Face = { box: number[]; score: number; track: number } | null;

/** The face detector's face per frame for one input, up to the end of its stream. */
function play(source: string, timeoutMs = 120_000): Promise<Face[]> {
  return new Promise((resolve, reject) => {
    const got: Face[] = [];
    const timer = setTimeout(() => reject(new Error(`no end within ${timeoutMs} ms (${got.length} messages)`)), timeoutMs);
    helper.getNode('out').on('input', (msg) => {
      const p = msg.payload as FacePayload | EndPayload;
      if (p.type === 'end') {
        clearTimeout(timer);
        resolve(got);
      } else if (p.type === 'face') got.push(p.face === null ? null : { box: [...p.face.box], score: p.face.score, track: p.face.track });
    });
    helper.getNode('caught').on('input', (msg) => {
      clearTimeout(timer);
      reject(new Error(`caught: ${msg.error?.message ?? 'unknown error'}`));
    });
    helper.getNode('media').receive({ payload: source });
  });
}

describe('Node-RED nodes: the face detector\'s target settings (two people on real faces)', function () {
  this.timeout(300_000);
  let dir: string;
  let clip: string;
  let serverStarted = false;

  /** cer analyze's face per frame with these options. */
  const analyzed = (...args: string[]): Face[] => {
    const out = fs.mkdtempSync(path.join(dir, 'out-'));
    const r = cer(['analyze', clip, '--out', out, '--no-acoustic', '--no-mouth-cue', '--no-vad', '--quiet', ...args]);
    assert.equal(r.status, 0, r.stderr);
    const a = JSON.parse(fs.readFileSync(path.join(out, 'arriving.json'), 'utf8')) as { results: Array<{ face: Face }> };
    return a.results.map((x) => (x.face === null ? null : { box: x.face.box, score: x.face.score, track: x.face.track }));
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-faces-target-'));
    clip = path.join(dir, 'arriving.mp4');
    makeArriving(clip);
    await helper.startServer();
    serverStarted = true;
  });
  after(async () => {
    if (serverStarted) await helper.stopServer();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await helper.unload();
  });

  for (const [what, settings, args, first] of [
    ['a node from before the settings (0.6, the steady target)', {}, [], 'A'],
    ['minimum score empty: 0.6', { minTargetScore: '', referenceCompat: false }, [], 'A'],
    ['minimum score 0.5: the blob (0.52) may be the target', { minTargetScore: '0.5' }, ['--min-target-score', '0.5'], 'blob'],
    ['reference compatibility: the per-frame choice', { minTargetScore: 0.6, referenceCompat: true }, ['--reference-compat'], 'blob'],
    ['longest-seen', { target: 'longest-seen', minTargetScore: 0.6 }, ['--target', 'longest-seen'], 'A'],
  ] as const) {
    it(`${what}: the faces of cer analyze, frame for frame`, async () => {
      await helper.load(NODES, facesFlow(settings));
      const faces = await play(clip);
      assert.equal(faces.length, FRAMES);
      assert.deepEqual(faces, analyzed(...args));
      assert.equal(who((faces[0] as NonNullable<Face>).box), first);
    });
  }

  it('a minimum score that is not one is an error naming the setting, to a Catch node', async () => {
    await helper.load(NODES, facesFlow({ minTargetScore: '2' }));
    await assert.rejects(play(clip), /caught: (Error: )?min\. score: expected a score from 0 to 1, got "2"/);
  });
});
