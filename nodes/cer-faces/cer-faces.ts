/**
 * Face detector: frames in, faces out. Per stream a src/stages/faces.ts FaceStage (BlazeFace,
 * IoU tracker, target policy) as `cer analyze` runs it; per frame one message (the target face,
 * or no face) or, with target `all`, one per face. The face travels on as a crop cut with
 * cropImage, so the whole frame goes no further than this node.
 */
import { FaceStage } from '../../src/stages/faces';
import type { FacePayload } from '../../src/contract/messages';
import { cropImage } from '../../src/vision/image';
import { faceContextBox } from '../../src/vision/align';
import { isDetectorChoice, loadFaceDetector, type DetectorChoice, type FaceDetectorSource } from '../../src/vision/auto-detector';
import { isTargetPolicy, parseMinTargetScore, type TargetPolicy } from '../../src/vision/target';
import { jpegDataUrl, jpegThumbnail } from '../../src/vision/thumbnail';
import { faceRecord } from '../../src/vision/types';
import { frameConsumed } from '../common/flow-control';
import { ModelNode, warmUp, warmUpImage } from '../common/model-node';
import { asFrame } from '../common/payloads';
import type { Node, NodeAPI, NodeDef, NodeMessage } from '../common/red';
import { DEFAULT_DETECTOR, DEFAULT_MIN_TARGET_SCORE, DEFAULT_SESSION_OPTIONS, DEFAULT_TARGET_POLICY } from '../../src/defaults';

interface CerFacesDef extends NodeDef {
  /** Model config node id (a face-detection model); empty: the bundled detector below. */
  model: string;
  /** `auto` (a new node's) or one BlazeFace variant; absent or unknown: auto. */
  detector: DetectorChoice;
  target: TargetPolicy;
  /**
   * Targets largest and longest-seen: a face scoring below this never becomes the target (0 to 1);
   * empty or absent (a flow from before the setting): 0.6, as `cer analyze --min-target-score`.
   */
  minTargetScore?: number | string;
  /** The reference's per-frame target choice (`cer analyze --reference-compat`); absent: off. */
  referenceCompat?: boolean;
  /** Skip detection: the whole frame is the face (pre-cropped face images). */
  wholeFrameFace: boolean;
  /**
   * msg.thumbnail: the face crop as a JPEG data: URL whose longest side is this many pixels; 0,
   * empty or absent (a flow from before the setting): no thumbnails. A node made in the editor
   * starts at DEFAULT_THUMBNAIL_SIZE (src/vision/thumbnail.ts).
   */
  thumbnail?: number | string;
}

/** The thumbnail size a node's setting asks for (0: none), or null for a setting that is not one. */
function thumbnailSize(setting: number | string | undefined): number | null {
  if (setting === undefined || setting === '') return 0;
  const n = Number(setting);
  return Number.isInteger(n) && n >= 0 && n <= 1024 ? n : null;
}

