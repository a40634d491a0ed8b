/**
 * Hostile model manifests: a `file` that climbs out of the manifest's folder (`..`, an absolute
 * path, a URL, a drive letter, a symbolic link), a checksum mismatch that must not become a hash
 * oracle, a manifest declaring an input too large to allocate, and a GPU provider on a machine
 * without one. Each case asserts the exact outcome: the one-line ModelError (or the CLI's exit
 * status and one stderr line), that nothing was copied or written, and that no secret's checksum is
 * printed. Real models, the real CLI.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ModelError } from '../../src/models/errors';
import { DEFAULT_MODELS_DIR, listManifests, loadManifest, loadManifestSync, MAX_INPUT_VALUES, validateManifest } from '../../src/models/manifest';
import { manifestForBareOnnx } from '../../src/models/recognise';
import { acquireSession, missingGpuDriver, verifyModelFile } from '../../src/models/session';
import { WorkerSession } from '../../src/models/worker-session';
import { cerAsync as cer, type CliResult } from '../helpers/cli';
import { ASTRONAUT_PNG } from '../helpers/testdata';

type Json = Record<string, unknown>;

const VS = path.join(DEFAULT_MODELS_DIR, 'vs-fer2013-minixception.json');
const VS_ONNX = path.join(DEFAULT_MODELS_DIR, 'vs-fer2013-minixception.onnx');
const OUTSIDE_RULE = /file must name the model file relative to the manifest's folder, without '\.\.' \(an absolute path or one that climbs out is refused\); put the model file beside its manifest \(got .*\)$/;

function vsJson(): Json {
  return JSON.parse(fs.readFileSync(VS, 'utf8')) as Json;
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** The ModelError a promise rejects with, checked to be one line. */
async function modelError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ModelError, `expected a ModelError, got ${String(err)}`);
    assert.ok(!err.message.includes('\n'), 'one line');
    return err.message;
  }
  assert.fail('expected a ModelError');
}

/** One stderr line, `cer: …`, and exit status 1. */
function oneLineFailure(r: CliResult): string {
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stderr.trimEnd().split('\n').filter((l) => !/^cer: ff(mpeg|probe): /.test(l));
  assert.equal(lines.length, 1, r.stderr);
  assert.ok(!r.stderr.includes('\x1b['), 'no terminal colour codes');
  return lines[0] ?? '';
}

