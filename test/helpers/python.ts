import { findPython, pythonStatus, torchProblem, type PythonStatus } from '../../src/cli/commands/models';

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
