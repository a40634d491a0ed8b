import * as fs from 'node:fs';
import * as path from 'node:path';
import { MediaError } from './errors';

/** Where an ffmpeg or ffprobe binary was found. */
export type BinarySource = 'env' | 'ffmpeg-static' | '@ffmpeg-installer' | '@ffprobe-installer' | 'PATH';

export interface ResolvedBinary {
  readonly name: 'ffmpeg' | 'ffprobe';
  /** Absolute path of the executable. */
  readonly path: string;
  readonly source: BinarySource;
}

export interface ResolveBinaryOptions {
  /** Environment to read FFMPEG_PATH, FFPROBE_PATH and PATH from; process.env by default. */
  readonly env?: NodeJS.ProcessEnv;
  /** Look in the optional npm packages (ffmpeg-static, @ffmpeg-installer/…); true by default. */
  readonly packages?: boolean;
}

/** One line for logs and status: `ffmpeg /usr/bin/ffmpeg (from PATH)`. */
export function describeBinary(binary: ResolvedBinary): string {
  return `${binary.name} ${binary.path} (from ${binary.source})`;
}

/**
 * Finds ffmpeg, in this order: the FFMPEG_PATH environment variable; the ffmpeg-static package when
 * it is installed and its binary was downloaded; the @ffmpeg-installer/ffmpeg package; the PATH.
 * A FFMPEG_PATH that does not name an executable file is an error, not a reason to look elsewhere.
 * Throws a MediaError (code BINARY_NOT_FOUND) saying where it looked.
 */
export function resolveFfmpeg(options: ResolveBinaryOptions = {}): ResolvedBinary {
  const env = options.env ?? process.env;
  const usePackages = options.packages ?? true;
  const tried: string[] = [];

  const fromEnv = fromEnvironment('ffmpeg', 'FFMPEG_PATH', env);
  if (fromEnv) return fromEnv;
  tried.push('FFMPEG_PATH (unset)');

  if (usePackages) {
    const staticPath = optionalModule('ffmpeg-static');
    if (typeof staticPath === 'string' && isExecutableFile(staticPath)) {
      return { name: 'ffmpeg', path: path.resolve(staticPath), source: 'ffmpeg-static' };
    }
    tried.push(staticPath === undefined ? 'ffmpeg-static (not installed)' : 'ffmpeg-static (installed, binary missing)');

    const installer = packagePath(optionalModule('@ffmpeg-installer/ffmpeg'));
    if (installer !== null && isExecutableFile(installer)) {
      return { name: 'ffmpeg', path: path.resolve(installer), source: '@ffmpeg-installer' };
    }
    tried.push('@ffmpeg-installer/ffmpeg (not usable)');
  }

  const onPath = searchPath('ffmpeg', env);
  if (onPath !== null) return { name: 'ffmpeg', path: onPath, source: 'PATH' };
  tried.push('PATH');

  throw new MediaError(
    'BINARY_NOT_FOUND',
    null,
    `ffmpeg not found (tried ${tried.join(', ')}); set FFMPEG_PATH, install the npm package ffmpeg-static, or install ffmpeg on the PATH`,
  );
}

/**
 * Finds ffprobe, in this order: FFPROBE_PATH; an ffprobe beside the executable FFMPEG_PATH names;
 * the @ffprobe-installer/ffprobe package (an optional dependency: a static build, which starts in a
 * few milliseconds where a dynamically linked one takes ~60); the PATH. Throws a MediaError (code
 * BINARY_NOT_FOUND) saying where it looked.
 */
export function resolveFfprobe(options: ResolveBinaryOptions = {}): ResolvedBinary {
  const env = options.env ?? process.env;
  const usePackages = options.packages ?? true;
  const tried: string[] = [];

  const fromEnv = fromEnvironment('ffprobe', 'FFPROBE_PATH', env);
  if (fromEnv) return fromEnv;
  tried.push('FFPROBE_PATH (unset)');

  const ffmpegFromEnv = env.FFMPEG_PATH;
  if (ffmpegFromEnv && isExecutableFile(ffmpegFromEnv)) {
    const beside = path.join(path.dirname(path.resolve(ffmpegFromEnv)), executableName('ffprobe'));
    if (isExecutableFile(beside)) return { name: 'ffprobe', path: beside, source: 'env' };
    tried.push('beside FFMPEG_PATH');
  }

  if (usePackages) {
    const installer = packagePath(optionalModule('@ffprobe-installer/ffprobe'));
    if (installer !== null && isExecutableFile(installer)) {
      return { name: 'ffprobe', path: path.resolve(installer), source: '@ffprobe-installer' };
    }
    tried.push('@ffprobe-installer/ffprobe (not usable)');
  }

  const onPath = searchPath('ffprobe', env);
  if (onPath !== null) return { name: 'ffprobe', path: onPath, source: 'PATH' };
  tried.push('PATH');

  throw new MediaError(
    'BINARY_NOT_FOUND',
    null,
    `ffprobe not found (tried ${tried.join(', ')}); set FFPROBE_PATH or install ffmpeg, which ships ffprobe, on the PATH`,
  );
}

function fromEnvironment(name: 'ffmpeg' | 'ffprobe', variable: string, env: NodeJS.ProcessEnv): ResolvedBinary | null {
  const value = env[variable];
  if (value === undefined || value.trim() === '') return null;
  if (!isExecutableFile(value)) {
    throw new MediaError('BINARY_NOT_FOUND', null, `${variable} is set to '${value}', which is not an executable file`);
  }
  return { name, path: path.resolve(value), source: 'env' };
}

/** The module's export, undefined when it is not installed or fails to load (some throw when their binary is missing). */
function optionalModule(name: string): unknown {
  try {
    return require(name) as unknown;
  } catch {
    return undefined;
  }
}

/** `{ path: string }` as the @ffmpeg-installer / @ffprobe-installer packages export. */
function packagePath(exported: unknown): string | null {
  if (typeof exported === 'object' && exported !== null && 'path' in exported) {
    const value = (exported as { path: unknown }).path;
    if (typeof value === 'string' && value !== '') return value;
  }
  return null;
}

function executableName(base: string): string {
  return process.platform === 'win32' ? `${base}.exe` : base;
}

function isExecutableFile(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) return false;
    if (process.platform !== 'win32') fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function searchPath(base: string, env: NodeJS.ProcessEnv): string | null {
  const searchList = env.PATH ?? env.Path ?? '';
  const names = process.platform === 'win32' ? [`${base}.exe`, base] : [base];
  for (const dir of searchList.split(path.delimiter)) {
    if (dir === '') continue;
    for (const name of names) {
      const candidate = path.resolve(dir, name);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return null;
}
