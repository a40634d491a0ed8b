/**
 * `cer models list | verify | install | export`, run as a user would (the built CLI in a child
 * process), on the bundled models and on copies of them in temporary folders.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { requireTorch } from '../helpers/python';
import { DEFAULT_MODELS_DIR, listManifests } from '../../src/models/manifest';
import { cerAsync as cer } from '../helpers/cli';

const SOURCE_ID = 'vs-fer2013-minixception';

function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A folder holding a copy of one bundled model, optionally re-labelled as a non-commercial one. */
function modelFolder(options: { id?: string; nonCommercial?: boolean } = {}): string {
  const dir = tmpDir('cer-models-src-');
  const raw = JSON.parse(fs.readFileSync(path.join(DEFAULT_MODELS_DIR, `${SOURCE_ID}.json`), 'utf8')) as Record<string, unknown>;
  const id = options.id ?? SOURCE_ID;
  fs.copyFileSync(path.join(DEFAULT_MODELS_DIR, String(raw.file)), path.join(dir, `${id}.onnx`));
  const manifest = {
    ...raw,
    id,
    file: `${id}.onnx`,
    ...(options.nonCommercial ? { licence: 'CC BY-NC-SA 4.0', nonCommercial: true } : {}),
  };
  fs.writeFileSync(path.join(dir, `${id}.json`), JSON.stringify(manifest, null, 2));
  return dir;
}

/** Files other than the expected ones: partial downloads must never be left behind. */
function leftovers(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.startsWith('.') || n.includes('partial')) : [];
}

