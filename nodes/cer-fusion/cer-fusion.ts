/**
 * Fusion node: an adapter of src/pipeline/stream-join.ts (the per-stream join of the VS, VD and A votes, its
 * latency bound, end of stream and missing-modality report) and src/core/fusion-settings.ts (the editor settings
 * and msg.fusion, checked as `cer fuse --fusion` checks them); votes and frame numbers as src/io/votes.ts checks them.
 */
import { FUSION_PRESETS, fusionFromMessage, fusionFromSettings, modelsOfFusion, resolveFusion, resolveFusionAt, type FusionSettings, type FusionSpec } from '../../src/core';
import { InputError } from '../../src/io/errors';
import { describe } from '../../src/core/describe';
import { checkFrameNumber, checkVote } from '../../src/io/votes';
import { MODALITIES, isEndPayload, type FaceInfo, type FusedPayload, type Modality, type ProbsPayload, type Votes } from '../../src/contract/messages';
import { joinTimings, StreamJoin, type JoinedFrame } from '../../src/pipeline/stream-join';
import { rethrowPlain, toError } from '../common/errors';
import { onClose, onOrderedInput } from '../common/handlers';
import { fpsText, RateMeter, StatusDot } from '../common/status';
import { translator } from '../common/i18n';
import type { Node, NodeAPI, NodeDef, NodeMessage, SendFunction } from '../common/red';

/** maxWait: the latency bound (ms), 0: wait for every modality; missingAfter: the missing report's delay (s), 0: never. */
interface CerFusionDef extends NodeDef, FusionSettings {
  maxWait: string | number;
  missingAfter?: string | number;
}

/** What a vote carries to its fused frame: its message, and the face and source it names. */
type VoteContext = { readonly msg: NodeMessage; readonly face: FaceInfo | null; readonly source: string };

const isModality = (x: unknown): x is Modality => (MODALITIES as readonly unknown[]).includes(x);

