/**
 * Model config node: one model (a manifest, an ONNX file with its manifest beside it, a folder of
 * manifests or a bundled model's id), the execution providers to try and the threads per model.
 * Like Node-RED's MQTT broker node it owns a shared resource: the onnxruntime session opens when
 * the first node that uses this config starts, every node using it shares that one session
 * (src/models/session.ts counts the holders), and it closes when the last one stops. An acoustic
 * node asks for the manifest alone (openSession: false) and runs the model in a worker thread of
 * its own, off Node-RED's main thread.
 */
import { DEFAULT_MODELS_DIR, listManifests, type LoadedManifest, type ModelTask } from '../../src/models/manifest';
import { acquireSession, type ModelSession, type SessionOptions } from '../../src/models/session';
import { toError } from '../common/errors';
import { onClose } from '../common/handlers';
import { parseSessionOptions, type CerModelsNode, type ModelUse } from '../common/config';
import { resolveModelSpec } from '../common/models';
import { translator } from '../common/i18n';
import type { Node, NodeAPI, NodeDef } from '../common/red';

interface CerModelsDef extends NodeDef {
  /** Manifest (.json), ONNX file, folder, or bundled model id. */
  model: string;
  /** Execution providers to try in order, comma-separated: cpu, cuda, … */
  provider: string;
  /** Threads per model (intra-op); 0 = onnxruntime's default. */
  threads: string | number;
}

export = function register(RED: NodeAPI): void {
  function CerModels(this: CerModelsNode, def: CerModelsDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const t = translator(RED, 'cer-models');
    const model = typeof def.model === 'string' ? def.model : '';
    let sessionOptions: SessionOptions;
    let optionsError: Error | null = null;
    try {
      sessionOptions = parseSessionOptions(def.provider, def.threads);
    } catch (err) {
      optionsError = toError(err);
      sessionOptions = { executionProviders: ['cpu'], intraOpNumThreads: 1 };
    }
    const users = new Set<string>();
    const manifests = new Map<ModelTask, Promise<LoadedManifest | null>>();
    /** The config's own hold on each session it opened, by manifest path. */
    const holds = new Map<string, Promise<ModelSession>>();
    let closed = false;

    const releaseHolds = async (): Promise<void> => {
      const all = [...holds.values()];
      holds.clear();
      await Promise.all(all.map((h) => h.then((s) => s.release(), () => undefined)));
    };

    Object.defineProperty(node, 'model', { value: model });
    Object.defineProperty(node, 'sessionOptions', { value: sessionOptions });
    Object.defineProperty(node, 'users', { get: () => users.size });

    node.use = async (user: Node, task: ModelTask, options: { readonly openSession?: boolean } = {}): Promise<ModelUse> => {
      if (optionsError !== null) throw optionsError;
      if (closed) throw new Error(t('errors.stopped'));
      users.add(user.id);
      let manifest = manifests.get(task);
      if (manifest === undefined) {
        manifest = resolveModelSpec(model, task);
        manifests.set(task, manifest);
        manifest.catch(() => manifests.delete(task));
      }
      const m = await manifest;
      if (m === null || options.openSession === false) return { manifest: m, provider: null, session: sessionOptions };
      let hold = holds.get(m.modelPath);
      if (hold === undefined) {
        hold = acquireSession(m, sessionOptions);
        holds.set(m.modelPath, hold);
        hold.catch(() => holds.delete(m.modelPath));
      }
      const session = await hold;
      return { manifest: m, provider: session.provider, session: sessionOptions };
    };

    node.unuse = async (user: Node): Promise<void> => {
      users.delete(user.id);
      if (users.size === 0) await releaseHolds();
    };

    onClose(node, async () => {
      closed = true;
      users.clear();
      await releaseHolds();
    });
  }

  RED.nodes.registerType('cer-models', CerModels);

  // The editor lists the bundled models to pick from.
  RED.httpAdmin.get('/cer-models/bundled', RED.auth.needsPermission('cer-models.read'), (_req, res) => {
    listManifests(DEFAULT_MODELS_DIR).then(
      (list) => res.json(list.map((m) => ({ id: m.id, task: m.task, description: m.description, licence: m.licence }))),
      (err: unknown) => res.status(500).json({ error: toError(err).message }),
    );
  });
};
