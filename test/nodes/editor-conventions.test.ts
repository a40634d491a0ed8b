/**
 * The runtime side of the editor's conventions: the media splitter's source as a TypedInput (text,
 * msg, flow, global or env), evaluated by Node-RED on real media, and the nodes' texts from their
 * message catalogues through Node-RED's own i18n.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SourceEventPayload } from '../../src/contract/messages';
import { translator } from '../../nodes/common/i18n';
import { RAVDESS_CLIP, REPO_ROOT } from '../helpers/testdata';
import { helper, NODES, nextMessage, type FlowNode, type TestMessage } from './helpers';

/** The media splitter alone, its events on `events`, a Catch node feeding `caught`. */
function mediaFlow(media: Record<string, unknown>): FlowNode[] {
  const z = 'tab1';
  return [
    { id: z, type: 'tab', label: 'test' },
    { id: 'media', z, type: 'cer-media', allowLive: false, loop: false, realtime: false, audio: false, lookahead: 4, ...media, wires: [[], [], ['events']] },
    { id: 'events', z, type: 'helper' },
    { id: 'catcher', z, type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z, type: 'helper' },
  ];
}

/** The events of one run, up to its end; rejects with what a Catch node got. */
function runEvents(msg: Record<string, unknown>, timeoutMs = 60_000): Promise<SourceEventPayload[]> {
  return new Promise((resolve, reject) => {
    const events: SourceEventPayload[] = [];
    const timer = setTimeout(() => reject(new Error(`no end within ${timeoutMs} ms`)), timeoutMs);
    helper.getNode('events').on('input', (m: TestMessage) => {
      const p = m.payload as SourceEventPayload;
      events.push(p);
      if (p.type === 'end') {
        clearTimeout(timer);
        resolve(events);
      }
    });
    helper.getNode('caught').on('input', (m: TestMessage) => {
      clearTimeout(timer);
      reject(new Error(`caught: ${m.error?.message ?? '?'}`));
    });
    helper.getNode('media').receive(msg);
  });
}

/** The one source a run played, and that it played to the end. */
function played(events: readonly SourceEventPayload[]): string {
  const start = events.find((e) => e.type === 'start');
  const end = events[events.length - 1];
  assert.ok(start, 'a start event');
  assert.equal(end.type, 'end');
  if (end.type !== 'end') throw new Error('unreachable');
  assert.equal(end.reason, 'done');
  assert.equal(end.frames, 98, 'every frame of the RAVDESS clip');
  return start.source;
}

describe('Node-RED nodes: the media splitter\'s source as a TypedInput', function () {
  const ENV = 'CER_TEST_MEDIA_SOURCE';
  let serverStarted = false;

  before(async () => {
    await helper.startServer();
    serverStarted = true;
  });

  after(async () => {
    delete process.env[ENV];
    if (serverStarted) await helper.stopServer();
  });

  afterEach(async () => {
    await helper.unload();
  });

  it('a flow from before the TypedInput (no sourceType): msg.payload first, else the node\'s text', async () => {
    await helper.load(NODES, mediaFlow({ source: RAVDESS_CLIP }));
    assert.equal(played(await runEvents({ payload: 1700000000000 })), RAVDESS_CLIP, 'a timestamp payload names no input: the node\'s source');
    // The same clip named another way (relative to the package): the name the run reports is msg.payload's.
    const relative = path.relative(REPO_ROOT, RAVDESS_CLIP);
    assert.equal(played(await runEvents({ payload: relative })), relative);
  });

  it('from msg: the named property alone, whatever msg.payload holds', async () => {
    await helper.load(NODES, mediaFlow({ source: 'clip.path', sourceType: 'msg' }));
    assert.equal(played(await runEvents({ payload: '/no/such/file.mp4', clip: { path: RAVDESS_CLIP } })), RAVDESS_CLIP);
  });

  it('from flow and global context', async () => {
    await helper.load(NODES, mediaFlow({ source: 'clip', sourceType: 'flow' }));
    const media = helper.getNode('media') as unknown as { context(): { flow: { set(k: string, v: unknown): void }; global: { set(k: string, v: unknown): void } } };
    media.context().flow.set('clip', RAVDESS_CLIP);
    assert.equal(played(await runEvents({ payload: '' })), RAVDESS_CLIP);
    await helper.unload();

    await helper.load(NODES, mediaFlow({ source: 'media.clip', sourceType: 'global' }));
    (helper.getNode('media') as unknown as typeof media).context().global.set('media', { clip: RAVDESS_CLIP });
    assert.equal(played(await runEvents({ payload: '' })), RAVDESS_CLIP);
  });

  it('from an environment variable', async () => {
    process.env[ENV] = RAVDESS_CLIP;
    await helper.load(NODES, mediaFlow({ source: ENV, sourceType: 'env' }));
    assert.equal(played(await runEvents({ payload: '' })), RAVDESS_CLIP);
  });

  it('a property that holds no input reaches a Catch node, named', async () => {
    await helper.load(NODES, mediaFlow({ source: 'clip', sourceType: 'msg' }));
    let caught = nextMessage('caught');
    helper.getNode('media').receive({ payload: RAVDESS_CLIP });
    let msg = await caught;
    assert.equal(msg.error?.source?.id, 'media');
    // Node-RED gives a Catch node the error as text (Error.toString()).
    assert.equal(msg.error?.message, 'Error: no input: msg.clip is empty (give a file path, URL or device)');
    await helper.unload();

    await helper.load(NODES, mediaFlow({ source: '' }));
    caught = nextMessage('caught');
    helper.getNode('media').receive({ payload: '' });
    msg = await caught;
    assert.equal(msg.error?.message, 'Error: no input: give a file path, URL or device in msg.payload or in the node');
  });
});

