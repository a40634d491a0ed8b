/**
 * Acoustic model (A): audio chunks from the media splitter in (16 kHz mono, `start`,
 * `sampleIndex`, `samples`), A's votes out, one per video frame (`type: "probs"`, modality "a",
 * shared by every face track of the frame). Per stream the same pieces as `cer analyze`'s audio
 * track (src/pipeline/audio-track.ts): src/stages/acoustic.ts's stage (4 s windows every 0.5 s,
 * windows → frames) and, when gating, Silero VAD (src/stages/vad.ts) so that frames outside
 * speech get no vote. A frame's vote goes out as soon as it is final (A lags the audio by its
 * 4 s window); the rest when the stream ends.
 *
 * Without a model config node it runs the package's own acoustic model (trained on EMO-DB by
 * tools/train-acoustic), as `cer analyze` does. Switched off (`useModel` false, the node's
 * equivalent of `--no-acoustic`) or where no acoustic model can be found, its status says so, it
 * sends no votes (A is then missing for the fusion, as in `cer analyze`, where A is null) and tells
 * the fusion so at once (an end of reason `no-votes`), so a fusion that includes A does not wait.
 */
import type { AudioChunk } from '../../src/media/audio';
import type { FrameRate } from '../../src/media/types';
import type { SessionOptions } from '../../src/models/session';
import type { AudioPayload, EndPayload, ProbsPayload } from '../../src/contract/messages';
import {
  AcousticStage,
  DisabledAcousticStage,
  openAcousticModel,
  type AcousticModel,
  type AcousticSource,
  type AcousticStageOptions,
} from '../../src/stages/acoustic';
import { DEFAULT_VAD_MANIFEST, FrameSpeech, SileroVAD } from '../../src/stages/vad';
import { ModelNode } from '../common/model-node';
import { bundledModel } from '../common/models';
import { asAudio } from '../common/payloads';
import type { Node, NodeAPI, NodeDef, NodeMessage, SendFunction } from '../common/red';
import { DEFAULT_SESSION_OPTIONS } from '../../src/defaults';

interface CerAcousticDef extends NodeDef {
  /** Model config node id (an acoustic model); empty: the bundled model. */
  model: string;
  /** Run the model; false: no votes (`--no-acoustic`). Absent (flows from before the switch): on. */
  useModel?: boolean;
  /** Frames outside speech (Silero VAD) get no vote; on by default, off in reference compatibility. */
  gate: boolean;
  /** The reference's integer fps and Python rounding for windows → frames, and no gating. */
  referenceCompat: boolean;
}

interface StreamAudio {
  readonly stage: AcousticSource;
  readonly vad: SileroVAD | null;
  readonly speech: FrameSpeech | null;
  readonly rate: FrameRate;
  readonly fps: number;
  /** Frames whose vote has gone out. */
  emitted: number;
  /** The message of the stream's first chunk, whose properties its votes carry. */
  readonly base: NodeMessage;
}

/** The acoustic model, opened once for the node, and the session options its streams' VAD uses. */
interface NodeModel {
  readonly model: AcousticModel;
  readonly session: SessionOptions;
}