describe('hostile model manifests', function () {
  this.timeout(120_000);
  let root: string;
  /** A folder of models (the manifest's), and a secret beside it, outside. */
  let models: string;
  let secret: string;
  let secretSha: string;
  const manifestWith = (changes: Json, name = 'x.json', dir = models): string => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, JSON.stringify({ ...vsJson(), ...changes }));
    return p;
  };

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-hostile-models-'));
    models = path.join(root, 'models');
    fs.mkdirSync(models);
    // A "secret" outside the models folder: a real model, so a copy of it would even load.
    secret = path.join(root, 'secret.onnx');
    fs.copyFileSync(VS_ONNX, secret);
    secretSha = sha256(secret);
  });

  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  describe('`file` must stay in the manifest\'s folder', function () {
    const names: Array<[string, string]> = [
      ['a path with ..', '../secret.onnx'],
      ['a deep climb to /etc/passwd', '../../../../../../etc/passwd'],
      ['.. in the middle', 'sub/../../secret.onnx'],
      ['.. with backslashes', '..\\secret.onnx'],
      ['an absolute path', '/etc/passwd'],
      ['a Windows drive path', 'C:\\Windows\\win.ini'],
      ['a UNC path', '\\\\server\\share\\m.onnx'],
      ['a file: URL', 'file:///etc/passwd'],
      ['an http: URL', 'http://127.0.0.1:9/m.onnx'],
    ];
    for (const [what, file] of names) {
      it(`${what} (${file}): one ModelError naming the manifest and the field, before anything is read`, async () => {
        const p = manifestWith({ file, sha256: secretSha });
        const message = await modelError(loadManifest(p));
        assert.ok(message.startsWith(`${p}: `) || /^\S*x\.json: /.test(message), message);
        assert.match(message, OUTSIDE_RULE);
        assert.ok(!message.includes(secretSha.slice(0, 16)) || file.includes(secretSha), 'no checksum of anything');
      });
    }

    it('a NUL in the name: refused the same way', async () => {
      const message = await modelError(loadManifest(manifestWith({ file: 'm.onnx\0../../etc/passwd' })));
      assert.match(message, OUTSIDE_RULE);
    });

    it('a symbolic link to a file outside: refused, naming the manifest and its file field', async () => {
      fs.symlinkSync(secret, path.join(models, 'm.onnx'));
      const p = manifestWith({ file: 'm.onnx', sha256: secretSha });
      const message = await modelError(loadManifest(p));
      assert.match(message, /x\.json: file "m\.onnx" resolves outside the manifest's folder \(through a symbolic link\); the model file must lie in the manifest's folder or below it$/);
      assert.throws(() => loadManifestSync(p), /resolves outside the manifest's folder/);
    });

    it('a symbolic link to a folder outside: refused the same way', async () => {
      fs.mkdirSync(path.join(root, 'elsewhere'));
      fs.copyFileSync(VS_ONNX, path.join(root, 'elsewhere', 'm.onnx'));
      fs.symlinkSync(path.join(root, 'elsewhere'), path.join(models, 'sub'));
      const message = await modelError(loadManifest(manifestWith({ file: 'sub/m.onnx' })));
      assert.match(message, /file "sub\/m\.onnx" resolves outside the manifest's folder/);
    });

    it('a folder of models with one such manifest: listing it fails on that manifest', async () => {
      fs.copyFileSync(VS_ONNX, path.join(models, 'good.onnx'));
      manifestWith({ id: 'good', file: 'good.onnx' }, 'good.json');
      manifestWith({ id: 'bad', file: '../secret.onnx', sha256: secretSha }, 'bad.json');
      const message = await modelError(listManifests(models));
      assert.match(message, /bad\.json: file must name the model file relative to the manifest's folder/);
    });

    it('good inputs keep working: a subfolder, and a symbolic link that stays inside', async () => {
      fs.mkdirSync(path.join(models, 'onnx'));
      fs.copyFileSync(VS_ONNX, path.join(models, 'onnx', 'real.onnx'));
      fs.symlinkSync('onnx/real.onnx', path.join(models, 'linked.onnx'));
      for (const file of ['onnx/real.onnx', './onnx/real.onnx', 'linked.onnx']) {
        const m = await loadManifest(manifestWith({ file }));
        assert.equal(m.modelPath, path.join(models, path.normalize(file)));
        assert.equal((await verifyModelFile(m)).sha256, vsJson().sha256);
      }
    });

    it("validateManifest alone (what `cer models install` checks a downloaded manifest with) refuses it too", () => {
      assert.throws(() => validateManifest({ ...vsJson(), file: '../../x.onnx' }, 'https://example.org/m.json'), (err: Error) =>
        err instanceof ModelError && /^https:\/\/example\.org\/m\.json: file must name the model file relative/.test(err.message));
    });
  });

  describe('checksum mismatches', function () {
    it('name the file and the expected sum, never the actual one', async () => {
      fs.copyFileSync(secret, path.join(models, 'm.onnx'));
      const p = manifestWith({ file: 'm.onnx', sha256: '0'.repeat(64) });
      const message = await modelError(acquireSession(p));
      assert.match(message, new RegExp(`x\\.json: model file \\S*m\\.onnx does not have the SHA-256 the manifest expects \\(${'0'.repeat(64)}\\): the file is damaged, another version, or the manifest is wrong; `));
      assert.ok(!message.includes(secretSha), 'the actual sum is not printed');
    });

    it('cer analyze --models: exit 1, one line, no actual sum', async () => {
      fs.copyFileSync(secret, path.join(models, 'vs-fer2013-minixception.onnx'));
      manifestWith({ sha256: 'f'.repeat(64) }, 'vs-fer2013-minixception.json');
      const out = fs.mkdtempSync(path.join(root, 'out-'));
      const line = oneLineFailure(await cer(['analyze', ASTRONAUT_PNG, '--models', models, '--out', out, '--quiet']));
      assert.match(line, /vs-fer2013-minixception\.json: model file \S*vs-fer2013-minixception\.onnx does not have the SHA-256 the manifest expects \(f{64}\)/);
      assert.ok(!line.includes(secretSha));
      assert.deepEqual(fs.readdirSync(out), []);
    });

    it('cer analyze --models with a manifest naming a file outside: exit 1, one line, no checksum of it', async () => {
      manifestWith({ file: '../secret.onnx', sha256: '0'.repeat(64) }, 'vs-fer2013-minixception.json');
      const out = fs.mkdtempSync(path.join(root, 'out-'));
      const line = oneLineFailure(await cer(['analyze', ASTRONAUT_PNG, '--models', models, '--out', out, '--quiet']));
      assert.match(line, /vs-fer2013-minixception\.json: file must name the model file relative to the manifest's folder/);
      assert.ok(!line.includes(secretSha));
      assert.deepEqual(fs.readdirSync(out), []);
    });
  });

  describe('cer models install', function () {
    it('a manifest naming ../secret with its right checksum: exit 1, nothing copied', async () => {
      const p = manifestWith({ file: '../secret.onnx', sha256: secretSha });
      const dest = fs.mkdtempSync(path.join(root, 'dest-'));
      const line = oneLineFailure(await cer(['models', 'install', p, '--dir', dest]));
      assert.match(line, /^cer: \S*x\.json: file must name the model file relative to the manifest's folder/);
      assert.deepEqual(fs.readdirSync(dest), []);
    });

    it('a manifest whose file is a symbolic link out, with its right checksum: exit 1, nothing copied', async () => {
      fs.symlinkSync(secret, path.join(models, 'm.onnx'));
      manifestWith({ file: 'm.onnx', sha256: secretSha });
      const dest = fs.mkdtempSync(path.join(root, 'dest-'));
      const line = oneLineFailure(await cer(['models', 'install', models, '--dir', dest]));
      assert.match(line, /^cer: \S*x\.json: file "m\.onnx" resolves outside the manifest's folder/);
      assert.deepEqual(fs.readdirSync(dest), []);
    });

    it('a manifest URL whose file is an absolute URL elsewhere: refused before any download', async () => {
      let elsewhere = 0;
      const other = http.createServer((_req, res) => res.end('x'));
      other.on('connection', () => elsewhere++);
      await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
      const otherPort = (other.address() as AddressInfo).port;
      const manifest = JSON.stringify({ ...vsJson(), file: `http://127.0.0.1:${otherPort}/secret.onnx` });
      const server = http.createServer((_req, res) => res.end(manifest));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const dest = fs.mkdtempSync(path.join(root, 'dest-'));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/m.json`;
        const line = oneLineFailure(await cer(['models', 'install', url, '--dir', dest]));
        assert.match(line, /^cer: http:\/\/127\.0\.0\.1:\d+\/m\.json: file must name the model file relative to the manifest's folder/);
        assert.equal(elsewhere, 0);
        assert.deepEqual(fs.readdirSync(dest), []);
      } finally {
        await Promise.all([server, other].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      }
    });
  });

  describe('inputs too large to allocate', function () {
    it('input.shape 1x3x60000x60000: one line naming the field and the limit, not "Invalid typed array length"', async () => {
      fs.copyFileSync(VS_ONNX, path.join(models, 'm.onnx'));
      const json = vsJson();
      const message = await modelError(loadManifest(manifestWith({
        file: 'm.onnx',
        input: { ...(json.input as Json), shape: [1, 3, 60000, 60000], layout: 'NCHW' },
        preprocessing: { ...(json.preprocessing as Json), size: [60000, 60000], colour: 'rgb', grayWeights: undefined },
      })));
      assert.match(message, new RegExp(`x\\.json: input\\.shape must describe at most ${MAX_INPUT_VALUES} values per input \\(this one needs 10800000000, more memory than any expression model uses\\); check the shape`));
      assert.doesNotMatch(message, /typed array/i);
    });

    it('preprocessing.size 60000x60000 with a dynamic input: one line naming preprocessing.size', async () => {
      fs.copyFileSync(VS_ONNX, path.join(models, 'm.onnx'));
      const json = vsJson();
      const message = await modelError(loadManifest(manifestWith({
        file: 'm.onnx',
        input: { ...(json.input as Json), shape: [-1, -1, -1, 1] },
        preprocessing: { ...(json.preprocessing as Json), size: [60000, 60000] },
      })));
      assert.match(message, /x\.json: preprocessing\.size must be at most 4096 pixels a side \(a model's input image, not the video's\) \(got \[60000,60000\]\)$/);
    });
  });

  describe('providers', function () {
    it('cuda on a machine without the NVIDIA driver: one line saying so and what to use (or none where there is one)', () => {
      const hasDriver = fs.existsSync('/proc/driver/nvidia/version') || fs.existsSync('/dev/nvidiactl');
      const why = missingGpuDriver('cuda');
      if (process.platform !== 'linux' || hasDriver) assert.equal(why, null);
      else assert.match(why ?? '', /^this machine has no NVIDIA GPU driver \(\/proc\/driver\/nvidia\/version and \/dev\/nvidiactl are absent\), so the cuda provider cannot run; use the cpu provider/);
      assert.equal(missingGpuDriver('cpu'), null);
    });

    it('cer analyze --provider cuda where CUDA cannot run: exit 1, one line, no native coloured log', async function () {
      const hasDriver = fs.existsSync('/proc/driver/nvidia/version') || fs.existsSync('/dev/nvidiactl');
      if (hasDriver) this.skip();
      const out = fs.mkdtempSync(path.join(root, 'out-'));
      const line = oneLineFailure(await cer(['analyze', ASTRONAUT_PNG, '--provider', 'cuda', '--out', out, '--quiet']));
      assert.match(line, /^cer: \S+\.json: onnxruntime cannot load model file \S+ \(cuda: .*(binaries are not installed|no NVIDIA GPU driver)/);
      assert.deepEqual(fs.readdirSync(out), []);
    });
  });

  describe('a bare ONNX file (the model node writes its manifest in a temporary folder)', function () {
    it('still loads, in a worker too: the written manifest names the file by its base name and is bound to it', async () => {
      const bare = path.join(models, 'bare.onnx');
      fs.copyFileSync(VS_ONNX, bare);
      const { manifest } = await manifestForBareOnnx(bare);
      assert.equal(manifest.modelPath, bare);
      assert.equal((JSON.parse(fs.readFileSync(manifest.manifestPath, 'utf8')) as Json).file, 'bare.onnx');
      const worker = await WorkerSession.load(manifest, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
      try {
        const out = await worker.run({ [manifest.input.name]: { data: new Float32Array(64 * 64), shape: [1, 64, 64, 1] } });
        assert.equal(out[manifest.outputs.scores]?.data.length, 7);
      } finally {
        await worker.release();
      }
    });
  });
});
