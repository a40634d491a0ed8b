/**
 * Fusion: joins the VS, VD (and A) votes of one stream, frame and track and fuses them with
 * src/core/fusion.ts (resolveFusion, fuseFrameInto), as `cer analyze` does. A modality with no
 * vote for a frame (null) is missing: its weight goes to the others, class by class.
 *
 * The join: a frame's entry waits until every modality of the fusion has sent its message for
 * that frame (VS and VD per track; A per frame, for every track of it). For live streams a
 * latency bound (ms) lets an entry go with the modalities that have arrived; those that have not
 * count as missing and are listed in `late`. When every modality has ended the stream, what is
 * left goes out the same way and the stream's state is dropped.
 *
 * Every vote and frame number is checked as `cer fuse` checks them (src/io/votes.ts); msg.fusion
 * and the node's own weights as `cer fuse --fusion` (parseFusionSpec, resolveFusion). A modality
 * of the fusion from which nothing has come for a stream `missingAfter` seconds (default 10) after
 * the stream's first vote — and, where the votes carry media times, once the votes span that much
 * media time — is reported once per stream: a warning in the status and one error to a Catch node.
 * Its frames keep waiting (or go after maxWait).
 */
import { FUSION_PRESETS, fuseFrameInto, NUM_BASIC, PRESET_NAMES, resolveFusion, type Fusion, type FusionSpec } from '../../src/core';
import { InputError, oneLine } from '../../src/io/errors';
import { parseFusionSpec } from '../../src/io/fuse-input';
import { checkFrameNumber, checkVote, describe } from '../../src/io/votes';
import { MODALITIES, isEndPayload, type FaceInfo, type FusedPayload, type Modality, type ProbsPayload, type Votes } from '../../src/nodes-api/messages';
import { fusionFromDef, type FusionSettings } from '../common/fusion-config';
import { toError } from '../common/errors';
import { onClose, onOrderedInput } from '../common/handlers';
import { fpsText, RateMeter, StatusDot } from '../common/status';
import { PerStream } from '../common/streams';
import { translator, type Translate } from '../common/i18n';
import type { Node, NodeAPI, NodeDef, NodeMessage, SendFunction } from '../common/red';

interface CerFusionDef extends NodeDef, FusionSettings {
  /** Latency bound in ms for live streams; 0: wait for every modality. */
  maxWait: string | number;
  /** Seconds after a stream's first vote when a modality not heard from is reported; 0: never. */
  missingAfter?: string | number;
}

/** The default of `missingAfter`, in seconds. */
const DEFAULT_MISSING_AFTER_S = 10;

interface Entry {
  readonly frame: number;
  readonly t: number;
  readonly track: number | null;
  face: FaceInfo | null;
  readonly votes: Partial<Record<Modality, number[] | null>>;
  readonly since: number;
  base: NodeMessage;
  source: string;
}

interface StreamJoin {
  readonly entries: Map<string, Entry>;
  /** A's vote per frame (A is per stream, shared by every track of the frame). */
  readonly aByFrame: Map<number, number[] | null>;
  readonly ended: Set<Modality>;
  /** Frame counters for plain messages ({topic: "vs", payload: [7]}) without a frame number. */
  readonly counters: Partial<Record<Modality, number>>;
  /** When the stream's first vote came (ms), and the modalities heard from since (a vote or an end). */
  readonly firstSeen: number;
  readonly heard: Set<Modality>;
  /** The earliest and latest media time (t, s) of the stream's votes; Infinity/-Infinity before any. */
  tMin: number;
  tMax: number;
  /** The modalities reported missing (once per stream), and those warned of for renormalised votes. */
  missingReported: boolean;
  readonly renormalisedWarned: Set<Modality>;
}

const A_FRAMES_KEPT = 2000;
const CLOSED_KEPT = 1000;

/** A fusion spec given at run time (msg.fusion, or a fit-weights payload), checked as `cer fuse --fusion` checks one. */
function specFromMessage(value: unknown, where: string, t: Translate): FusionSpec {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InputError(`${where}: ${t('errors.notObject')}`);
  const fields: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  delete fields.type; // a fit-weights payload's "fusion"
  if (fields.strategy === undefined) fields.strategy = 'dirichlet';
  return parseFusionSpec(fields, where);
}

function modelsOfSpec(spec: FusionSpec, current: readonly Modality[]): Modality[] {
  if (spec.preset !== undefined && (PRESET_NAMES as readonly string[]).includes(spec.preset)) return FUSION_PRESETS[spec.preset].models as Modality[];
  const rows = spec.weights?.length;
  if (rows === 2) return ['vs', 'vd'];
  if (rows === 3) return ['vs', 'vd', 'a'];
  return [...current];
}

