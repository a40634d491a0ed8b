/**
 * What a model config node's setting resolves to (nodes/common/models.ts), through the same
 * src/models functions `cer models install` uses for an ONNX file: its manifest beside it, else
 * one recognised from its graph, written in this process's private folder.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveModelSpec } from '../../nodes/common/models';
import { DEFAULT_MODELS_DIR } from '../../src/models/manifest';
import { recognisedManifestsDir } from '../../src/models/recognise';

const SOURCE_ID = 'vs-fer2013-minixception';

describe('nodes/common/models: the model config setting', function () {
  this.timeout(60000);
  let dir = '';

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-node-models-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('an ONNX file with its manifest beside it: that manifest', async () => {
    fs.copyFileSync(path.join(DEFAULT_MODELS_DIR, `${SOURCE_ID}.onnx`), path.join(dir, `${SOURCE_ID}.onnx`));
    fs.copyFileSync(path.join(DEFAULT_MODELS_DIR, `${SOURCE_ID}.json`), path.join(dir, `${SOURCE_ID}.json`));
    const m = await resolveModelSpec(path.join(dir, `${SOURCE_ID}.onnx`), 'static-visual');
    assert.equal(m?.manifestPath, path.join(dir, `${SOURCE_ID}.json`));
    assert.equal(m?.id, SOURCE_ID);
  });

  it('a bare ONNX file: recognised, its manifest in the private folder, bound to the file; the folder left as it was', async () => {
    const bare = path.join(dir, 'bare.onnx');
    fs.copyFileSync(path.join(DEFAULT_MODELS_DIR, `${SOURCE_ID}.onnx`), bare);
    const before = fs.readdirSync(dir).sort();
    const m = await resolveModelSpec(bare, 'static-visual');
    assert.ok(m !== null);
    assert.equal(m.modelPath, bare);
    assert.ok(m.manifestPath.startsWith(recognisedManifestsDir() + path.sep), m.manifestPath);
    assert.equal(m.task, 'static-visual');
    assert.deepEqual(fs.readdirSync(dir).sort(), before);
  });

  it('a model of another task is refused, naming both tasks', async () => {
    await assert.rejects(
      resolveModelSpec(path.join(dir, `${SOURCE_ID}.onnx`), 'face-landmarks'),
      /vs-fer2013-minixception\.json: is a static-visual model; this node needs a face-landmarks model$/,
    );
  });
});
