/**
 * The face detector's msg.thumbnail: a small JPEG of the face crop as a data: URL, on real media
 * played by the media splitter.
 */
import { strict as assert } from 'node:assert';
import type { EndPayload, FacePayload } from '../../src/contract/messages';
import { loadSharp } from '../../src/media/still';
import { cropImage } from '../../src/vision/image';
import { DEFAULT_THUMBNAIL_SIZE } from '../../src/vision/thumbnail';
import { ASTRONAUT_PNG, RAVDESS_CLIP } from '../helpers/testdata';
import { helper, NODES, type FlowNode, type TestMessage } from './helpers';

const PREFIX = 'data:image/jpeg;base64,';

function flowWith(thumbnail: number | string | undefined): FlowNode[] {
  const z = 'tab1';
  const faces: FlowNode = { id: 'faces', z, type: 'cer-faces', model: '', detector: 'front-128', target: 'largest', wholeFrameFace: false, wires: [['out']] };
  if (thumbnail !== undefined) faces.thumbnail = thumbnail;
  return [
    { id: z, type: 'tab', label: 'test' },
    { id: 'media', z, type: 'cer-media', source: '', allowLive: false, loop: false, realtime: false, audio: false, lookahead: 4, wires: [['faces'], [], []] },
    faces,
    { id: 'out', z, type: 'helper' },
    { id: 'catcher', z, type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z, type: 'helper' },
  ];
}

/** The face detector's messages for one input, up to the end of its stream. */
function play(source: string, timeoutMs = 120_000): Promise<TestMessage[]> {
  return new Promise((resolve, reject) => {
    const got: TestMessage[] = [];
    const timer = setTimeout(() => reject(new Error(`no end within ${timeoutMs} ms (${got.length} messages)`)), timeoutMs);
    helper.getNode('out').on('input', (msg) => {
      if ((msg.payload as EndPayload).type === 'end') {
        clearTimeout(timer);
        resolve(got);
      } else got.push(msg);
    });
    helper.getNode('caught').on('input', (msg) => {
      clearTimeout(timer);
      reject(new Error(`caught: ${msg.error?.message ?? 'unknown error'}`));
    });
    helper.getNode('media').receive({ payload: source });
  });
}

interface Raw {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
}

/** The thumbnail decoded back to RGB (and checked to be a JPEG). */
async function decodeThumbnail(url: unknown): Promise<Raw> {
  assert.equal(typeof url, 'string');
  assert.ok((url as string).startsWith(PREFIX), (url as string).slice(0, 40));
  const jpeg = Buffer.from((url as string).slice(PREFIX.length), 'base64');
  const sharp = await loadSharp();
  assert.equal((await sharp(jpeg).metadata()).format, 'jpeg');
  const { data, info } = await sharp(jpeg).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/**
 * The face box's part of the payload's crop (the crop has room around the face for VS; the
 * thumbnail shows the box, as cropImage(frame, box) cuts it).
 */
function faceOf(payload: FacePayload): { width: number; height: number; data: Uint8Array } {
  assert.ok(payload.crop !== null && payload.cropBox && payload.detection);
  const [ox, oy] = payload.cropBox;
  const [x1, y1, x2, y2] = payload.detection.box;
  return cropImage(payload.crop, [x1 - ox, y1 - oy, x2 - ox, y2 - oy]);
}

/** The payload's face crop at the thumbnail's size (optionally upside down). */
async function cropAt(payload: FacePayload, width: number, height: number, upsideDown = false): Promise<Buffer> {
  const crop = faceOf(payload);
  const sharp = await loadSharp();
  let p = sharp(crop.data, { raw: { width: crop.width, height: crop.height, channels: 3 } }).resize(width, height, { fit: 'fill' });
  if (upsideDown) p = p.flip();
  return p.raw().toBuffer();
}

function meanDifference(a: Buffer, b: Buffer): number {
  assert.equal(a.length, b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] as number) - (b[i] as number));
  return sum / a.length;
}

/** The thumbnail is a JPEG of `size` px (longest side, crop's aspect) that shows the face crop. */
async function assertShowsCrop(msg: TestMessage, size: number): Promise<void> {
  const payload = msg.payload as FacePayload;
  assert.ok(payload.crop !== null && payload.face !== null);
  const thumb = await decodeThumbnail(msg.thumbnail);
  assert.equal(Math.max(thumb.width, thumb.height), size);
  const face = faceOf(payload);
  const aspect = face.width / face.height;
  assert.ok(Math.abs(thumb.width / thumb.height - aspect) < 2 / size + 1e-9, `${thumb.width}x${thumb.height} for a ${face.width}x${face.height} crop`);
  const same = meanDifference(thumb.data, await cropAt(payload, thumb.width, thumb.height));
  const flipped = meanDifference(thumb.data, await cropAt(payload, thumb.width, thumb.height, true));
  // The crop scaled down, up to JPEG's and the scalers' differences; far from the crop upside down.
  assert.ok(same < 6 && same * 4 < flipped, `mean difference ${same.toFixed(2)} to the crop, ${flipped.toFixed(2)} to it upside down`);
}

describe('Node-RED nodes: face thumbnails', function () {
  this.timeout(180_000);
  let serverStarted = false;
  before(async () => {
    await helper.startServer();
    serverStarted = true;
  });
  after(async () => {
    if (serverStarted) await helper.stopServer();
  });
  afterEach(async () => {
    await helper.unload();
  });

  it('as a node made in the editor (96 px): msg.thumbnail, a 96 px JPEG of the face crop (astronaut.png)', async () => {
    await helper.load(NODES, flowWith(DEFAULT_THUMBNAIL_SIZE));
    const msgs = await play(ASTRONAUT_PNG);
    assert.equal(msgs.length, 1);
    await assertShowsCrop(msgs[0] as TestMessage, 96);
  });

  it('the size is an option; every face of a video gets one (RAVDESS clip, 64 px)', async () => {
    await helper.load(NODES, flowWith(64));
    const msgs = await play(RAVDESS_CLIP);
    assert.equal(msgs.length, 98);
    for (const msg of msgs.filter((_, i) => i % 20 === 0)) await assertShowsCrop(msg, 64);
    for (const msg of msgs) assert.equal((msg.payload as FacePayload).face === null, msg.thumbnail === undefined, `frame ${(msg.payload as FacePayload).frame}`);
  });

  for (const [what, setting] of [['0', 0], ['empty', ''], ['absent (a flow from before the setting)', undefined]] as const) {
    it(`${what}: no thumbnails`, async () => {
      await helper.load(NODES, flowWith(setting));
      const msgs = await play(ASTRONAUT_PNG);
      assert.equal(msgs.length, 1);
      assert.ok((msgs[0]?.payload as FacePayload).face !== null);
      assert.equal('thumbnail' in (msgs[0] as TestMessage), false);
    });
  }

  it('a size that is not one is an error naming the setting, on every frame, to a Catch node', async () => {
    await helper.load(NODES, flowWith('big'));
    await assert.rejects(play(ASTRONAUT_PNG), /caught: (Error: )?thumbnail: expected a size of 0 to 1024 px, got "big"/);
  });
});
