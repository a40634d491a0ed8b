import { spawnSync } from 'node:child_process';
import { findPython, pythonStatus, torchProblem, type PythonStatus } from '../../src/models/export';

/**
 * The Python that runs the model export tool, or skips the calling suite (or test) with the reason
 * when PyTorch is missing: these tests are the optional ones of README.md, and
 * `bash tools/setup.sh --export` installs what they need. Call from a mocha `before`/`it` with `this`.
 */
export function requireTorch(ctx: Mocha.Context): PythonStatus {
  const status = pythonStatus(findPython());
  const problem = torchProblem(status);
  if (problem !== undefined) {
    console.warn(`    skipped (optional; bash tools/setup.sh --export installs it): ${problem}`);
    ctx.skip();
  }
  return status;
}

/**
 * requireTorch, plus torchvision (Debian's python3-torchvision: `bash tools/setup.sh --export`
 * installs it), for the tests that build same-architecture stand-ins of public models.
 */
export function requireTorchvision(ctx: Mocha.Context): PythonStatus {
  const status = requireTorch(ctx);
  const r = spawnSync(status.python, ['-c', 'import torchvision'], { encoding: 'utf8', timeout: 120000 });
  if (r.status !== 0) {
    console.warn(`    skipped (optional; bash tools/setup.sh --export installs it): torchvision is not installed for ${status.python} (sudo apt-get install -y python3-torchvision)`);
    ctx.skip();
  }
  return status;
}
