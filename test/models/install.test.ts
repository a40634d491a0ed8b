/**
 * src/models install, inventory and the manifest of an ONNX file, called directly (test/cli/models
 * runs the same through `cer models`), on copies of a bundled model in temporary folders.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InputError } from '../../src/io/errors';
import { installModels } from '../../src/models/install';
import { verifyModels } from '../../src/models/inventory';
import { DEFAULT_MODELS_DIR, manifestBesideOnnx } from '../../src/models/manifest';
import { manifestForOnnx, recognisedManifestsDir } from '../../src/models/recognise';
import { sha256File } from '../../src/models/session';

const SOURCE_ID = 'vs-fer2013-minixception';
const SOURCE_ONNX = path.join(DEFAULT_MODELS_DIR, `${SOURCE_ID}.onnx`);
const SOURCE_JSON = path.join(DEFAULT_MODELS_DIR, `${SOURCE_ID}.json`);

describe('models/install and models/inventory', function () {
  this.timeout(60000);
  let root = '';

  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-install-'));
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  function folder(name: string): string {
    const dir = path.join(root, name);
    fs.mkdirSync(dir);
    return dir;
  }

  it('installs an ONNX file through the manifest beside it; verifyModels then finds its checksum ok', async () => {
    const src = folder('src');
    fs.copyFileSync(SOURCE_ONNX, path.join(src, `${SOURCE_ID}.onnx`));
    fs.copyFileSync(SOURCE_JSON, path.join(src, `${SOURCE_ID}.json`));
    const dest = path.join(root, 'dest');
    const [installed] = await installModels(path.join(src, `${SOURCE_ID}.onnx`), { dir: dest });
    assert.equal(installed.id, SOURCE_ID);
    assert.equal(installed.recognised, undefined);
    assert.deepEqual(fs.readdirSync(dest).sort(), [`${SOURCE_ID}.json`, `${SOURCE_ID}.onnx`]);

    const report = await verifyModels(dest);
    assert.equal(report.failed, 0);
    assert.equal(report.models.length, 1);
    assert.equal(report.models[0].checksum, 'ok');
    assert.equal(report.models[0].actualSha256, await sha256File(SOURCE_ONNX));
    assert.equal(report.models[0].bytes, fs.statSync(SOURCE_ONNX).size);

    await assert.rejects(installModels(src, { dir: dest }), /already exists \(use --force to replace vs-fer2013-minixception\)/);
    await assert.rejects(verifyModels(dest, ['nothing-here']), (err: Error) => err instanceof InputError && /^no model with id nothing-here in /.test(err.message));

    fs.appendFileSync(path.join(dest, `${SOURCE_ID}.onnx`), Buffer.from([1]));
    const changed = await verifyModels(dest, [SOURCE_ID]);
    assert.equal(changed.failed, 1);
    assert.equal(changed.models[0].checksum, 'mismatch');
  });

  it('an ONNX file whose manifest beside it names another file is refused, naming both', async () => {
    const src = folder('mismatch');
    fs.copyFileSync(SOURCE_ONNX, path.join(src, 'a.onnx'));
    fs.copyFileSync(SOURCE_ONNX, path.join(src, 'b.onnx'));
    fs.writeFileSync(path.join(src, 'a.json'), JSON.stringify({ ...JSON.parse(fs.readFileSync(SOURCE_JSON, 'utf8')), file: 'b.onnx' }));
    await assert.rejects(manifestBesideOnnx(path.join(src, 'a.onnx')), /a\.json: names b\.onnx, not a\.onnx$/);
    await assert.rejects(installModels(path.join(src, 'a.onnx'), { dir: path.join(root, 'never') }), /a\.json: names b\.onnx, not a\.onnx$/);
    assert.ok(!fs.existsSync(path.join(root, 'never')));
    assert.equal(await manifestBesideOnnx(path.join(src, 'b.onnx')), null);
  });

  it('manifestForOnnx: the manifest beside the file, else one recognised and written in a private folder of this process', async () => {
    const src = folder('onnx');
    fs.copyFileSync(SOURCE_ONNX, path.join(src, `${SOURCE_ID}.onnx`));
    fs.copyFileSync(SOURCE_JSON, path.join(src, `${SOURCE_ID}.json`));
    const beside = await manifestForOnnx(path.join(src, `${SOURCE_ID}.onnx`));
    assert.equal(beside.manifestPath, path.join(src, `${SOURCE_ID}.json`));

    // Two bare files with the same bytes: each gets a manifest of its own, naming it.
    const bare = [path.join(src, 'one.onnx'), path.join(src, 'two.onnx')];
    for (const file of bare) fs.copyFileSync(SOURCE_ONNX, file);
    const manifests = await Promise.all(bare.map((file) => manifestForOnnx(file)));
    const dir = recognisedManifestsDir();
    assert.equal(path.dirname(dir), os.tmpdir());
    assert.match(path.basename(dir), /^cer-recognised-\w{6}$/, 'a name of its own (mkdtemp), not a shared one');
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700, 'readable by this user only');
    assert.notEqual(manifests[0].manifestPath, manifests[1].manifestPath);
    manifests.forEach((m, i) => {
      assert.ok(m.manifestPath.startsWith(dir + path.sep), m.manifestPath);
      assert.equal(m.modelPath, bare[i]);
      assert.equal((JSON.parse(fs.readFileSync(m.manifestPath, 'utf8')) as { file: string }).file, path.basename(bare[i]));
      assert.equal(m.task, 'static-visual');
    });
    // The user's folder is left as it was.
    assert.deepEqual(fs.readdirSync(src).sort(), ['one.onnx', 'two.onnx', `${SOURCE_ID}.json`, `${SOURCE_ID}.onnx`]);
  });
});