export = function register(RED: NodeAPI): void {
  function CerFusion(this: Node, def: CerFusionDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusDot(node);
    const t = translator(RED, 'cer-fusion');
    /** A fusion setting for a status: its strategy, and its preset when it has one. */
    const named = (strategy: string, preset: string | undefined): string => `${strategy}${preset ? ` · ${preset}` : ''}`;
    const meter = new RateMeter();
    const maxWait = Math.max(0, Number(def.maxWait) || 0);
    const missingAfterRaw = def.missingAfter === undefined || def.missingAfter === '' ? DEFAULT_MISSING_AFTER_S : Number(def.missingAfter);
    const missingAfterMs = Number.isFinite(missingAfterRaw) && missingAfterRaw > 0 ? missingAfterRaw * 1000 : 0;
    /** The status suffix while some stream waits for a modality that never came. */
    let missingNote: string | null = null;
    let fusion: Fusion | null = null;
    let spec: FusionSpec | null = null;
    let models: Modality[] = [];
    try {
      const fromDef = fusionFromDef(def);
      spec = fromDef.spec;
      models = fromDef.models;
      fusion = resolveFusion(spec, models);
      for (const w of fusion.warnings) node.warn(w);
      status.ready(t('status.ready', { fusion: named(spec.strategy, spec.preset), models: models.join('+') }));
    } catch (err) {
      status.error(toError(err).message);
    }
    const out = new Float64Array(NUM_BASIC);
    const streams = new PerStream<StreamJoin>();
    Object.defineProperty(node, 'cerStreams', { get: () => streams.size });
    const makeJoin = (): StreamJoin => ({
      entries: new Map(),
      aByFrame: new Map(),
      ended: new Set(),
      counters: {},
      firstSeen: Date.now(),
      heard: new Set(),
      tMin: Infinity,
      tMax: -Infinity,
      missingReported: false,
      renormalisedWarned: new Set(),
    });
    let pendingSend: ((msg: NodeMessage) => void) | null = null;
    /** Streams this node has closed (every modality ended), so that late ends are not taken for new streams. */
    const closed = new Set<string>();

    const complete = (join: StreamJoin, e: Entry): boolean =>
      models.every((m) => (m === 'a' ? join.aByFrame.has(e.frame) || join.ended.has('a') : e.votes[m] !== undefined || join.ended.has(m)));

    const emit = (join: StreamJoin, stream: string, key: string, e: Entry, send: (msg: NodeMessage) => void): void => {
      join.entries.delete(key);
      if (fusion === null || spec === null) return;
      const late: Modality[] = [];
      const vote = (m: Modality): number[] | null => {
        const v = m === 'a' ? join.aByFrame.get(e.frame) : e.votes[m];
        if (v === undefined) {
          if (!join.ended.has(m)) late.push(m);
          return null;
        }
        return v;
      };
      const probs = models.map(vote);
      const has = fuseFrameInto(fusion, probs, out);
      const votes: Votes = { vs: null, vd: null, a: null, ...Object.fromEntries(models.map((m, i) => [m, probs[i]])) };
      const payload: FusedPayload = {
        type: 'fused',
        stream,
        source: e.source,
        frame: e.frame,
        t: e.t,
        track: e.track,
        face: e.face,
        votes,
        fused: has ? Array.from(out) : null,
        strategy: fusion.strategy,
        preset: spec.preset ?? null,
        late,
      };
      send({ ...e.base, payload });
      meter.tick();
      const fusionName = named(fusion.strategy, spec.preset);
      const note = missingNote;
      if (note === null) status.busy(() => t('status.busy', { fusion: fusionName, fps: fpsText(meter.perSecond) }));
      else status.soon(() => ({ fill: 'yellow', shape: 'ring', text: `${t('status.busy', { fusion: fusionName, fps: fpsText(meter.perSecond) })} · ${note}` }));
    };

    /** Sends every entry that is complete (or, with `all`, every entry) in frame order. */
    const flush = (join: StreamJoin, stream: string, send: (msg: NodeMessage) => void, all: boolean): void => {
      const ready = [...join.entries].filter(([, e]) => all || complete(join, e));
      ready.sort((a, b) => a[1].frame - b[1].frame || (a[1].track ?? 0) - (b[1].track ?? 0));
      for (const [key, e] of ready) emit(join, stream, key, e, send);
    };

    /**
     * Reports, once per stream, the modalities of the fusion nothing has come from (no vote, no end)
     * `missingAfter` after the stream's first vote: a warning in the status, one error to a Catch
     * node. The stream's frames keep waiting for them (or go after maxWait).
     */
    const checkMissing = (now: number): void => {
      if (missingAfterMs === 0) return;
      for (const stream of streams.keys()) {
        const join = streams.peek(stream);
        if (join === undefined || join.missingReported || now - join.firstSeen < missingAfterMs) continue;
        // Votes with media times: the stream must also have played that long (a file analysed slower
        // than real time is not mistaken for a modality that never comes).
        if (join.tMax > 0 && (join.tMax - join.tMin) * 1000 < missingAfterMs) continue;
        const missing = models.filter((m) => !join.heard.has(m) && !join.ended.has(m));
        if (missing.length === 0) continue;
        join.missingReported = true;
        const heard = models.filter((m) => join.heard.has(m));
        const waiting = [...join.entries.values()];
        const oldest = waiting.reduce<Entry | null>((a, e) => (a === null || e.since < a.since ? e : a), null);
        const text = t('errors.missingModality', {
          missing: missing.join(', '),
          stream: describe(stream),
          seconds: missingAfterMs / 1000,
          heard: heard.length > 0 ? heard.join(', ') : '-',
          waiting: waiting.length,
          then: maxWait > 0 ? t('errors.missingThenMaxWait', { maxWait }) : t('errors.missingThenWait'),
        });
        missingNote = t('status.missing', { missing: missing.join(', ') });
        status.now({ fill: 'yellow', shape: 'ring', text: missingNote });
        node.error(text, oldest !== null ? { ...oldest.base } : { payload: { type: 'missing', stream, missing } });
      }
    };
    const missingTimer = missingAfterMs > 0 ? setInterval(() => checkMissing(Date.now()), Math.max(10, Math.min(missingAfterMs / 4, 1000))) : null;

    // The latency bound: entries older than maxWait go with what they have.
    const timer =
      maxWait > 0
        ? setInterval(() => {
            const send = pendingSend;
            if (send === null) return;
            const now = Date.now();
            for (const stream of streams.keys()) {
              const join = streams.peek(stream);
              if (join === undefined) continue;
              const old = [...join.entries].filter(([, e]) => now - e.since >= maxWait).sort((a, b) => a[1].frame - b[1].frame);
              for (const [key, e] of old) emit(join, stream, key, e, send);
            }
          }, Math.max(10, Math.min(maxWait / 2, 250)))
        : null;

    onOrderedInput(node, status, async (msg, send) => {
      try {
        await handle(msg, send);
      } catch (err) {
        // Shown as Node-RED shows a node's errors ("Error: …"), the message as `cer fuse` gives it.
        throw err instanceof InputError ? new Error(err.message) : err;
      }
    });

    async function handle(msg: NodeMessage, send: SendFunction): Promise<void> {
      pendingSend = (m) => node.send(m);
      const payload = msg.payload;
      // A new fusion at run time: msg.fusion, or the fit-weights node's output.
      const given = msg.fusion ?? ((payload as { type?: unknown } | null)?.type === 'fusion' ? payload : undefined);
      if (given !== undefined) {
        const where = msg.fusion !== undefined ? 'msg.fusion' : 'msg.payload';
        const next = specFromMessage(given, where, t);
        const nextModels = modelsOfSpec(next, models);
        let resolved: Fusion;
        try {
          resolved = resolveFusion(next, nextModels);
        } catch (err) {
          throw new InputError(`${where}: ${oneLine(err)}`);
        }
        for (const w of resolved.warnings) node.warn(`${where}: ${w}`);
        fusion = resolved;
        spec = next;
        models = nextModels;
        status.ready(t('status.readyFromMsg', { fusion: named(next.strategy, next.preset), models: models.join('+') }));
        return;
      }
      if (fusion === null) throw new Error(t('errors.notConfigured'));
      if (isEndPayload(payload)) {
        // The other modalities' ends of a stream already closed here.
        if (closed.has(payload.stream)) return;
        const join = streams.get(payload.stream, makeJoin);
        const modality = payload.modality;
        if (modality !== undefined && (MODALITIES as readonly string[]).includes(modality)) join.ended.add(modality as Modality);
        else for (const m of models) join.ended.add(m);
        if (models.every((m) => join.heard.has(m) || join.ended.has(m))) missingNote = null;
        flush(join, payload.stream, send, false);
        if (models.every((m) => join.ended.has(m))) {
          flush(join, payload.stream, send, true);
          streams.drop(payload.stream);
          closed.add(payload.stream);
          if (closed.size > CLOSED_KEPT) closed.delete(closed.values().next().value as string);
          send({ ...msg, payload: { ...payload, reason: payload.reason === 'no-votes' ? 'done' : payload.reason, modality: 'fused' } });
        }
        return;
      }

      // One vote: a probs payload, or a plain { topic: "vs" | "vd" | "a", payload: [7] | null }.
      let modality: Modality;
      let stream: string;
      let frame: number;
      let probs: number[] | null;
      let p: Partial<ProbsPayload> = {};
      let rawProbs: unknown;
      let probsField: string;
      if (typeof payload === 'object' && payload !== null && (payload as { type?: unknown }).type === 'probs') {
        p = payload as ProbsPayload;
        if (!(MODALITIES as readonly string[]).includes(p.modality as string)) {
          throw new InputError(`msg.payload.modality: ${t('errors.unknownModality', { modality: describe(p.modality) })}`);
        }
        if (typeof p.stream !== 'string') throw new InputError(`msg.payload.stream: ${t('errors.noStream', { got: describe(p.stream) })}`);
        modality = p.modality as Modality;
        stream = p.stream;
        frame = checkFrameNumber(p.frame, 'msg.payload.frame');
        rawProbs = p.probs ?? null;
        probsField = 'msg.payload.probs';
      } else if (typeof msg.topic === 'string' && (MODALITIES as readonly string[]).includes(msg.topic) && (payload === null || Array.isArray(payload))) {
        modality = msg.topic as Modality;
        if (msg.stream !== undefined && typeof msg.stream !== 'string') throw new InputError(`msg.stream: ${t('errors.noStream', { got: describe(msg.stream) })}`);
        stream = typeof msg.stream === 'string' ? msg.stream : 'default';
        const counters = streams.peek(stream)?.counters;
        frame = msg.frame !== undefined ? checkFrameNumber(msg.frame, 'msg.frame') : (counters?.[modality] ?? 0);
        rawProbs = payload;
        probsField = 'msg.payload';
      } else {
        throw new InputError(t('errors.notVote'));
      }
      // Checked as `cer fuse` checks a vote: 7 probabilities in [0, 1] summing to 1 (else renormalised).
      let renormalisedSum: number | null = null;
      if (rawProbs === null) probs = null;
      else {
        const vote = checkVote(rawProbs, `${modality} vote for frame ${frame} (${probsField})`);
        probs = vote.probs;
        if (vote.renormalised) renormalisedSum = vote.sum;
      }
      if (!models.includes(modality)) return; // a modality this fusion does not use
      const join = streams.get(stream, makeJoin);
      if (probsField === 'msg.payload') join.counters[modality] = frame + 1;
      join.heard.add(modality);
      if (typeof p.t === 'number' && Number.isFinite(p.t)) {
        join.tMin = Math.min(join.tMin, p.t);
        join.tMax = Math.max(join.tMax, p.t);
      }
      if (missingNote !== null && models.every((m) => join.heard.has(m) || join.ended.has(m))) missingNote = null;
      if (renormalisedSum !== null && !join.renormalisedWarned.has(modality)) {
        join.renormalisedWarned.add(modality);
        node.warn(t('errors.renormalised', { modality, frame, stream: describe(stream), sum: Number(renormalisedSum.toPrecision(6)) }));
      }
      if (modality === 'a') {
        join.aByFrame.set(frame, probs);
        if (join.aByFrame.size > A_FRAMES_KEPT) join.aByFrame.delete(join.aByFrame.keys().next().value as number);
        flush(join, stream, send, false);
        return;
      }
      const track = p.face ? p.face.track : null;
      const key = `${frame}|${track ?? 0}`;
      let e = join.entries.get(key);
      if (e === undefined) {
        e = { frame, t: typeof p.t === 'number' ? p.t : 0, track, face: p.face ?? null, votes: {}, since: Date.now(), base: msg, source: typeof p.source === 'string' ? p.source : stream };
        join.entries.set(key, e);
      }
      e.votes[modality] = probs;
      if (modality === 'vs') e.base = msg;
      if (complete(join, e)) emit(join, stream, key, e, send);
      checkMissing(Date.now());
    }

    onClose(node, async () => {
      if (timer !== null) clearInterval(timer);
      if (missingTimer !== null) clearInterval(missingTimer);
      streams.clear();
      status.clear();
    });
  }

  RED.nodes.registerType('cer-fusion', CerFusion);

  // The editor fills the weight table from the published presets.
  RED.httpAdmin.get('/cer-fusion/presets', RED.auth.needsPermission('cer-fusion.read'), (_req, res) => {
    res.json(FUSION_PRESETS);
  });
};
