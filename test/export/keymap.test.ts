/**
 * tools/export's key mapping: runs the Python unit tests (tools/export/test_keymap.py), which load
 * checkpoints named the way the authors' code names its tensors through the mapping and compare
 * our models with functional re-statements of the authors' forward passes (VS, VD, and A with
 * the Hugging Face wav2vec2 layer order). Skipped, naming the missing Debian packages, when
 * python3-torch, python3-torchaudio or python3-onnx is not installed.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { requireTorch } from '../helpers/python';
import { REPO_ROOT } from '../helpers/testdata';

describe('tools/export key mapping (Python unit tests)', function () {
  this.timeout(600000);

  it('maps the authors\' VS, VD and A checkpoints onto our models and reproduces their outputs', function () {
    const status = requireTorch(this);
    const r = spawnSync(status.python, ['-B', '-m', 'unittest', 'discover', '-s', path.join(REPO_ROOT, 'tools', 'export'), '-p', 'test_*.py', '-v'], {
      cwd: REPO_ROOT,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
      encoding: 'utf8',
      timeout: 590000,
    });
    const report = `${r.stderr}`.trim();
    const summary = /Ran (\d+) tests?/.exec(report);
    assert.equal(r.status, 0, `python unit tests failed:\n${report.slice(-4000)}`);
    assert.ok(summary !== null && Number(summary[1]) >= 9, `unexpected unittest output:\n${report.slice(-2000)}`);
    console.log(`      ${summary[0]} (tools/export/test_keymap.py): OK`);
  });
});
