import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DEFAULT_MODELS_DIR,
  displayPath,
  findManifest,
  listManifests,
  loadManifest,
  loadManifestSync,
  selectModels,
  validateManifest,
} from '../../src/models/manifest';
import { ModelError } from '../../src/models/errors';
import { REPO_ROOT } from '../helpers/testdata';

type Json = Record<string, unknown>;

const FRONT = path.join(DEFAULT_MODELS_DIR, 'blazeface-front-128.json');
const BACK = path.join(DEFAULT_MODELS_DIR, 'blazeface-back-256.json');

function frontJson(): Json {
  return JSON.parse(fs.readFileSync(FRONT, 'utf8')) as Json;
}

/** The message of the ModelError that validating `raw` throws. */
function validationError(raw: unknown): string {
  try {
    validateManifest(raw, 'models/x.json');
  } catch (err) {
    assert.ok(err instanceof ModelError, `expected a ModelError, got ${String(err)}`);
    assert.ok(!err.message.includes('\n'), 'message is one line');
    return err.message;
  }
  assert.fail('validation passed but should not have');
}

describe('models/manifest', () => {
  it('finds the package models/ folder from dist/ and from src/', () => {
    assert.equal(DEFAULT_MODELS_DIR, path.join(REPO_ROOT, 'models'));
    assert.ok(fs.existsSync(FRONT));
  });

  it('loads the BlazeFace manifests, resolving file against the manifest folder', async () => {
    const m = await loadManifest(FRONT);
    assert.equal(m.id, 'blazeface-front-128');
    assert.equal(m.task, 'face-detection');
    assert.equal(m.label, 'models/blazeface-front-128.json');
    assert.equal(m.modelPath, path.join(DEFAULT_MODELS_DIR, 'blazeface-front-128.onnx'));
    assert.deepEqual(m.input.shape, [1, 128, 128, 3]);
    assert.equal(m.input.layout, 'NHWC');
    assert.deepEqual(m.preprocessing?.size, [128, 128]);
    assert.equal(m.preprocessing?.resize, 'letterbox');
    assert.equal(m.outputs.scores, 'Identity:0');
    assert.equal(m.outputs.boxesCoarse, 'Identity_3:0');
    assert.deepEqual(loadManifestSync(FRONT), m);
  });

  it('lists every manifest in models/ and finds one by task and id', async () => {
    const all = await listManifests();
    const ids = all.map((m) => m.id);
    assert.ok(['blazeface-front-128', 'blazeface-back-256', 'blazeface-full-192'].every((id) => ids.includes(id)), ids.join(', '));
    assert.deepEqual(all.filter((m) => m.task === 'face-detection').map((m) => m.id), ['blazeface-back-256', 'blazeface-front-128', 'blazeface-full-192']);
    const back = await findManifest(DEFAULT_MODELS_DIR, 'face-detection', 'blazeface-back-256');
    assert.equal(back.preprocessing?.size[0], 256);
    await assert.rejects(findManifest(DEFAULT_MODELS_DIR, 'face-detection', 'nope'), /models: no model manifest for task face-detection with id nope/);
    // Three face detectors and no id: which one is not guessed.
    await assert.rejects(findManifest(DEFAULT_MODELS_DIR, 'face-detection'), /^ModelError: models: 3 face-detection models \(blazeface-back-256\.json, blazeface-front-128\.json, blazeface-full-192\.json\): name the one to use by its manifest file$/);
    assert.equal((await findManifest(DEFAULT_MODELS_DIR, 'face-landmarks')).id, 'facemesh');
  });

  it('selects one model per task from folders and files, earlier entries first, and never guesses between two', async () => {
    // models/ holds three face detectors: a folder alone cannot say which one runs.
    await assert.rejects(selectModels([DEFAULT_MODELS_DIR]), /^ModelError: models: 3 face-detection models \(blazeface-back-256\.json, blazeface-front-128\.json, blazeface-full-192\.json\): name the one to use by its manifest file$/);
    // Named by its manifest (or its ONNX file) before the folder, the choice is made.
    for (const named of [BACK, BACK.replace(/\.json$/, '.onnx')]) {
      const chosen = await selectModels([named, DEFAULT_MODELS_DIR]);
      assert.equal(chosen.get('face-detection')?.id, 'blazeface-back-256');
      assert.deepEqual([...chosen.keys()].sort(), ['acoustic', 'face-detection', 'face-landmarks', 'static-visual', 'voice-activity']);
    }
    // Only the tasks asked for are looked at.
    const vs = await selectModels([DEFAULT_MODELS_DIR], ['static-visual']);
    assert.deepEqual([...vs.values()].map((m) => m.id), ['vs-fer2013-minixception']);
    const full = path.join(DEFAULT_MODELS_DIR, 'blazeface-full-192.json');
    assert.equal((await selectModels([full, DEFAULT_MODELS_DIR])).get('face-detection')?.id, 'blazeface-full-192');
    await assert.rejects(selectModels([FRONT, BACK]), /^ModelError: models\/blazeface-back-256\.json: a second face-detection model, after models\/blazeface-front-128\.json$/);
    await assert.rejects(selectModels([path.join(DEFAULT_MODELS_DIR, 'absent')]), /^ModelError: models\/absent: no such model file or folder$/);
  });

  it('names the manifest and the field in one-line validation errors', () => {
    const cases: Array<[(j: Json) => void, RegExp]> = [
      [(j) => { (j.input as Json).layout = 'NWHC'; }, /^models\/x\.json: input\.layout must be one of NHWC, NCHW, NTC, NT \(got "NWHC"\)$/],
      [(j) => { delete j.id; }, /^models\/x\.json: id must be a non-empty string \(got missing\)$/],
      [(j) => { j.task = 'emotion'; }, /^models\/x\.json: task must be one of face-detection, static-visual, dynamic-visual, acoustic, voice-activity, face-landmarks/],
      [(j) => { j.sha256 = 'abc'; }, /^models\/x\.json: sha256 must be 64 hex digits/],
      [(j) => { j.nonCommercial = 'no'; }, /^models\/x\.json: nonCommercial must be true or false/],
      [(j) => { j.preprocess = {}; }, /^models\/x\.json: preprocess is not a known field/],
      [(j) => { (j.input as Json).shape = [1, 128, 128]; }, /^models\/x\.json: input\.shape must have 4 dimensions for layout NHWC/],
      [(j) => { (j.input as Json).shape = [0, 128, 128, 3]; }, /^models\/x\.json: input\.shape must hold positive integers or -1/],
      [(j) => { (j.preprocessing as Json).size = [96, 96]; }, /^models\/x\.json: preprocessing\.size must match the input width 128 of input\.shape/],
      [(j) => { (j.preprocessing as Json).colour = 'gray'; }, /^models\/x\.json: preprocessing\.mean must be an array of 1 numbers/],
      [(j) => { (j.preprocessing as Json).std = [1, 0, 1]; }, /^models\/x\.json: preprocessing\.std\[1\] must not be 0/],
      [(j) => { (j.preprocessing as Json).interpolation = 'cubic'; }, /^models\/x\.json: preprocessing\.interpolation must be one of nearest, bilinear/],
      [(j) => { (j.preprocessing as Json).resize = 'crop'; }, /^models\/x\.json: preprocessing\.resize must be one of stretch, letterbox/],
      [(j) => { (j.preprocessing as Json).scale = 'x'; }, /^models\/x\.json: preprocessing\.scale must be a finite number/],
      [(j) => { delete (j.outputs as Json).scores; }, /^models\/x\.json: outputs\.scores must be a non-empty string \(got missing\)$/],
      [(j) => { (j.outputs as Json).boxes = 3; }, /^models\/x\.json: outputs\.boxes must be a non-empty string/],
      [(j) => { j.outputKind = 'softmax'; }, /^models\/x\.json: outputKind must be one of logits, probabilities/],
      [(j) => { j.labels = ['a', 2]; }, /^models\/x\.json: labels\[1\] must be a non-empty string/],
      [(j) => { j.extra = [1]; }, /^models\/x\.json: extra must be an object/],
    ];
    for (const [mutate, expected] of cases) {
      const j = frontJson();
      mutate(j);
      assert.match(validationError(j), expected);
    }
    assert.match(validationError([]), /^models\/x\.json: must be a JSON object/);
  });

  it('accepts gray single-channel models and sequence layouts', () => {
    const j = frontJson();
    j.input = { name: 'input_1', shape: [-1, 64, 64, 1], layout: 'NHWC', dtype: 'float32' };
    j.preprocessing = {
      size: [64, 64], colour: 'gray', grayWeights: [0.2989, 0.587, 0.114], scale: 1 / 255,
      mean: [0.5], std: [0.5], interpolation: 'bilinear', resize: 'stretch',
    };
    const m = validateManifest(j, 'models/x.json');
    assert.deepEqual(m.preprocessing?.grayWeights, [0.2989, 0.587, 0.114]);

    const audio = frontJson();
    audio.task = 'acoustic';
    audio.input = { name: 'x', shape: [-1, -1, 80], layout: 'NTC', dtype: 'float32' };
    delete audio.preprocessing;
    assert.equal(validateManifest(audio, 'models/x.json').input.layout, 'NTC');
    audio.preprocessing = (frontJson() as Json).preprocessing;
    assert.match(validationError(audio), /preprocessing is for image inputs \(input\.layout NHWC or NCHW, not NTC\)/);
  });

  it('reports unreadable or invalid JSON files by name', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'manifest-test-'));
    try {
      const bad = path.join(dir, 'broken.json');
      fs.writeFileSync(bad, '{ "id": ');
      await assert.rejects(loadManifest(bad), (err: Error) => err instanceof ModelError && err.message.startsWith(`${displayPath(bad)}: not valid JSON`));
      await assert.rejects(loadManifest(path.join(dir, 'absent.json')), /absent\.json: manifest not found$/);
      await assert.rejects(listManifests(dir), /broken\.json: not valid JSON/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
