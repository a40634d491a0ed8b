/**
 * Installing models into a models folder: from a folder of manifests, one manifest, a manifest URL
 * (its model file fetched beside it) or an ONNX file (its manifest beside it, or none: the graph is
 * then recognised, see recognise.ts). Every model file is checked against its manifest's SHA-256
 * before it is put in place, and is written through a temporary file that an interruption removes
 * (io/safe-files.ts), so a models folder never holds a partial model.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, oneLine } from '../io/errors';
import { checkOutputTarget, releaseTemporary, sweepStaleTemporariesOnce, temporaryPath, writeFileAtomic } from '../io/safe-files';
import { DEFAULT_MODELS_DIR, displayPath, loadManifest, manifestBesideOnnx, validateManifest, type ModelManifest } from './manifest';
import { recogniseOnnx } from './recognise';

export interface InstallOptions {
  /** The models folder to install into (default: the package's models/). */
  readonly dir?: string;
  /** The model file's expected SHA-256 (must also match the manifest); a single model only. */
  readonly sha256?: string;
  /** Replace a model that is already installed. */
  readonly force?: boolean;
  /** The id of the manifest written for an ONNX file without one (default: the recognised family's). */
  readonly id?: string;
}

/** What an ONNX file without a manifest was recognised as (recognise.ts). */
export interface RecognisedInstall {
  readonly family: string;
  readonly signature: string;
  readonly notes: readonly string[];
}

export interface Installed {
  readonly id: string;
  readonly manifest: string;
  readonly file: string;
  readonly nonCommercial: boolean;
  readonly licence: string;
  readonly recognised?: RecognisedInstall;
}

function checkSha(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9a-fA-F]{64}$/.test(value)) throw new InputError(`--sha256: expected 64 hex digits, got "${value}"`);
  return value.toLowerCase();
}

function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

function targetDir(options: InstallOptions): string {
  return path.resolve(options.dir ?? DEFAULT_MODELS_DIR);
}

function prepareTarget(dir: string, manifest: ModelManifest, force: boolean): { modelName: string; manifestName: string } {
  const modelName = path.basename(manifest.file);
  const manifestName = `${manifest.id}.json`;
  fs.mkdirSync(dir, { recursive: true });
  if (!force) {
    for (const name of [manifestName, modelName]) {
      if (fs.existsSync(path.join(dir, name))) {
        throw new InputError(`${displayPath(path.join(dir, name))} already exists (use --force to replace ${manifest.id})`);
      }
    }
  }
  return { modelName, manifestName };
}

/** The manifest JSON as installed: the same fields, `file` being the bare file name. */
function installedManifestText(raw: Record<string, unknown>, modelName: string): string {
  return `${JSON.stringify({ ...raw, file: modelName }, null, 2)}\n`;
}

function expectSha(label: string, manifest: ModelManifest, expected: string | undefined): void {
  if (expected !== undefined && expected !== manifest.sha256) {
    throw new InputError(`${label}: --sha256 ${expected} does not match the manifest's ${manifest.sha256}`);
  }
}

/**
 * Writes `to` from `chunks` through a temporary file beside it, renamed into place only when the
 * bytes have the SHA-256 `sha256`; `mismatch()` is thrown otherwise, and nothing is left behind.
 */
async function writeVerified(to: string, chunks: AsyncIterable<Uint8Array>, sha256: string, mismatch: () => InputError): Promise<void> {
  sweepStaleTemporariesOnce(path.dirname(path.resolve(to)));
  const tmp = temporaryPath(to);
  let renamed = false;
  try {
    const hash = createHash('sha256');
    const output = await fs.promises.open(tmp, 'wx', 0o644);
    try {
      for await (const chunk of chunks) {
        hash.update(chunk);
        await output.write(chunk);
      }
    } finally {
      await output.close();
    }
    if (hash.digest('hex') !== sha256) throw mismatch();
    checkOutputTarget(to);
    await fs.promises.rename(tmp, to);
    renamed = true;
  } finally {
    releaseTemporary(tmp, !renamed);
  }
}

function copyVerified(from: string, to: string, sha256: string, label: string): Promise<void> {
  return writeVerified(
    to,
    fs.createReadStream(from, { highWaterMark: 1 << 20 }),
    sha256,
    () => new InputError(`${label}: does not have the SHA-256 its manifest expects (${sha256}); nothing installed (fetch the model again, or fix the manifest's sha256)`),
  );
}

async function fetchOk(url: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { redirect: 'follow' });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
    throw new InputError(`${url}: download failed (${oneLine(err)}${cause})`);
  }
  if (!response.ok) throw new InputError(`${url}: download failed (HTTP ${response.status} ${response.statusText})`);
  return response;
}

/**
 * A response body's chunks; a connection that breaks off is a one-line InputError. The download is
 * cancelled when the reader stops early (a write failed).
 */
async function* bodyChunks(url: string, body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  let done = false;
  try {
    for (;;) {
      let next: Awaited<ReturnType<typeof reader.read>>;
      try {
        next = await reader.read();
      } catch (err) {
        done = true;
        throw new InputError(`${url}: download failed (${oneLine(err)}); nothing installed`);
      }
      if (next.done) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!done) await reader.cancel().catch(() => undefined);
  }
}

