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
 */
import {
  FUSION_PRESETS,
  fuseFrameInto,
  NUM_BASIC,
  PRESET_NAMES,
  resolveFusion,
  type Fusion,
  type FusionSpec,
  type FusionStrategy,
} from '../../src/core';
import { MODALITIES, isEndPayload, type FaceInfo, type FusedPayload, type Modality, type ProbsPayload, type Votes } from '../../src/nodes-api/messages';
import { fusionFromDef, type FusionSettings } from '../common/fusion-config';
import { fpsText, onClose, onOrderedInput, PerStream, RateMeter, StatusDot, toError } from '../common/adapter';
import { translator, type Translate } from '../common/i18n';
import type { Node, NodeAPI, NodeDef, NodeMessage } from '../common/red';

interface CerFusionDef extends NodeDef, FusionSettings {
  /** Latency bound in ms for live streams; 0: wait for every modality. */
  maxWait: string | number;
}

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
}

const A_FRAMES_KEPT = 2000;
const CLOSED_KEPT = 1000;

/** A fusion spec given at run time (msg.fusion, or a fit-weights payload). */
function specFromMessage(value: unknown, t: Translate): FusionSpec {
  if (typeof value !== 'object' || value === null) throw new Error(t('errors.notObject'));
  const v = value as Partial<FusionSpec>;
  const spec: FusionSpec = { strategy: (v.strategy ?? 'dirichlet') as FusionStrategy };
  if (v.preset !== undefined) spec.preset = v.preset;
  if (v.weights !== undefined) spec.weights = v.weights;
  if (v.modelWeights !== undefined) spec.modelWeights = v.modelWeights;
  return spec;
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
    let fusion: Fusion | null = null;
    let spec: FusionSpec | null = null;
    let models: Modality[] = [];
    try {
      const fromDef = fusionFromDef(def);
      spec = fromDef.spec;
      models = fromDef.models;
      fusion = resolveFusion(spec, models);
      status.ready(t('status.ready', { fusion: named(spec.strategy, spec.preset), models: models.join('+') }));
    } catch (err) {
      status.error(toError(err).message);
    }
    const out = new Float64Array(NUM_BASIC);
    const streams = new PerStream<StreamJoin>();
    Object.defineProperty(node, 'cerStreams', { get: () => streams.size });
    const makeJoin = (): StreamJoin => ({ entries: new Map(), aByFrame: new Map(), ended: new Set(), counters: {} });
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
      status.busy(() => t('status.busy', { fusion: fusionName, fps: fpsText(meter.perSecond) }));
    };

    /** Sends every entry that is complete (or, with `all`, every entry) in frame order. */
    const flush = (join: StreamJoin, stream: string, send: (msg: NodeMessage) => void, all: boolean): void => {
      const ready = [...join.entries].filter(([, e]) => all || complete(join, e));
      ready.sort((a, b) => a[1].frame - b[1].frame || (a[1].track ?? 0) - (b[1].track ?? 0));
      for (const [key, e] of ready) emit(join, stream, key, e, send);
    };

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
      pendingSend = (m) => node.send(m);
      const payload = msg.payload;
      // A new fusion at run time: msg.fusion, or the fit-weights node's output.
      const given = msg.fusion ?? ((payload as { type?: unknown } | null)?.type === 'fusion' ? payload : undefined);
      if (given !== undefined) {
        const next = specFromMessage(given, t);
        const nextModels = modelsOfSpec(next, models);
        fusion = resolveFusion(next, nextModels);
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
      if (typeof payload === 'object' && payload !== null && (payload as { type?: unknown }).type === 'probs') {
        p = payload as ProbsPayload;
        if (!(MODALITIES as readonly string[]).includes(p.modality as string)) throw new Error(t('errors.unknownModality', { modality: String(p.modality) }));
        if (typeof p.stream !== 'string' || !Number.isInteger(p.frame)) throw new Error(t('errors.noStreamFrame'));
        modality = p.modality as Modality;
        stream = p.stream;
        frame = p.frame as number;
        probs = p.probs ?? null;
      } else if (typeof msg.topic === 'string' && (MODALITIES as readonly string[]).includes(msg.topic) && (payload === null || Array.isArray(payload))) {
        modality = msg.topic as Modality;
        stream = typeof msg.stream === 'string' ? msg.stream : 'default';
        const join = streams.get(stream, makeJoin);
        frame = typeof msg.frame === 'number' ? msg.frame : (join.counters[modality] ?? 0);
        join.counters[modality] = frame + 1;
        probs = payload as number[] | null;
      } else {
        throw new Error(t('errors.notVote'));
      }
      if (probs !== null && !(Array.isArray(probs) && probs.length === NUM_BASIC && probs.every((x) => typeof x === 'number' && Number.isFinite(x)))) {
        throw new Error(t('errors.badVote', { modality, frame }));
      }
      if (!models.includes(modality)) return; // a modality this fusion does not use
      const join = streams.get(stream, makeJoin);
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
    });

    onClose(node, async () => {
      if (timer !== null) clearInterval(timer);
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
