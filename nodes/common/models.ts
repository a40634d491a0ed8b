/**
 * Which model a node uses: the model config node's setting (a manifest, an ONNX file with its
 * manifest beside it or of a recognised kind, a folder of manifests or the id of a bundled model) or, without a config
 * node, the package's own model for the task, with the session options `cer analyze` uses.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelError } from '../../src/models/errors';
import { DEFAULT_MODELS_DIR, PACKAGE_ROOT, listManifests, loadManifest, selectModels, type LoadedManifest, type ModelTask } from '../../src/models/manifest';
import { manifestForOnnx } from '../../src/models/recognise';

/** A path as given, else relative to the package (so `models/x.json` works wherever Node-RED runs). */
export function resolveUserPath(p: string): string {
  const direct = path.resolve(p);
  if (fs.existsSync(direct) || path.isAbsolute(p)) return direct;
  const inPackage = path.resolve(PACKAGE_ROOT, p);
  return fs.existsSync(inPackage) ? inPackage : direct;
}

/**
 * The package's own model for a task, as `cer analyze` picks it (the first manifest of the task by
 * file name), or null where the package has none (a sequence-model VD, an acoustic model) or the
 * detector is chosen by variant.
 */
export async function bundledModel(task: ModelTask): Promise<LoadedManifest | null> {
  if (task === 'face-detection' || task === 'dynamic-visual') return null;
  const all = await listManifests(DEFAULT_MODELS_DIR);
  return all.find((m) => m.task === task) ?? null;
}

/** Resolves a model setting for a task; '' gives the bundled model (or null). */
export async function resolveModelSpec(spec: string, task: ModelTask): Promise<LoadedManifest | null> {
  const s = spec.trim();
  if (s === '') return bundledModel(task);
  let manifest: LoadedManifest;
  if (/\.json$/i.test(s)) {
    manifest = await loadManifest(resolveUserPath(s));
  } else if (/\.onnx$/i.test(s)) {
    // With its manifest beside it, that manifest; without, the graph is recognised as one of the
    // well-known expression models (src/models/recognise.ts) and a manifest written for it.
    manifest = await manifestForOnnx(resolveUserPath(s));
  } else if (s.includes('/') || s.includes(path.sep) || s.startsWith('.')) {
    const found = (await selectModels([resolveUserPath(s)], [task])).get(task);
    if (found === undefined) throw new ModelError(`${s}: no ${task} model manifest in this folder`);
    return found;
  } else {
    const found = (await listManifests(DEFAULT_MODELS_DIR)).find((m) => m.id === s);
    if (found === undefined) throw new ModelError(`no bundled model with id "${s}" (give a manifest, an ONNX file or a folder)`);
    manifest = found;
  }
  if (manifest.task !== task) throw new ModelError(`${manifest.label}: is a ${manifest.task} model; this node needs a ${task} model`);
  return manifest;
}