describe('cer models', function () {
  this.timeout(300000);
  const cleanup: string[] = [];
  after(function () {
    for (const dir of cleanup) fs.rmSync(dir, { recursive: true, force: true });
  });
  function track(dir: string): string {
    cleanup.push(dir);
    return dir;
  }

  describe('list and verify', function () {
    it('list shows every bundled model with its task, licence, source and a valid checksum', async function () {
      const bundled = await listManifests(DEFAULT_MODELS_DIR);
      assert.ok(bundled.length >= 3);
      const r = await cer(['models', 'list']);
      assert.equal(r.status, 0, r.stderr);
      for (const m of bundled) {
        const line = r.stdout.split('\n').find((l) => l.startsWith(`${m.id} `));
        assert.ok(line !== undefined, `${m.id} not listed:\n${r.stdout}`);
        assert.match(line, new RegExp(`\\s${m.task}\\s+checksum ok`));
        assert.ok(r.stdout.includes(`  licence: ${m.licence}`), `${m.id}'s licence missing`);
        assert.ok(r.stdout.includes(`  source:  ${m.source}`), `${m.id}'s source missing`);
      }
      const json = await cer(['models', 'list', '--json']);
      const report = JSON.parse(json.stdout) as { models: { id: string; checksum: string; sha256: string; actualSha256: string; nonCommercial: boolean }[] };
      assert.equal(report.models.length, bundled.length);
      for (const m of report.models) {
        assert.equal(m.checksum, 'ok', m.id);
        assert.equal(m.actualSha256, m.sha256);
      }
    });

    it('marks non-commercial models as such', async function () {
      const dir = track(modelFolder({ id: 'nc-model', nonCommercial: true }));
      const r = await cer(['models', 'list', '--dir', dir]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^nc-model\s+static-visual\s+checksum ok\s+NON-COMMERCIAL$/m);
      assert.match(r.stdout, /licence: CC BY-NC-SA 4\.0 \(non-commercial use only\)/);
    });

    it('verify passes on intact models and fails, naming them, on a changed or missing file or a broken manifest', async function () {
      const dir = track(modelFolder());
      const ok = await cer(['models', 'verify', '--dir', dir]);
      assert.equal(ok.status, 0, ok.stderr);
      assert.match(ok.stdout, new RegExp(`^ok\\s+${SOURCE_ID}\\s+[0-9a-f]{64}$`, 'm'));

      fs.appendFileSync(path.join(dir, `${SOURCE_ID}.onnx`), Buffer.from([0]));
      const changed = await cer(['models', 'verify', '--dir', dir]);
      assert.equal(changed.status, 1);
      assert.match(changed.stdout, new RegExp(`^FAIL\\s+${SOURCE_ID}\\s+CHECKSUM MISMATCH$`, 'm'));
      assert.match(changed.stderr, /^cer: 1 of 1 model\(s\) failed verification/);
      const listed = await cer(['models', 'list', '--dir', dir]);
      assert.match(listed.stdout, /CHECKSUM MISMATCH/);
      assert.match(listed.stdout, /sha256:  expected [0-9a-f]{64}, file has [0-9a-f]{64}/);

      fs.rmSync(path.join(dir, `${SOURCE_ID}.onnx`));
      fs.writeFileSync(path.join(dir, 'broken.json'), '{"id": "broken"}');
      const missing = await cer(['models', 'verify', '--dir', dir]);
      assert.equal(missing.status, 1);
      assert.match(missing.stdout, /MODEL FILE MISSING/);
      assert.match(missing.stdout, /FAIL\s+.*broken\.json: .*task must be one of/);
      assert.match(missing.stderr, /2 of 2 model\(s\) failed verification/);

      const unknown = await cer(['models', 'verify', 'no-such-model', '--dir', dir]);
      assert.equal(unknown.status, 1);
      assert.match(unknown.stderr, /no model with id no-such-model/);
    });
  });

  describe('install', function () {
    it('copies a folder of models in, verified, and refuses to overwrite without --force', async function () {
      const src = track(modelFolder({ id: 'copied' }));
      const dest = track(tmpDir('cer-models-dest-'));
      const r = await cer(['models', 'install', src, '--dir', dest]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /installed copied: .*copied\.onnx \(checksum ok\)/);
      assert.deepEqual(fs.readdirSync(dest).sort(), ['copied.json', 'copied.onnx']);
      const verify = await cer(['models', 'verify', '--dir', dest]);
      assert.equal(verify.status, 0, verify.stderr);

      const again = await cer(['models', 'install', src, '--dir', dest]);
      assert.equal(again.status, 1);
      assert.match(again.stderr, /already exists \(use --force to replace copied\)/);
      const forced = await cer(['models', 'install', path.join(src, 'copied.json'), '--dir', dest, '--force']);
      assert.equal(forced.status, 0, forced.stderr);
      assert.deepEqual(leftovers(dest), []);
    });

    it('refuses a model whose file does not match its checksum or --sha256, leaving nothing behind', async function () {
      const src = track(modelFolder({ id: 'tampered', nonCommercial: true }));
      const dest = track(tmpDir('cer-models-dest-'));
      const wrong = await cer(['models', 'install', src, '--dir', dest, '--sha256', '0'.repeat(64)]);
      assert.equal(wrong.status, 1);
      assert.match(wrong.stderr, /--sha256 0{64} does not match the manifest's [0-9a-f]{64}/);
      fs.appendFileSync(path.join(src, 'tampered.onnx'), 'x');
      const r = await cer(['models', 'install', src, '--dir', dest]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /tampered\.onnx: does not have the SHA-256 its manifest expects \([0-9a-f]{64}\); nothing installed/);
      assert.equal(r.stderr.match(/[0-9a-f]{64}/g)?.length, 1, r.stderr);
      assert.deepEqual(fs.readdirSync(dest), []);
    });

    describe('from a URL', function () {
      let server: http.Server;
      let base = '';
      let served = '';
      /** What the server does with the model file: send it, send other bytes, or cut the connection. */
      let mode: 'good' | 'corrupt' | 'cut' = 'good';

      before(async function () {
        served = track(modelFolder({ id: 'remote', nonCommercial: true }));
        server = http.createServer((req, res) => {
          const name = path.basename(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
          const file = path.join(served, name);
          if (!fs.existsSync(file)) {
            res.writeHead(404).end('not found');
            return;
          }
          const body = fs.readFileSync(file);
          if (name.endsWith('.onnx') && mode === 'corrupt') body[body.length - 1] ^= 0xff;
          if (name.endsWith('.onnx') && mode === 'cut') {
            res.writeHead(200, { 'Content-Length': String(body.length) });
            res.write(body.subarray(0, body.length >> 1), () => res.destroy());
            return;
          }
          res.writeHead(200, { 'Content-Length': String(body.length) }).end(body);
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
        base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      });
      after(function () {
        server.close();
      });

      it('downloads the manifest and its model file, verifies the checksum and notes the licence', async function () {
        mode = 'good';
        const dest = track(tmpDir('cer-models-dest-'));
        const sha = (JSON.parse(fs.readFileSync(path.join(served, 'remote.json'), 'utf8')) as { sha256: string }).sha256;
        const r = await cer(['models', 'install', `${base}/models/remote.json`, '--dir', dest, '--sha256', sha]);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /installed remote: .*remote\.onnx \(checksum ok\)\n {2}note: non-commercial use only \(CC BY-NC-SA 4\.0\)/);
        assert.deepEqual(fs.readdirSync(dest).sort(), ['remote.json', 'remote.onnx']);
        assert.ok(fs.readFileSync(path.join(dest, 'remote.onnx')).equals(fs.readFileSync(path.join(served, 'remote.onnx'))));
      });

      it('never leaves a partial file: corrupted or interrupted downloads install nothing', async function () {
        for (const m of ['corrupt', 'cut'] as const) {
          mode = m;
          const dest = track(tmpDir('cer-models-dest-'));
          const r = await cer(['models', 'install', `${base}/models/remote.json`, '--dir', dest]);
          assert.equal(r.status, 1, `${m}: ${r.stdout}`);
          assert.match(r.stderr, m === 'corrupt' ? /does not have the SHA-256 its manifest expects .*nothing installed/ : /download failed/);
          assert.deepEqual(fs.readdirSync(dest), [], `${m}: left ${fs.readdirSync(dest).join(', ')}`);
        }
        mode = 'good';
        const dest = track(tmpDir('cer-models-dest-'));
        const missing = await cer(['models', 'install', `${base}/models/nothing.json`, '--dir', dest]);
        assert.equal(missing.status, 1);
        assert.match(missing.stderr, /nothing\.json: download failed \(HTTP 404/);
      });
    });
  });

  describe('export', function () {
    it('says clearly when PyTorch is missing and how to install it', async function () {
      const dir = track(tmpDir('cer-models-py-'));
      // Python without its site packages: it runs, but cannot import torch.
      const bare = path.join(dir, 'python-without-torch');
      fs.writeFileSync(bare, '#!/bin/sh\nexec python3 -S "$@"\n', { mode: 0o755 });
      const r = await cer(['models', 'export', 'vs', '--random-weights', '--out', dir, '--python', bare]);
      assert.equal(r.status, 1);
      assert.match(
        r.stderr,
        /^cer: PyTorch is not installed for .*python-without-torch \(missing python3-torch, python3-torchaudio, python3-onnx\); install it with: sudo apt-get install -y python3-torch python3-torchaudio python3-onnx/,
      );
      const none = await cer(['models', 'export', 'vs', '--random-weights', '--out', dir, '--python', path.join(dir, 'no-python')]);
      assert.equal(none.status, 1);
      assert.match(none.stderr, /^cer: cannot run .*no-python; the model export needs Python 3 with python3-torch/);
    });

    it('checks its arguments before starting Python', async function () {
      const bad = await cer(['models', 'export', 'xyz', '--random-weights']);
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /cer: model to export: expected vs, vd or a, got "xyz"/);
      const noWeights = await cer(['models', 'export', 'vd']);
      assert.match(noWeights.stderr, /give --weights FER_dinamic_LSTM_Aff-Wild2\.pt \(or --random-weights\)/);
      const missing = await cer(['models', 'export', 'a', '--weights', 'no/epoch_63.pth']);
      assert.match(missing.stderr, /--weights no\/epoch_63\.pth: no such file/);
    });

    it('exports a model with its manifest (when python3-torch is installed)', async function () {
      requireTorch(this);
      const out = track(tmpDir('cer-models-export-'));
      const r = await cer(['models', 'export', 'vd', '--random-weights', '--out', out], { timeoutMs: 300000 });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^exported vd-lstm-random: .*vd-lstm-random\.onnx \([\d.]+ MB, sha256 [0-9a-f]{64}\) and .*vd-lstm-random\.json$/m);
      const list = await cer(['models', 'list', '--dir', out]);
      assert.match(list.stdout, /^vd-lstm-random\s+dynamic-visual\s+checksum ok$/m);
      assert.match(list.stdout, /licence: MIT\n {2}source: {2}random weights/);
    });
  });
});