export = function register(RED: NodeAPI): void {
  function CerFaces(this: Node, def: CerFacesDef): void {
    RED.nodes.createNode(this, def);
    const m = new ModelNode<FaceDetectorSource | null, FaceStage>(RED, this, 'cer-faces', def.model);
    const { t: tr, status } = m;
    const policy: TargetPolicy = isTargetPolicy(def.target) ? def.target : DEFAULT_TARGET_POLICY;
    const choice: DetectorChoice = typeof def.detector === 'string' && isDetectorChoice(def.detector) ? def.detector : DEFAULT_DETECTOR;
    const thumbnail = thumbnailSize(def.thumbnail);
    let minTargetScore = DEFAULT_MIN_TARGET_SCORE;
    let badMinTargetScore = false;
    if (def.minTargetScore !== undefined && def.minTargetScore !== '') {
      try {
        minTargetScore = parseMinTargetScore(def.minTargetScore);
      } catch {
        badMinTargetScore = true;
      }
    }
    const referenceCompat = def.referenceCompat === true;

    m.load({
      loading: def.wholeFrameFace ? tr('status.wholeFrame') : tr('status.loading'),
      open: async () => {
        if (thumbnail === null) throw new Error(tr('errors.thumbnail', { value: String(def.thumbnail).slice(0, 40) }));
        if (badMinTargetScore) throw new Error(tr('errors.minTargetScore', { value: String(def.minTargetScore).slice(0, 40) }));
        if (def.wholeFrameFace) return null;
        const use = await m.use('face-detection');
        const d = await loadFaceDetector(use?.manifest ?? choice, use?.session ?? DEFAULT_SESSION_OPTIONS);
        return warmUp(d, (detector) => detector.forStream().detect(warmUpImage()));
      },
      ready: (d) => status.ready(d === null ? tr('status.readyWholeFrame') : tr('status.ready', { model: d.id, provider: d.provider })),
      release: async (d) => d?.release(),
    });

    /** The frame's credit goes back to the splitter, whatever became of the frame. */
    const consumed = (payload: unknown): void => {
      const stream = (payload as { stream?: unknown } | null)?.stream;
      if (typeof stream === 'string') frameConsumed(stream);
    };

    m.handle({
      modality: 'faces',
      skipped: (msg) => consumed(msg.payload),
      input: async (msg, send) => {
        const payload = msg.payload;
        let stream: string | null = null;
        let finished: Uint8Array | undefined;
        try {
          const frame = asFrame(payload);
          stream = frame.stream;
          const detector = await m.model;
          const stage = m.streams.get(frame.stream, () => new FaceStage(detector, policy, { fps: frame.fps, referenceCompat, minTargetScore }));
          const targets = await stage.targets(frame, frame.frame);
          const tracks = targets.map((f) => f.track);
          const { stream: s, source, frame: index, t, fps } = frame;
          const base = { type: 'face' as const, stream: s, source, frame: index, t, fps, policy, tracks };
          // A thumbnail an earlier face detector left on the message is not this face's.
          const { payload: _frame, thumbnail: _thumbnail, ...rest } = msg as NodeMessage & { thumbnail?: unknown };
          if (targets.length === 0) {
            send({ ...rest, payload: { ...base, face: null, crop: null, cropBox: null } satisfies FacePayload });
          } else {
            // A string: Node-RED's copies on fan-out share it rather than copy it; msg properties go
            // on through VS, VD, fusion and rules, so the thumbnail reaches a dashboard with the label.
            // The face box alone is cut for it, and only when thumbnails are asked for.
            const thumbnails =
              thumbnail !== null && thumbnail > 0
                ? await Promise.all(targets.map(async (face) => jpegDataUrl((await jpegThumbnail(cropImage(frame, face.box), thumbnail)).jpeg)))
                : null;
            const out: NodeMessage[] = targets.map((face, i) => {
              // VS may widen and turn its crop: the face goes on with the room around it that that needs.
              const context = faceContextBox(face, frame.width, frame.height);
              const crop = cropImage(frame, context);
              const result: FacePayload = {
                ...base,
                face: faceRecord(face),
                // A Buffer: cheap for Node-RED to copy when the output fans out (see the media splitter).
                crop: { width: crop.width, height: crop.height, data: Buffer.from(crop.data.buffer, crop.data.byteOffset, crop.data.byteLength) },
                cropBox: [context[0], context[1], context[2], context[3]],
                detection: { box: [face.box[0], face.box[1], face.box[2], face.box[3]], keypoints: face.keypoints?.map(([x, y]) => [x, y] as [number, number]) ?? null },
              };
              return thumbnails === null ? { ...rest, payload: result } : { ...rest, payload: result, thumbnail: thumbnails[i] };
            });
            send([out]);
          }
          const following = stage.faceCount;
          m.busy((rate) => tr('status.busy', { provider: detector?.provider ?? 'cpu', fps: rate, faces: tr(following === 1 ? 'status.face' : 'status.faces', { count: following }) }));
          // Only the crops go on; the frame's memory may go back to the splitter (not after a failure,
          // when the msg, frame and all, goes to Catch nodes).
          finished = frame.data;
        } finally {
          if (stream !== null) frameConsumed(stream, finished);
          else consumed(payload);
        }
      },
    });
  }

  RED.nodes.registerType('cer-faces', CerFaces);
};