export = function register(RED: NodeAPI): void {
  function CerAcoustic(this: Node, def: CerAcousticDef): void {
    RED.nodes.createNode(this, def);
    const m = new ModelNode<NodeModel | null, Promise<StreamAudio>>(RED, this, 'cer-acoustic', def.model);
    const { t, status } = m;
    const compat = def.referenceCompat === true;
    const gate = (def.gate ?? true) && !compat;
    const useModel = def.useModel !== false;
    let modelName = t(useModel ? 'status.noModel' : 'status.off');

    // The model opens once for the node, in a worker thread as in `cer analyze`: a window of the
    // paper's wav2vec2 takes a few hundred ms, which would stall Node-RED's event loop (editor,
    // dashboard, every other node) on its main thread. Every stream's stage shares it.
    m.load({
      loading: useModel ? t('status.loading') : null,
      open: async () => {
        if (!useModel) return null;
        const use = await m.use('acoustic', { openSession: false });
        const manifest = use !== null ? use.manifest : await bundledModel('acoustic');
        if (manifest === null) return null;
        const session = use?.session ?? DEFAULT_SESSION_OPTIONS;
        const model = await openAcousticModel(manifest, { ...session, inWorker: true });
        modelName = t('status.model', { model: manifest.id, provider: model.provider });
        return { model, session };
      },
      ready: (model) => (model === null ? status.idle(modelName) : status.ready(modelName)),
      release: async (model) => model?.model.release(),
    });

    /** Streams told "no votes" already (no model). */
    const silent = new Set<string>();

    const open = async (p: AudioPayload, msg: NodeMessage): Promise<StreamAudio> => {
      const model = await m.model;
      const rate: FrameRate = p.frameRate ?? { num: p.fps ?? 25, den: 1 };
      const speech = model !== null && gate ? new FrameSpeech(rate) : null;
      const vad = speech !== null && model !== null ? await SileroVAD.load(DEFAULT_VAD_MANIFEST, model.session) : null;
      try {
        const options: AcousticStageOptions = { fps: rate, referenceCompat: compat, ...(speech ? speech.gating() : {}) };
        const stage: AcousticSource = model !== null ? AcousticStage.fromModel(model.model, options) : new DisabledAcousticStage();
        return { stage, vad, speech, rate, fps: rate.num / rate.den, emitted: 0, base: msg };
      } catch (err) {
        await vad?.release();
        throw err;
      }
    };

    const close = async (s: StreamAudio): Promise<void> => {
      await Promise.all([s.stage.release(), s.vad?.release()]);
    };

    /** Sends the votes of every frame that is final now (and, at the end, up to `frames`). */
    const emitFinal = (s: StreamAudio, p: { stream: string; source: string }, send: SendFunction, upTo: number): void => {
      const ready = Math.min(upTo, s.stage.finalFrames, s.speech?.finalFrames ?? Number.POSITIVE_INFINITY);
      const out: NodeMessage[] = [];
      for (let f = s.emitted; f < ready; f++) {
        const a = s.stage.frame(f);
        const vote: ProbsPayload = { type: 'probs', modality: 'a', stream: p.stream, source: p.source, frame: f, t: f / s.fps, fps: s.fps, face: null, probs: a ? Array.from(a) : null, model: s.stage.status };
        out.push({ ...s.base, payload: vote });
      }
      s.emitted = Math.max(s.emitted, ready);
      if (out.length > 0) {
        send([out]);
        m.busy((fps) => t('status.busy', { model: modelName, fps }), out.length);
      }
    };

    m.handle({
      modality: 'a',
      ended: async (end, pending, send) => {
        silent.delete(end.stream);
        if (pending === undefined) return;
        const s = await pending;
        try {
          if (s.vad && s.speech) s.speech.addWindows(await s.vad.flush());
          s.speech?.end();
          await s.stage.end();
          if (s.stage.enabled) emitFinal(s, end, send, end.frames);
        } finally {
          await close(s);
        }
      },
      input: async (msg, send) => {
        const p = asAudio(msg.payload);
        const model = await m.model;
        if (model === null) {
          // No model, no votes: said once per stream, at once.
          if (!silent.has(p.stream)) {
            silent.add(p.stream);
            const none: EndPayload = { type: 'end', stream: p.stream, source: p.source, reason: 'no-votes', frames: 0, seconds: 0, modality: 'a' };
            send({ ...msg, payload: none });
          }
          return;
        }
        const s = await m.streams.get(p.stream, () => open(p, msg));
        const chunk: AudioChunk = { start: p.start, sampleIndex: p.sampleIndex, samples: p.samples };
        if (s.vad && s.speech) s.speech.addWindows(await s.vad.process(chunk.samples));
        await s.stage.push(chunk);
        emitFinal(s, p, send, Number.POSITIVE_INFINITY);
      },
      closeStream: (pending) => pending.then(close, () => undefined),
    });
  }

  RED.nodes.registerType('cer-acoustic', CerAcoustic);
};
