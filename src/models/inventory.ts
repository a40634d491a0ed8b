/**
 * The models of a folder and the state of each model file against its manifest's SHA-256: what
 * `cer models list` shows and `cer models verify` checks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, oneLine } from '../io/errors';
import { displayPath, loadManifest, type LoadedManifest } from './manifest';
import { sha256File } from './session';

export type ChecksumStatus = 'ok' | 'mismatch' | 'missing' | 'unreadable';

export interface ModelEntry {
  readonly id: string;
  readonly task: string;
  readonly manifest: string;
  readonly file: string;
  readonly licence: string;
  readonly nonCommercial: boolean;
  readonly source: string;
  readonly sha256: string;
  readonly checksum: ChecksumStatus;
  /** The file's actual SHA-256 when it could be read. */
  readonly actualSha256?: string;
  readonly bytes?: number;
}

export interface InvalidManifest {
  readonly manifest: string;
  readonly error: string;
}

export interface ModelsReport {
  readonly dir: string;
  readonly models: readonly ModelEntry[];
  readonly invalid: readonly InvalidManifest[];
}

async function checkFile(manifest: LoadedManifest): Promise<Pick<ModelEntry, 'checksum' | 'actualSha256' | 'bytes'>> {
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(manifest.modelPath);
  } catch {
    return { checksum: 'missing' };
  }
  if (!stat.isFile()) return { checksum: 'missing' };
  try {
    const actual = await sha256File(manifest.modelPath);
    return { checksum: actual === manifest.sha256 ? 'ok' : 'mismatch', actualSha256: actual, bytes: stat.size };
  } catch {
    return { checksum: 'unreadable', bytes: stat.size };
  }
}

/** Every manifest in `dir` with the status of its model file; invalid manifests are reported, not thrown. */
export async function inspectModels(dir: string): Promise<ModelsReport> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch (err) {
    throw new InputError(`${displayPath(dir)}: cannot list models (${oneLine(err)})`);
  }
  const models: ModelEntry[] = [];
  const invalid: InvalidManifest[] = [];
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    const file = path.join(dir, name);
    let manifest: LoadedManifest;
    try {
      manifest = await loadManifest(file);
    } catch (err) {
      invalid.push({ manifest: displayPath(file), error: oneLine(err) });
      continue;
    }
    models.push({
      id: manifest.id,
      task: manifest.task,
      manifest: manifest.label,
      file: displayPath(manifest.modelPath),
      licence: manifest.licence,
      nonCommercial: manifest.nonCommercial,
      source: manifest.source,
      sha256: manifest.sha256,
      ...(await checkFile(manifest)),
    });
  }
  return { dir: displayPath(dir), models, invalid };
}

/** A verification: the models checked (all, or those named) and how many failed. */
export interface VerifyReport extends ModelsReport {
  /** Models whose file is not `ok`, plus invalid manifests. */
  readonly failed: number;
}

/**
 * Checks every model of `dir` (or those named by id; invalid manifests count only when none are
 * named). Throws an InputError naming any id the folder does not have.
 */
export async function verifyModels(dir: string, ids: readonly string[] = []): Promise<VerifyReport> {
  const report = await inspectModels(dir);
  const unknown = ids.filter((id) => !report.models.some((m) => m.id === id));
  if (unknown.length > 0) throw new InputError(`no model with id ${unknown.join(', ')} in ${report.dir}`);
  const models = ids.length === 0 ? report.models : report.models.filter((m) => ids.includes(m.id));
  const invalid = ids.length === 0 ? report.invalid : [];
  const failed = models.filter((m) => m.checksum !== 'ok').length + invalid.length;
  return { dir: report.dir, models, invalid, failed };
}
