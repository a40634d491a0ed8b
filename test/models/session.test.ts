import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ModelError } from '../../src/models/errors';
import { DEFAULT_MODELS_DIR, loadManifest, type LoadedManifest } from '../../src/models/manifest';
import {
  acquireSession,
  hashesComputedCount,
  missingProviderLibrary,
  openSessionCount,
  sha256File,
  verifyModelFile,
} from '../../src/models/session';
import { runningModelWorkerCount, WorkerSession } from '../../src/models/worker-session';
import type { Worker } from 'node:worker_threads';

const FRONT = path.join(DEFAULT_MODELS_DIR, 'blazeface-front-128.json');
const FRONT_SHA = 'd388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51';

/** The rejection's message, checked to be a one-line ModelError. */
async function modelError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ModelError, `expected a ModelError, got ${String(err)}`);
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
    return err.message;
  }
  return assert.fail('expected a rejection');
}

describe('models/session', () => {
  let dir: string;
  let front: LoadedManifest;

  /** Writes x.json (a copy of the front manifest with `file` and `sha256` replaced) into dir. */
  function writeManifest(file: string, sha256: string): string {
    const j = JSON.parse(fs.readFileSync(FRONT, 'utf8')) as Record<string, unknown>;
    j.file = file;
    j.sha256 = sha256;
    const p = path.join(dir, 'x.json');
    fs.writeFileSync(p, JSON.stringify(j));
    return p;
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'session-test-'));
    front = await loadManifest(FRONT);
  });

  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('hashes a model file by streaming it (matches the pinned checksum)', async () => {
    assert.equal(await sha256File(front.modelPath), FRONT_SHA);
  });

  it('shares one session per model and options, counts references, and closes it after the last release', async () => {
    const before = openSessionCount();
    const a = await acquireSession(front);
    const b = await acquireSession(FRONT);
    assert.equal(a.shared, b.shared, 'same shared object');
    assert.equal(a.session, b.session, 'same onnxruntime session');
    assert.equal(a.shared.refCount, 2);
    assert.equal(a.provider, 'cpu');
    assert.deepEqual(a.fallbacks, []);
    assert.equal(openSessionCount(), before + 1);

    const threads = await acquireSession(front, { intraOpNumThreads: 1 });
    assert.notEqual(threads.session, a.session, 'other options, other session');
    await threads.release();

    await a.release();
    await a.release(); // a second release of one handle changes nothing
    assert.equal(b.shared.refCount, 1);
    assert.equal(openSessionCount(), before + 1);
    await b.release();
    assert.equal(b.shared.refCount, 0);
    assert.equal(openSessionCount(), before);
    await assert.rejects(b.run({}), /session used after release/);

    const c = await acquireSession(front);
    assert.notEqual(c.session, a.session, 'a fresh session after the last release');
    await c.release();
  });

  it('starts sessions only once when acquired concurrently', async () => {
    const handles = await Promise.all([acquireSession(front), acquireSession(front), acquireSession(front)]);
    assert.ok(handles.every((h) => h.session === handles[0].session));
    assert.equal(handles[0].shared.refCount, 3);
    await Promise.all(handles.map((h) => h.release()));
  });

  it('does not hash a file again while its path, mtime and size are unchanged', async () => {
    const copy = path.join(dir, 'copy.onnx');
    fs.copyFileSync(front.modelPath, copy);
    const m = await loadManifest(writeManifest('copy.onnx', FRONT_SHA));
    const count = hashesComputedCount();
    assert.deepEqual(await verifyModelFile(m), { sha256: FRONT_SHA, cached: false });
    assert.deepEqual(await verifyModelFile(m), { sha256: FRONT_SHA, cached: true });
    const h = await acquireSession(m);
    await h.release();
    assert.equal(hashesComputedCount(), count + 1, 'hashed once');
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(copy, later, later);
    assert.equal((await verifyModelFile(m)).cached, false, 'a touched file is hashed again');
  });

  it("with ['cuda', 'cpu'] uses CUDA where it works, else falls back to cpu and says why", async () => {
    const h = await acquireSession(front, { executionProviders: ['cuda', 'cpu'] });
    try {
      if (h.provider === 'cuda') {
        assert.deepEqual(h.fallbacks, []);
      } else {
        // This machine: onnxruntime-node's CPU build (CUDA provider libraries not installed).
        assert.equal(h.provider, 'cpu');
        assert.equal(h.fallbacks.length, 1);
        assert.equal(h.fallbacks[0].provider, 'cuda');
        if (missingProviderLibrary('cuda') !== null) {
          // Said in one line, without asking onnxruntime (which prints native error blocks to stderr).
          assert.match(h.fallbacks[0].error, /^onnxruntime-node's cuda binaries are not installed \(libonnxruntime_providers_cuda\.so is absent; /);
        }
        assert.ok(h.fallbacks[0].error.length > 0);
        console.log(`      cuda fell back to cpu: ${h.fallbacks[0].error}`);
      }
    } finally {
      await h.release();
    }
  });

  it('runs float32 feeds and returns float32 outputs by name', async () => {
    const h = await acquireSession(front);
    try {
      const input = new Float32Array(128 * 128 * 3);
      const out = await h.run({ 'input:0': { data: input, shape: [1, 128, 128, 3] } });
      assert.deepEqual(Object.keys(out).sort(), ['Identity:0', 'Identity_1:0', 'Identity_2:0', 'Identity_3:0']);
      assert.deepEqual(out['Identity:0'].dims, [1, 512, 1]);
      assert.deepEqual(out['Identity_3:0'].dims, [1, 384, 16]);
      assert.ok(out['Identity_2:0'].data instanceof Float32Array);
      const only = await h.run({ 'input:0': { data: input, shape: [1, 128, 128, 3] } }, ['Identity_1:0']);
      assert.deepEqual(Object.keys(only), ['Identity_1:0']);
      assert.deepEqual(only['Identity_1:0'].dims, [1, 384, 1], 'the output asked for, not the first one');
      assert.deepEqual(Array.from(only['Identity_1:0'].data), Array.from(out['Identity_1:0'].data));
      assert.match(await modelError(h.run({ 'input:0': { data: input, shape: [1, 128, 128, 3] } }, ['nope'])), /nope is not an output of the model/);
      assert.match(
        await modelError(h.run({ 'input:0': { data: new Float32Array(10), shape: [1, 128, 128, 3] } })),
        /blazeface-front-128\.json: input input:0 has 10 values but shape \[1, 128, 128, 3\] needs 49152/,
      );
    } finally {
      await h.release();
    }
  });

  it('without spinning threads: a session of its own, with the same outputs', async () => {
    const before = openSessionCount();
    const spinning = await acquireSession(front, { intraOpNumThreads: 2 });
    const quiet = await acquireSession(front, { intraOpNumThreads: 2, allowSpinning: false });
    try {
      assert.equal(openSessionCount(), before + 2, 'the option is part of what a session is shared by');
      const input = new Float32Array(128 * 128 * 3).map((_, i) => (i % 255) / 255);
      const feed = { 'input:0': { data: input, shape: [1, 128, 128, 3] } };
      const [a, b] = [await spinning.run(feed, ['Identity:0']), await quiet.run(feed, ['Identity:0'])];
      assert.deepEqual(Array.from(b['Identity:0'].data), Array.from(a['Identity:0'].data));
    } finally {
      await Promise.all([spinning.release(), quiet.release()]);
    }
    assert.equal(openSessionCount(), before);
  });

  it('finishes runs in flight before closing the session on the last release', async () => {
    const h = await acquireSession(front);
    const pending = h.run({ 'input:0': { data: new Float32Array(128 * 128 * 3), shape: [1, 128, 128, 3] } });
    await h.release();
    const out = await pending;
    assert.deepEqual(out['Identity:0'].dims, [1, 512, 1]);
  });

  it('names the manifest and the file when the model file is missing', async () => {
    const p = writeManifest('absent.onnx', FRONT_SHA);
    const message = await modelError(acquireSession(p));
    assert.match(message, /x\.json: model file \S*absent\.onnx not found$/);
    assert.ok(message.includes(path.join(dir, 'absent.onnx')));
  });

  it('names the file and the expected checksum, never the actual one, on a checksum mismatch', async () => {
    fs.copyFileSync(front.modelPath, path.join(dir, 'wrong.onnx'));
    const p = writeManifest('wrong.onnx', '0'.repeat(64));
    const message = await modelError(acquireSession(p));
    assert.match(message, new RegExp(`^\\S*x\\.json: model file \\S*wrong\\.onnx does not have the SHA-256 the manifest expects \\(${'0'.repeat(64)}\\): `));
    assert.ok(!message.includes(FRONT_SHA), message);
  });

  it('wraps onnxruntime errors on a corrupt model (checksum pinned to the bad bytes) naming the file', async () => {
    const garbage = Buffer.from('this is not an ONNX model\n'.repeat(100));
    fs.writeFileSync(path.join(dir, 'corrupt.onnx'), garbage);
    const sha = createHash('sha256').update(garbage).digest('hex');
    const p = writeManifest('corrupt.onnx', sha);
    const before = openSessionCount();
    const message = await modelError(acquireSession(p, { executionProviders: ['cuda', 'cpu'] }));
    assert.match(message, /x\.json: onnxruntime cannot load model file \S*corrupt\.onnx \(cuda: .*; cpu: .*Protobuf parsing failed.*\)$/);
    assert.equal(openSessionCount(), before, 'a failed load leaves nothing behind');
    // A later attempt tries again rather than reusing the failure.
    assert.match(await modelError(acquireSession(p)), /cannot load model file \S*corrupt\.onnx \(cpu: /);
  });

  it('rejects bad thread counts', async () => {
    assert.match(await modelError(acquireSession(front, { intraOpNumThreads: -1 })), /intraOpNumThreads must be a whole number >= 0/);
  });
});

