import * as fs from 'node:fs';
import * as path from 'node:path';

/** Repository root, from dist/test/helpers or test/helpers. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', ...(path.basename(path.resolve(__dirname, '..', '..')) === 'dist' ? ['..'] : []));

/** ../shared/testdata beside the checkout; absent on machines without the shared folder. */
export const TESTDATA_DIR = path.resolve(REPO_ROOT, '..', 'shared', 'testdata');
export const RAVDESS_CLIP = path.join(TESTDATA_DIR, 'ravdess', '01-01-01-01-01-01-01.mp4');
export const ASTRONAUT_PNG = path.join(TESTDATA_DIR, 'astronaut.png');

/**
 * Skips the calling suite (or test) with a message naming the missing file when the shared
 * test data is not beside the checkout. Call from a mocha `before`/`it` with `this`.
 */
export function requireTestdata(ctx: Mocha.Context, file: string): void {
  if (!fs.existsSync(file)) {
    console.warn(`    skipped: ${file} is absent (../shared/testdata is not beside this checkout)`);
    ctx.skip();
  }
}
