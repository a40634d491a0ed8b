import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeBinary, resolveFfmpeg, resolveFfprobe, type ResolvedBinary } from '../../src/media/binaries';
import { MediaError } from '../../src/media/errors';

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

describe('media/binaries', () => {
  const emptyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-bin-'));
  after(() => fs.rmSync(emptyDir, { recursive: true, force: true }));

  it('finds an executable ffmpeg and says where it came from', () => {
    const ffmpeg = resolveFfmpeg();
    assert.equal(ffmpeg.name, 'ffmpeg');
    assert.ok(['env', 'ffmpeg-static', '@ffmpeg-installer', 'PATH'].includes(ffmpeg.source), ffmpeg.source);
    assert.ok(path.isAbsolute(ffmpeg.path));
    assert.ok(isExecutable(ffmpeg.path), ffmpeg.path);
    assert.match(describeBinary(ffmpeg), /^ffmpeg \/.+ \(from .+\)$/);
  });

  it('finds an executable ffprobe, the static one of @ffprobe-installer/ffprobe when it is installed', () => {
    const ffprobe = resolveFfprobe();
    assert.equal(ffprobe.name, 'ffprobe');
    assert.ok(['env', '@ffprobe-installer', 'PATH'].includes(ffprobe.source), ffprobe.source);
    assert.ok(isExecutable(ffprobe.path), ffprobe.path);
    let installed = true;
    try {
      require.resolve('@ffprobe-installer/ffprobe');
    } catch {
      installed = false; // an optional dependency: absent where it has no build
    }
    if (installed && process.env.FFPROBE_PATH === undefined) assert.equal(ffprobe.source, '@ffprobe-installer');
  });

  it('prefers FFMPEG_PATH / FFPROBE_PATH over packages and PATH', function () {
    const ffmpeg = resolveFfmpeg();
    const ffprobe = resolveFfprobe();
    const viaEnv = resolveFfmpeg({ env: { FFMPEG_PATH: ffmpeg.path, PATH: '' } });
    assert.deepEqual(viaEnv, { name: 'ffmpeg', path: ffmpeg.path, source: 'env' });
    const probeViaEnv = resolveFfprobe({ env: { FFPROBE_PATH: ffprobe.path, PATH: '' } });
    assert.deepEqual(probeViaEnv, { name: 'ffprobe', path: ffprobe.path, source: 'env' });
  });

  it('an FFMPEG_PATH that is not an executable is an error, not a silent fallback', () => {
    const bogus = path.join(emptyDir, 'no-ffmpeg-here');
    assert.throws(() => resolveFfmpeg({ env: { FFMPEG_PATH: bogus } }), (err: unknown) => {
      assert.ok(err instanceof MediaError);
      assert.equal(err.code, 'BINARY_NOT_FOUND');
      assert.equal(err.message, `FFMPEG_PATH is set to '${bogus}', which is not an executable file`);
      return true;
    });
  });

  it('falls back to the PATH when the packages are not consulted', function () {
    let fromPath: ResolvedBinary;
    try {
      fromPath = resolveFfmpeg({ packages: false });
    } catch {
      this.skip();
    }
    assert.equal(fromPath.source, 'PATH');
    assert.ok(isExecutable(fromPath.path));
  });

  it('finds ffprobe beside the ffmpeg FFMPEG_PATH names', function () {
    // The PATH's ffprobe: the package's has no ffmpeg beside it.
    let ffprobe: ResolvedBinary;
    try {
      ffprobe = resolveFfprobe({ packages: false });
    } catch {
      this.skip();
    }
    const besideFfmpeg = path.join(path.dirname(ffprobe.path), 'ffmpeg');
    if (!isExecutable(besideFfmpeg)) this.skip();
    assert.deepEqual(resolveFfprobe({ env: { FFMPEG_PATH: besideFfmpeg, PATH: emptyDir }, packages: false }), {
      name: 'ffprobe',
      path: ffprobe.path,
      source: 'env',
    });
  });

  it('says clearly that ffmpeg / ffprobe are missing when nothing is found', () => {
    const env = { PATH: emptyDir };
    assert.throws(() => resolveFfmpeg({ env, packages: false }), /^MediaError: ffmpeg not found \(tried FFMPEG_PATH \(unset\), PATH\); set FFMPEG_PATH/);
    assert.throws(() => resolveFfprobe({ env, packages: false }), /^MediaError: ffprobe not found \(tried FFPROBE_PATH \(unset\), PATH\); set FFPROBE_PATH/);
  });
});