export = function register(RED: NodeAPI): void {
  function CerFusion(this: Node, def: CerFusionDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusDot(node);
    const t = translator(RED, 'cer-fusion');
    const meter = new RateMeter();
    /** A fusion setting for a status: its strategy, and its preset when it has one. */
    const named = (strategy: string, preset: string | undefined): string => `${strategy}${preset ? ` · ${preset}` : ''}`;
    const { maxWaitMs: maxWait, missingAfterMs } = joinTimings(def.maxWait, def.missingAfter);
    const join = new StreamJoin<VoteContext>({
      maxWaitMs: maxWait,
      missingAfterMs,
      onRenormalised: (stream, modality, frame, sum) => node.warn(t('errors.renormalised', { modality, frame, stream: describe(stream), sum: Number(sum.toPrecision(6)) })),
      onMissing: (r) => {
        const then = maxWait > 0 ? t('errors.missingThenMaxWait', { maxWait }) : t('errors.missingThenWait');
        const heard = r.heard.length > 0 ? r.heard.join(', ') : '-';
        const text = t('errors.missingModality', { missing: r.missing.join(', '), stream: describe(r.stream), seconds: missingAfterMs / 1000, heard, waiting: r.waiting, then });
        status.now({ fill: 'yellow', shape: 'ring', text: t('status.missing', { missing: r.missing.join(', ') }) });
        node.error(text, r.oldest !== null ? { ...r.oldest.msg } : { payload: { type: 'missing', stream: r.stream, missing: r.missing } });
      },
    });
    let spec: FusionSpec | null = null;
    /** The models of the editor settings, then of the last msg.fusion: for a msg.fusion that does not name its own. */
    let models: readonly string[] = [];
    try {
      const fromSettings = fusionFromSettings(def);
      models = fromSettings.models;
      const fusion = resolveFusion(fromSettings.spec, fromSettings.models);
      spec = fromSettings.spec;
      join.setFusion(fusion);
      for (const w of fusion.warnings) node.warn(w);
      status.ready(t('status.ready', { fusion: named(spec.strategy, spec.preset), models: fromSettings.models.join('+') }));
    } catch (err) {
      status.error(toError(err).message);
    }
    Object.defineProperty(node, 'cerStreams', { get: () => join.size });
    const sendFused = (f: JoinedFrame<VoteContext>, send: (msg: NodeMessage) => void): void => {
      const votes: Votes = { vs: null, vd: null, a: null, ...Object.fromEntries(f.fusion.models.map((m, i) => [m, f.probs[i]])) };
      const payload: FusedPayload = { type: 'fused', stream: f.stream, source: f.first.source, frame: f.frame, t: f.t, track: f.track, face: f.first.face, votes, fused: f.fused, strategy: f.fusion.strategy, preset: spec?.preset ?? null, late: f.late };
      send({ ...f.base.msg, payload });
      meter.tick();
      const [fusion, missing] = [named(f.fusion.strategy, spec?.preset), join.missing?.join(', ')];
      const busy = (): string => t('status.busy', { fusion, fps: fpsText(meter.perSecond) });
      if (missing === undefined) status.busy(busy);
      else status.soon(() => ({ fill: 'yellow', shape: 'ring', text: `${busy()} · ${t('status.missing', { missing })}` }));
    };
    // Frames that go after the latency bound are sent as the node's own messages.
    join.start((f) => sendFused(f, (m) => node.send(m)));

    onOrderedInput(node, status, (msg, send) => handle(msg, send).catch(rethrowPlain));

    async function handle(msg: NodeMessage, send: SendFunction): Promise<void> {
      const sink = (f: JoinedFrame<VoteContext>): void => sendFused(f, send);
      const payload = msg.payload;
      // A new fusion at run time: msg.fusion, or the fit-weights node's output.
      const given = msg.fusion ?? ((payload as { type?: unknown } | null)?.type === 'fusion' ? payload : undefined);
      if (given !== undefined) {
        const where = msg.fusion !== undefined ? 'msg.fusion' : 'msg.payload';
        const next = fusionFromMessage(given, where);
        const resolved = resolveFusionAt(next, modelsOfFusion(next, models), where);
        for (const w of resolved.warnings) node.warn(`${where}: ${w}`);
        join.setFusion(resolved);
        spec = next;
        models = resolved.models;
        status.ready(t('status.readyFromMsg', { fusion: named(next.strategy, next.preset), models: resolved.models.join('+') }));
        return;
      }
      if (join.fusion === null) throw new Error(t('errors.notConfigured'));
      if (isEndPayload(payload)) {
        const closed = join.end(payload.stream, isModality(payload.modality) ? payload.modality : undefined, sink);
        if (closed === true) send({ ...msg, payload: { ...payload, reason: payload.reason === 'no-votes' ? 'done' : payload.reason, modality: 'fused' } });
        return;
      }

      // One vote: a probs payload, or a plain { topic: "vs" | "vd" | "a", payload: [7] | null }.
      let modality: Modality, stream: string, frame: number, rawProbs: unknown, probsField: string;
      let p: Partial<ProbsPayload> = {};
      if (typeof payload === 'object' && payload !== null && (payload as { type?: unknown }).type === 'probs') {
        p = payload as ProbsPayload;
        if (!isModality(p.modality)) throw new InputError(`msg.payload.modality: ${t('errors.unknownModality', { modality: describe(p.modality) })}`);
        if (typeof p.stream !== 'string') throw new InputError(`msg.payload.stream: ${t('errors.noStream', { got: describe(p.stream) })}`);
        modality = p.modality;
        stream = p.stream;
        frame = checkFrameNumber(p.frame, 'msg.payload.frame');
        rawProbs = p.probs ?? null;
        probsField = 'msg.payload.probs';
      } else if (isModality(msg.topic) && (payload === null || Array.isArray(payload))) {
        modality = msg.topic;
        if (msg.stream !== undefined && typeof msg.stream !== 'string') throw new InputError(`msg.stream: ${t('errors.noStream', { got: describe(msg.stream) })}`);
        stream = typeof msg.stream === 'string' ? msg.stream : 'default';
        frame = msg.frame !== undefined ? checkFrameNumber(msg.frame, 'msg.frame') : join.nextFrame(stream, modality);
        rawProbs = payload;
        probsField = 'msg.payload';
      } else {
        throw new InputError(t('errors.notVote'));
      }
      // Checked as `cer fuse` checks a vote: 7 probabilities in [0, 1] summing to 1 (else renormalised).
      const vote = rawProbs === null ? null : checkVote(rawProbs, `${modality} vote for frame ${frame} (${probsField})`);
      const context: VoteContext = { msg, face: p.face ?? null, source: typeof p.source === 'string' ? p.source : stream };
      const renormalisedSum = vote?.renormalised ? vote.sum : undefined;
      join.vote({ stream, modality, frame, probs: vote?.probs ?? null, t: typeof p.t === 'number' ? p.t : undefined, track: p.face ? p.face.track : null, context, renormalisedSum }, sink, probsField === 'msg.payload');
    }

    onClose(node, async () => {
      join.stop();
      join.clear();
      status.clear();
    });
  }

  RED.nodes.registerType('cer-fusion', CerFusion);

  // The editor fills the weight table from the published presets.
  RED.httpAdmin.get('/cer-fusion/presets', RED.auth.needsPermission('cer-fusion.read'), (_req, res) => {
    res.json(FUSION_PRESETS);
  });
};