/** Streams a URL into `to` through a temporary file, verifying the SHA-256 before the rename. */
async function downloadVerified(url: string, to: string, sha256: string): Promise<void> {
  const response = await fetchOk(url);
  if (response.body === null) throw new InputError(`${url}: download failed (empty response)`);
  await writeVerified(
    to,
    bodyChunks(url, response.body),
    sha256,
    () => new InputError(`${url}: does not have the SHA-256 its manifest expects (${sha256}); nothing installed (the download is damaged or another version)`),
  );
}

function installedOf(manifest: ModelManifest, dir: string, manifestName: string, modelName: string): Installed {
  return {
    id: manifest.id,
    manifest: displayPath(path.join(dir, manifestName)),
    file: displayPath(path.join(dir, modelName)),
    nonCommercial: manifest.nonCommercial,
    licence: manifest.licence,
  };
}

async function installFromFile(manifestFile: string, options: InstallOptions, expected: string | undefined): Promise<Installed> {
  const manifest = await loadManifest(manifestFile);
  expectSha(manifest.label, manifest, expected);
  const raw = JSON.parse(await fs.promises.readFile(manifestFile, 'utf8')) as Record<string, unknown>;
  const dir = targetDir(options);
  if (path.resolve(path.dirname(manifest.modelPath)) === dir && path.resolve(path.dirname(manifestFile)) === dir) {
    throw new InputError(`${manifest.label} is already in ${displayPath(dir)}`);
  }
  if (!fs.existsSync(manifest.modelPath)) throw new InputError(`${manifest.label}: model file ${displayPath(manifest.modelPath)} not found`);
  const { modelName, manifestName } = prepareTarget(dir, manifest, options.force === true);
  await copyVerified(manifest.modelPath, path.join(dir, modelName), manifest.sha256, displayPath(manifest.modelPath));
  writeFileAtomic(path.join(dir, manifestName), installedManifestText(raw, modelName));
  return installedOf(manifest, dir, manifestName, modelName);
}

/**
 * Installs an ONNX file that has no manifest beside it: its graph is recognised as one of the
 * well-known facial-expression models and the manifest for it is written with the copy
 * (`<id>.onnx` and `<id>.json`); an unknown graph is refused with the fields to write.
 */
async function installRecognised(file: string, options: InstallOptions, expected: string | undefined): Promise<Installed> {
  const recognition = await recogniseOnnx(file, options.id === undefined ? {} : { id: options.id });
  const manifest = validateManifest(recognition.manifest, `${String(recognition.manifest.id)}.json`);
  expectSha(displayPath(file), manifest, expected);
  const dir = targetDir(options);
  const { modelName, manifestName } = prepareTarget(dir, manifest, options.force === true);
  await copyVerified(file, path.join(dir, modelName), manifest.sha256, displayPath(file));
  writeFileAtomic(path.join(dir, manifestName), installedManifestText(recognition.manifest, modelName));
  return {
    ...installedOf(manifest, dir, manifestName, modelName),
    recognised: { family: recognition.family, signature: recognition.signature, notes: recognition.notes },
  };
}

async function installFromUrl(url: string, options: InstallOptions, expected: string | undefined): Promise<Installed> {
  const response = await fetchOk(url);
  const text = await response.text();
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${url}: not a model manifest (not valid JSON: ${oneLine(err)})`);
  }
  const manifest = validateManifest(raw, url);
  expectSha(url, manifest, expected);
  const dir = targetDir(options);
  const { modelName, manifestName } = prepareTarget(dir, manifest, options.force === true);
  const modelUrl = new URL(manifest.file, response.url || url).toString();
  await downloadVerified(modelUrl, path.join(dir, modelName), manifest.sha256);
  writeFileAtomic(path.join(dir, manifestName), installedManifestText(raw as Record<string, unknown>, modelName));
  return installedOf(manifest, dir, manifestName, modelName);
}

/**
 * Installs the models of a folder (every manifest in it), of one manifest file, of an ONNX file or
 * of a manifest URL (its model file is fetched relative to it) into the models folder, each model
 * file checked against its manifest's SHA-256 (and `sha256` when given) before it is put in place.
 */
export async function installModels(source: string, options: InstallOptions = {}): Promise<Installed[]> {
  const expected = checkSha(options.sha256);
  if (isUrl(source)) return [await installFromUrl(source, options, expected)];
  let stat: fs.Stats;
  try {
    stat = fs.statSync(source);
  } catch {
    throw new InputError(`${source}: no such file or folder (give a folder of models, a manifest .json or an http(s) URL of one)`);
  }
  if (!stat.isDirectory() && /\.onnx$/i.test(source)) {
    const beside = await manifestBesideOnnx(source);
    if (beside === null) return [await installRecognised(source, options, expected)];
    if (options.id !== undefined) throw new InputError(`--id is for an ONNX file without a manifest; ${beside.label} names ${displayPath(source)} already`);
    return [await installFromFile(beside.manifestPath, options, expected)];
  }
  if (options.id !== undefined) throw new InputError('--id is for an ONNX file without a manifest (cer models install FILE.onnx --id ID)');
  const manifests = stat.isDirectory()
    ? fs.readdirSync(source).filter((n) => n.endsWith('.json')).sort().map((n) => path.join(source, n))
    : [source];
  if (manifests.length === 0) throw new InputError(`${source}: no model manifests (*.json) in this folder`);
  if (expected !== undefined && manifests.length > 1) throw new InputError(`--sha256 needs a single model, but ${source} has ${manifests.length} manifests`);
  // Validate them all before copying anything.
  for (const file of manifests) await loadManifest(file);
  const installed: Installed[] = [];
  for (const file of manifests) installed.push(await installFromFile(file, options, expected));
  return installed;
}
