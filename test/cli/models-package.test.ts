/**
 * `cer models export` from the published package: `npm pack` ships the export tool (and every
 * module of its own it imports, and the calibration script of --quantize int8-static), and the
 * command line of an unpacked tarball finds the tool in that package; where the tool is absent it
 * says in one line that the export needs a checkout of the repository.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { requireTorch } from '../helpers/python';
import { REPO_ROOT } from '../helpers/testdata';

interface PackedFile {
  readonly path: string;
}

function npmPack(args: readonly string[]): { files: PackedFile[]; filename: string } {
  // --ignore-scripts: the tests run on the build already made (prepack would build again).
  const r = spawnSync('npm', ['pack', '--json', '--ignore-scripts', ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120000 });
  assert.equal(r.status, 0, r.stderr);
  const [pack] = JSON.parse(r.stdout) as { files: PackedFile[]; filename: string }[];
  return pack;
}

/** The modules of tools/export that a Python file imports (at the top or inside a function). */
function localImports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const names = [...text.matchAll(/^\s*(?:from\s+(\w+)\s+import|import\s+(\w+))/gm)].map((m) => m[1] ?? m[2]);
  return [...new Set(names)].filter((name) => fs.existsSync(path.join(REPO_ROOT, 'tools', 'export', `${name}.py`)));
}

function run(script: string, args: readonly string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [script, ...args], { cwd, encoding: 'utf8', timeout: 300000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('cer models export from the published package', function () {
  this.timeout(300000);
  let work = '';
  let pkg = '';

  before(function () {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-package-'));
    const { filename } = npmPack(['--pack-destination', work]);
    const tar = spawnSync('tar', ['-xzf', path.join(work, filename), '-C', work], { encoding: 'utf8' });
    assert.equal(tar.status, 0, tar.stderr);
    pkg = path.join(work, 'package');
    // As npm installs it: the package's dependencies beside it.
    fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
  });

  after(function () {
    if (work !== '') fs.rmSync(work, { recursive: true, force: true });
  });

  it('npm pack --dry-run lists the export tool, every module of tools/export it imports, and the calibration script', function () {
    const listed = new Set(npmPack(['--dry-run']).files.map((f) => f.path));
    assert.ok(listed.has('tools/export/export.py'), 'tools/export/export.py is not in the package');
    const needed = new Set<string>();
    const pending = ['export'];
    while (pending.length > 0) {
      const name = pending.pop() as string;
      if (needed.has(name)) continue;
      needed.add(name);
      pending.push(...localImports(path.join(REPO_ROOT, 'tools', 'export', `${name}.py`)));
    }
    assert.ok(needed.has('keymap') && needed.has('quantize_static'), `imports found: ${[...needed].join(', ')}`);
    for (const name of needed) assert.ok(listed.has(`tools/export/${name}.py`), `tools/export/${name}.py (imported by the export tool) is not in the package`);
    for (const file of ['dist/tools/calibrate.js', 'dist/tools/calibration-inputs.js']) assert.ok(listed.has(file), `${file} is not in the package`);
    assert.ok(!listed.has('tools/export/test_keymap.py'), 'the tool tests are not shipped');
  });

  it('the unpacked package runs the calibration script (its modules resolve within the package)', function () {
    const r = run(path.join(pkg, 'dist', 'tools', 'calibrate.js'), [], work);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, 'calibrate: --model, --manifest and --out are needed\n');
  });

  it("the unpacked package's cer finds its export tool and exports a model (when python3-torch is installed)", function () {
    requireTorch(this);
    const out = path.join(work, 'exported');
    const r = run(path.join(pkg, 'dist', 'src', 'cli', 'main.js'), ['models', 'export', 'vd', '--random-weights', '--out', out], work);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^exported vd-lstm-random: .*vd-lstm-random\.onnx \([\d.]+ MB, sha256 [0-9a-f]{64}\) and .*vd-lstm-random\.json$/m);
    assert.deepEqual(fs.readdirSync(out).sort(), ['vd-lstm-random.json', 'vd-lstm-random.onnx']);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'vd-lstm-random.json'), 'utf8')) as { task: string; file: string };
    assert.equal(manifest.task, 'dynamic-visual');
    assert.equal(manifest.file, 'vd-lstm-random.onnx');
  });

  it('without the export tool, says in one line that the export needs a checkout, before looking for Python', function () {
    fs.rmSync(path.join(pkg, 'tools', 'export', 'export.py'));
    const out = path.join(work, 'never');
    const r = run(path.join(pkg, 'dist', 'src', 'cli', 'main.js'), ['models', 'export', 'vs', '--random-weights', '--out', out, '--python', path.join(work, 'no-python')], work);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^cer: the export tool \S*tools\/export\/export\.py is not part of this installation; cer models export needs a checkout of the repository \([^\n]*\)\n$/);
    assert.equal(r.stdout, '');
    assert.ok(!fs.existsSync(out));
  });
});
