/**
 * Dynamic visual model (VD): VS messages in, VD's 7 probabilities out. With a sequence model
 * (a dynamic-visual manifest in the model config) it runs the model on the last 10 VS feature
 * vectors; without one it is src/stages/vd.ts's temporal smoothing (the mean of the last 10 VS
 * outputs sampled at 5 per second), as `cer analyze` does. Per-stream state is the same
 * VisualStream logic as the pipeline's, dropped when the stream ends.
 */
import { TEMPORAL_SMOOTHING_VD_ID } from '../../src/stages/vd';
import { acquireSession, type ModelSession } from '../../src/models/session';
import { isEndPayload, type ProbsPayload } from '../../src/nodes-api/messages';
import type { VSOutput } from '../../src/stages/vs';
import { forwardEnd, fpsText, onClose, onOrderedInput, PerStream, RateMeter, StatusDot, toError } from '../common/adapter';
import { asVsProbs } from '../common/payloads';
import { translator } from '../common/i18n';
import type { Node, NodeAPI, NodeDef } from '../common/red';
import { createVDStage, StreamVisualVotes } from '../common/visual';
import type { CerModelsNode } from '../common/config';

interface CerVdDef extends NodeDef {
  /** Model config node id (a dynamic-visual sequence model); empty: temporal smoothing. */
  model: string;
  /** Reproduce the reference's quirks (integer fps, uniform 1/7 before the first update, repeats). */
  referenceCompat: boolean;
}


export = function register(RED: NodeAPI): void {
  function CerVd(this: Node, def: CerVdDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusDot(node);
    const t = translator(RED, 'cer-vd');
    const compat = def.referenceCompat === true;
    const config = def.model ? (RED.nodes.getNode(def.model) as CerModelsNode | null) : null;
    const meter = new RateMeter();

    const loading: Promise<ModelSession | null> = (async () => {
      if (def.model && config === null) throw new Error(t('errors.noConfig'));
      if (config === null) return null;
      status.loading(t('status.loading'));
      const use = await config.use(node, 'dynamic-visual');
      return use.manifest === null ? null : acquireSession(use.manifest, use.session);
    })();
    loading.then(
      (s) => status.ready(s === null ? t('status.readySmoothing') : t('status.ready', { model: s.manifest.id, provider: s.provider })),
      (err: unknown) => status.error(toError(err).message),
    );

    const streams = new PerStream<StreamVisualVotes>();
    // Streams with state here now (for tests and the curious): 0 once every stream has ended.
    Object.defineProperty(node, 'cerStreams', { get: () => streams.size });

    onOrderedInput(node, status, async (msg, send) => {
      const payload = msg.payload;
      if (isEndPayload(payload)) {
        streams.drop(payload.stream);
        send(forwardEnd(msg, payload, 'vd'));
        return;
      }
      const p = asVsProbs(payload);
      const session = await loading;
      if (session !== null && p.face !== null && !Array.isArray(p.features)) {
        throw new Error(t('errors.noFeatures', { model: session.manifest.label }));
      }
      const vs: VSOutput | null =
        p.face !== null && p.probs !== null
          ? { probs: Float64Array.from(p.probs), ...(Array.isArray(p.features) ? { features: Float32Array.from(p.features) } : {}) }
          : null;
      const votes = await streams.get(p.stream, () => new StreamVisualVotes(() => createVDStage(session, compat), compat)).step(p, vs);
      const { features: _features, ...rest } = p;
      const result: ProbsPayload = {
        ...rest,
        modality: 'vd',
        probs: votes.vd ? Array.from(votes.vd) : null,
        model: session === null ? TEMPORAL_SMOOTHING_VD_ID : session.manifest.id,
      };
      send({ ...msg, payload: result });
      meter.tick();
      status.busy(() => session === null ? t('status.busySmoothing', { fps: fpsText(meter.perSecond) }) : t('status.busy', { provider: session.provider, fps: fpsText(meter.perSecond) }));
    });

    onClose(node, async () => {
      streams.clear();
      const session = await loading.catch(() => null);
      await session?.release();
      await config?.unuse(node);
      status.clear();
    });
  }

  RED.nodes.registerType('cer-vd', CerVd);
};
