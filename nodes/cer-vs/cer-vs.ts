/**
 * Static visual model (VS): a face crop in, the 7 basic-emotion probabilities out. The model runs
 * through src/stages/vs.ts StaticVisualStage on the face detector's crop (VS cuts its aligned crop
 * from it exactly as the pipeline cuts it from the frame, so the numbers are the same), and the vote per frame comes from the same
 * per-stream logic as `cer analyze` (src/stages/visual-stream.ts).
 */
import { isEndPayload, type FacePayload, type ProbsPayload } from '../../src/nodes-api/messages';
import { TemporalSmoothingVD } from '../../src/stages/vd';
import { StaticVisualStage, type VSOutput } from '../../src/stages/vs';
import { forwardEnd, fpsText, onClose, onOrderedInput, PerStream, RateMeter, StatusDot, toError } from '../common/adapter';
import { bundledModel, DEFAULT_SESSION_OPTIONS } from '../common/models';
import { translator } from '../common/i18n';
import { asFace } from '../common/payloads';
import type { Node, NodeAPI, NodeDef } from '../common/red';
import { StreamVisualVotes } from '../common/visual';
import type { CerModelsNode } from '../common/config';

interface CerVsDef extends NodeDef {
  /** Model config node id (a static-visual model); empty: the bundled model. */
  model: string;
  /** Reproduce the reference: on a frame without a face repeat the last VS output; its straight crop of the box. */
  referenceCompat: boolean;
  /** Turn the face upright by its eye line before VS; absent (a flow from before the setting): DEFAULT_VS_ALIGN. */
  align?: boolean;
  /** Average VS over the crop and its mirror image; absent: DEFAULT_VS_FLIP. */
  flip?: boolean;
}


/**
 * VS on the face detector's crop: the detector's box and keypoints in frame pixels, the crop at its
 * cropBox, so that the crop VS cuts is the one `cer analyze` cuts from the frame. A payload without
 * them: the whole crop is the face.
 */
function runOnCrop(vs: StaticVisualStage, f: FacePayload): Promise<VSOutput> {
  const crop = f.crop as NonNullable<FacePayload['crop']>;
  if (f.detection && f.cropBox) {
    const [x1, y1, x2, y2] = f.detection.box;
    return vs.run(crop, [x1, y1, x2, y2], { keypoints: f.detection.keypoints, origin: [f.cropBox[0], f.cropBox[1]] });
  }
  return vs.run(crop, [0, 0, crop.width, crop.height]);
}

export = function register(RED: NodeAPI): void {
  function CerVs(this: Node, def: CerVsDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusDot(node);
    const t = translator(RED, 'cer-vs');
    const compat = def.referenceCompat === true;
    const config = def.model ? (RED.nodes.getNode(def.model) as CerModelsNode | null) : null;
    const meter = new RateMeter();

    status.loading(t('status.loading'));
    const loading: Promise<StaticVisualStage> = (async () => {
      if (def.model && config === null) throw new Error(t('errors.noConfig'));
      const use = config !== null ? await config.use(node, 'static-visual') : null;
      const manifest = use?.manifest ?? (await bundledModel('static-visual'));
      if (manifest === null) throw new Error(t('errors.noModel'));
      const crop = { referenceCompat: compat, ...(typeof def.align === 'boolean' ? { align: def.align } : {}), ...(typeof def.flip === 'boolean' ? { flip: def.flip } : {}) };
      const vs = await StaticVisualStage.load(manifest, { ...(use?.session ?? DEFAULT_SESSION_OPTIONS), crop });
      // The first run is slow (onnxruntime allocates): done now, as Pipeline.load does.
      await vs.run({ width: 64, height: 64, data: new Uint8Array(64 * 64 * 3) }, [0, 0, 64, 64]);
      return vs;
    })();
    loading.then(
      (vs) => status.ready(t('status.ready', { model: vs.id, provider: vs.provider })),
      (err: unknown) => status.error(toError(err).message),
    );

    const streams = new PerStream<StreamVisualVotes>();
    // Streams with state here now (for tests and the curious): 0 once every stream has ended.
    Object.defineProperty(node, 'cerStreams', { get: () => streams.size });

    onOrderedInput(node, status, async (msg, send) => {
      const payload = msg.payload;
      if (isEndPayload(payload)) {
        streams.drop(payload.stream);
        send(forwardEnd(msg, payload, 'vs'));
        return;
      }
      const f = asFace(payload);
      const vs = await loading;
      const out = f.face !== null && f.crop !== null ? await runOnCrop(vs, f) : null;
      const votes = await streams.get(f.stream, () => new StreamVisualVotes(() => new TemporalSmoothingVD({ referenceCompat: compat }), compat)).step(f, out);
      const { crop: _crop, cropBox: _box, detection: _detection, type: _type, ...ref } = f;
      const result: ProbsPayload = {
        ...ref,
        type: 'probs',
        modality: 'vs',
        probs: votes.vs ? Array.from(votes.vs) : null,
        ...(out?.features !== undefined ? { features: Array.from(out.features) } : {}),
        model: vs.id,
      };
      send({ ...msg, payload: result });
      meter.tick();
      status.busy(() => t('status.busy', { model: vs.id, provider: vs.provider, fps: fpsText(meter.perSecond) }));
    });

    onClose(node, async () => {
      streams.clear();
      const vs = await loading.catch(() => null);
      await vs?.release();
      await config?.unuse(node);
      status.clear();
    });
  }

  RED.nodes.registerType('cer-vs', CerVs);
};