describe('Node-RED nodes: texts from the message catalogues', function () {
  const NODE_NAMES = ['cer-models', 'cer-media', 'cer-faces', 'cer-vs', 'cer-vd', 'cer-acoustic', 'cer-fusion', 'cer-rules', 'cer-fit-weights', 'cer-queue'];

  it('every node has an English catalogue beside its built file, with its palette label', () => {
    for (const n of NODE_NAMES) {
      const file = path.join(REPO_ROOT, 'dist', 'nodes', n, 'locales', 'en-US', `${n}.json`);
      const catalogue = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, { paletteLabel?: unknown }>;
      assert.deepEqual(Object.keys(catalogue), [n], `${n}: one namespace, the node's name`);
      assert.equal(typeof catalogue[n].paletteLabel, 'string', `${n}: paletteLabel`);
      assert.equal(fs.readFileSync(file, 'utf8'), fs.readFileSync(path.join(REPO_ROOT, 'nodes', n, 'locales', 'en-US', `${n}.json`), 'utf8'), `${n}: dist holds the source's catalogue`);
    }
    assert.equal((JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'nodes', 'cer-models', 'locales', 'en-US', 'cer-models.json'), 'utf8')) as { 'cer-models': { paletteLabel: string } })['cer-models'].paletteLabel, 'model');
  });

  it('through Node-RED\'s i18n (as the runtime registers a node set\'s catalogue), and without it', async () => {
    const { i18n } = require('@node-red/util') as {
      i18n: { init(settings: Record<string, unknown>): void; registerMessageCatalog(ns: string, dir: string, file: string): Promise<void>; _(key: string, subs?: Record<string, unknown>): string };
    };
    i18n.init({ lang: 'en-US' });
    const ns = 'node-red-contrib-compound-expressions/cer-media';
    await i18n.registerMessageCatalog(ns, path.join(REPO_ROOT, 'dist', 'nodes', 'cer-media', 'locales'), 'cer-media.json');
    // What Node-RED's createNodeApi gives a node set as RED._.
    const runtime = translator({ _: (key, subs) => i18n._(`${ns}:${key}`, subs) }, 'cer-media');
    assert.equal(runtime('status.ended', { frames: 98, seconds: '1.5' }), 'ended · 98 frames in 1.5 s');
    assert.equal(runtime('status.probing', { file: 'a/b.mp4' }), 'probing a/b.mp4', 'substitutions are not HTML-escaped');
    // node-red-node-test-helper's RED._ hands the key back: the English catalogue is read instead.
    const bare = translator({ _: (key) => key }, 'cer-media');
    assert.equal(bare('status.ended', { frames: 98, seconds: '1.5' }), 'ended · 98 frames in 1.5 s');
    assert.throws(() => bare('status.nothing'), /no text "cer-media\.status\.nothing"/);
  });
});
