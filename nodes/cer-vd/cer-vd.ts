/**
 * Dynamic visual model (VD): VS messages in, VD's 7 probabilities out. With a sequence model
 * (a dynamic-visual manifest in the model config) it runs the model on the last 10 VS feature
 * vectors; without one it is src/stages/vd.ts's temporal smoothing (the mean of the last 10 VS
 * outputs sampled at 5 per second), as `cer analyze` does. Per-stream state is the same
 * VisualStream logic as the pipeline's, dropped when the stream ends.
 */
import { acquireSession, type ModelSession } from '../../src/models/session';
import type { ProbsPayload } from '../../src/contract/messages';
import { createVDStage, TEMPORAL_SMOOTHING_VD_ID } from '../../src/stages/vd';
import { StreamVisualVotes } from '../../src/stages/visual-stream';
import type { VSOutput } from '../../src/stages/vs';
import { ModelNode } from '../common/model-node';
import { asVsProbs } from '../common/payloads';
import type { Node, NodeAPI, NodeDef } from '../common/red';

interface CerVdDef extends NodeDef {
  /** Model config node id (a dynamic-visual sequence model); empty: temporal smoothing. */
  model: string;
  /** Reproduce the reference's quirks (integer fps, uniform 1/7 before the first update, repeats). */
  referenceCompat: boolean;
}

export = function register(RED: NodeAPI): void {
  function CerVd(this: Node, def: CerVdDef): void {
    RED.nodes.createNode(this, def);
    const m = new ModelNode<ModelSession | null, StreamVisualVotes>(RED, this, 'cer-vd', def.model);
    const { t, status } = m;
    const compat = def.referenceCompat === true;

    m.load({
      // Without a model config there is nothing to load: temporal smoothing.
      loading: def.model ? t('status.loading') : null,
      open: async () => {
        const use = await m.use('dynamic-visual');
        return use === null || use.manifest === null ? null : acquireSession(use.manifest, use.session);
      },
      ready: (s) => status.ready(s === null ? t('status.readySmoothing') : t('status.ready', { model: s.manifest.id, provider: s.provider })),
      release: async (s) => s?.release(),
    });

    m.handle({
      modality: 'vd',
      input: async (msg, send) => {
        const p = asVsProbs(msg.payload);
        const session = await m.model;
        if (session !== null && p.face !== null && !Array.isArray(p.features)) {
          throw new Error(t('errors.noFeatures', { model: session.manifest.label }));
        }
        const vs: VSOutput | null =
          p.face !== null && p.probs !== null
            ? { probs: Float64Array.from(p.probs), ...(Array.isArray(p.features) ? { features: Float32Array.from(p.features) } : {}) }
            : null;
        const votes = await m.streams.get(p.stream, () => new StreamVisualVotes(() => createVDStage(session, compat), compat)).step(p, vs);
        const { features: _features, ...rest } = p;
        const result: ProbsPayload = {
          ...rest,
          modality: 'vd',
          probs: votes.vd ? Array.from(votes.vd) : null,
          model: session === null ? TEMPORAL_SMOOTHING_VD_ID : session.manifest.id,
        };
        send({ ...msg, payload: result });
        m.busy((fps) => (session === null ? t('status.busySmoothing', { fps }) : t('status.busy', { provider: session.provider, fps })));
      },
    });
  }

  RED.nodes.registerType('cer-vd', CerVd);
};
