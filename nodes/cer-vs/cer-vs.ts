/**
 * Static visual model (VS): a face crop in, the 7 basic-emotion probabilities out. The model runs
 * through src/stages/vs.ts StaticVisualStage on the face detector's crop (VS cuts its aligned crop
 * from it exactly as the pipeline cuts it from the frame, so the numbers are the same), and the vote per frame comes from the same
 * per-stream logic as `cer analyze` (src/stages/visual-stream.ts).
 */
import type { FacePayload, ProbsPayload } from '../../src/contract/messages';
import { StreamVisualVotes } from '../../src/stages/visual-stream';
import { TemporalSmoothingVD } from '../../src/stages/vd';
import { StaticVisualStage, type VSOutput } from '../../src/stages/vs';
import { ModelNode, warmUp, warmUpImage } from '../common/model-node';
import { bundledModel } from '../common/models';
import { asFace } from '../common/payloads';
import type { Node, NodeAPI, NodeDef } from '../common/red';
import { DEFAULT_SESSION_OPTIONS } from '../../src/defaults';

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
    const m = new ModelNode<StaticVisualStage, StreamVisualVotes>(RED, this, 'cer-vs', def.model);
    const { t, status } = m;
    const compat = def.referenceCompat === true;

    m.load({
      loading: t('status.loading'),
      open: async () => {
        const use = await m.use('static-visual');
        const manifest = use?.manifest ?? (await bundledModel('static-visual'));
        if (manifest === null) throw new Error(t('errors.noModel'));
        const crop = { referenceCompat: compat, ...(typeof def.align === 'boolean' ? { align: def.align } : {}), ...(typeof def.flip === 'boolean' ? { flip: def.flip } : {}) };
        const vs = await StaticVisualStage.load(manifest, { ...(use?.session ?? DEFAULT_SESSION_OPTIONS), crop });
        return warmUp(vs, (v) => v.run(warmUpImage(), [0, 0, 64, 64]));
      },
      ready: (vs) => status.ready(t('status.ready', { model: vs.id, provider: vs.provider })),
      release: (vs) => vs.release(),
    });

    m.handle({
      modality: 'vs',
      input: async (msg, send) => {
        const f = asFace(msg.payload);
        const vs = await m.model;
        const out = f.face !== null && f.crop !== null ? await runOnCrop(vs, f) : null;
        const votes = await m.streams.get(f.stream, () => new StreamVisualVotes(() => new TemporalSmoothingVD({ referenceCompat: compat }), compat)).step(f, out);
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
        m.busy((fps) => t('status.busy', { model: vs.id, provider: vs.provider, fps }));
      },
    });
  }

  RED.nodes.registerType('cer-vs', CerVs);
};