describe('models/worker-session', () => {
  it('runs a model in a worker thread with the main thread\'s numbers; a worker that died fails calls at once and releases', async () => {
    const manifest = await loadManifest(FRONT);
    const input = new Float32Array(128 * 128 * 3);
    for (let i = 0; i < input.length; i++) input[i] = ((i * 37) % 255) / 127.5 - 1;
    const onMain = await acquireSession(manifest, { intraOpNumThreads: 1 });
    const expected = await onMain.run({ [manifest.input.name]: { data: input.slice(), shape: [1, 128, 128, 3] } });
    await onMain.release();

    const before = runningModelWorkerCount();
    const inWorker = await WorkerSession.load(manifest, { intraOpNumThreads: 1 });
    assert.equal(runningModelWorkerCount(), before + 1);
    const got = await inWorker.run({ [manifest.input.name]: { data: input.slice(), shape: [1, 128, 128, 3] } });
    assert.deepEqual(Object.keys(got).sort(), Object.keys(expected).sort());
    for (const name of Object.keys(expected)) assert.deepEqual(Array.from(got[name].data), Array.from(expected[name].data), `output ${name}`);

    // A worker that ends on its own (an error in it, memory): later calls fail rather than wait forever.
    await (inWorker as unknown as { worker: Worker }).worker.terminate();
    assert.match(await modelError(inWorker.run({ [manifest.input.name]: { data: input.slice(), shape: [1, 128, 128, 3] } })), /blazeface-front-128\.json: model worker stopped$/);
    await inWorker.release();
    assert.equal(runningModelWorkerCount(), before);
  });
});
