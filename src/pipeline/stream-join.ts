/**
 * The join of a live fusion (paper §3.3): per stream, the VS, VD (and A) votes of a frame are
 * gathered and fused with src/core (fuseFrameInto) once every modality of the fusion has voted.
 * VS and VD vote per frame and face track; A votes per frame, for every track of it. A modality
 * with no vote for a frame (null) is missing: its weight goes to the others, class by class.
 *
 * - Latency bound (`maxWaitMs` > 0): an entry waiting that long goes with what has arrived; the
 *   modalities that have not (and have not ended) are listed in `late`.
 * - End of stream: a modality's end counts as its vote for every frame still waiting; when every
 *   modality has ended, what is left goes out in frame order and the stream's state is dropped.
 * - Missing modality (`missingAfterMs` > 0): a modality nothing has come from (no vote, no end)
 *   that long after the stream's first vote — and, where the votes carry media times, once they
 *   span that much media time — is reported once per stream.
 *
 * Plain TypeScript: the clock is injected (`now`), and the latency bound and the missing check run
 * on timers only after start(); expire() and checkMissing() can be called directly.
 */
import { NUM_BASIC, fuseFrameInto, type Fusion, type FusionModel } from '../core';

/** One model's vote for a frame (already checked: 7 probabilities summing to 1, or null for none). */
export interface JoinVote<C> {
  readonly stream: string;
  readonly modality: FusionModel;
  readonly frame: number;
  readonly probs: number[] | null;
  /** The frame's media time (s), where the vote carries one. */
  readonly t?: number;
  /** The face track (VS, VD); null for a frame without tracks. */
  readonly track: number | null;
  /** What the caller wants back with the fused frame (its message, face, source). */
  readonly context: C;
  /** The vote's sum as given, where it was renormalised. */
  readonly renormalisedSum?: number;
}

/** A fused frame. `first` is the context of the frame's first vote; `base` that of its VS vote when one came. */
export interface JoinedFrame<C> {
  readonly stream: string;
  readonly frame: number;
  readonly t: number;
  readonly track: number | null;
  readonly first: C;
  readonly base: C;
  readonly fusion: Fusion;
  /** Per model of the fusion, in its order: the vote, or null where none came. */
  readonly probs: (number[] | null)[];
  /** The fused scores P̄ (or P̂), null when no model voted. */
  readonly fused: number[] | null;
  /** The modalities whose vote had not come when the frame went (latency bound). */
  readonly late: FusionModel[];
}

export interface MissingReport<C> {
  readonly stream: string;
  readonly missing: FusionModel[];
  readonly heard: FusionModel[];
  /** The frames waiting, and the context of the oldest of them. */
  readonly waiting: number;
  readonly oldest: C | null;
}

export interface StreamJoinOptions<C> {
  /** Latency bound in ms; 0: wait for every modality. */
  readonly maxWaitMs: number;
  /** Report a modality nothing came from this long (ms) after a stream's first vote; 0: never. */
  readonly missingAfterMs: number;
  readonly now?: () => number;
  readonly onMissing?: (report: MissingReport<C>) => void;
  /** A vote was renormalised: said once per stream and modality. */
  readonly onRenormalised?: (stream: string, modality: FusionModel, frame: number, sum: number) => void;
}

export type FrameSink<C> = (frame: JoinedFrame<C>) => void;

interface Entry<C> {
  readonly frame: number;
  readonly t: number;
  readonly track: number | null;
  readonly votes: Partial<Record<FusionModel, number[] | null>>;
  readonly since: number;
  readonly first: C;
  base: C;
}

interface StreamState<C> {
  readonly entries: Map<string, Entry<C>>;
  /** A's vote per frame (A is per stream, shared by every track of the frame). */
  readonly aByFrame: Map<number, number[] | null>;
  readonly ended: Set<FusionModel>;
  /** Frame counters for votes without a frame number. */
  readonly counters: Partial<Record<FusionModel, number>>;
  readonly firstSeen: number;
  /** The modalities heard from (a vote or an end). */
  readonly heard: Set<FusionModel>;
  /** The earliest and latest media time (s) of the stream's votes; Infinity/-Infinity before any. */
  tMin: number;
  tMax: number;
  missingReported: boolean;
  readonly renormalisedWarned: Set<FusionModel>;
}

/** The default of the missing-modality report's delay, in seconds. */
export const DEFAULT_MISSING_AFTER_S = 10;

/**
 * The latency bound and the missing-report delay from settings as a node's editor gives them: the
 * bound in ms (not a number, or below 0: no bound), the delay in s (unset or '': the default; 0,
 * below 0 or not a number: never).
 */
export function joinTimings(maxWait: unknown, missingAfter: unknown): { maxWaitMs: number; missingAfterMs: number } {
  const maxWaitMs = Math.max(0, Number(maxWait) || 0);
  const seconds = missingAfter === undefined || missingAfter === '' ? DEFAULT_MISSING_AFTER_S : Number(missingAfter);
  return { maxWaitMs, missingAfterMs: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0 };
}

/** How many of a stream's A votes are kept, and how many closed streams are remembered. */
const A_FRAMES_KEPT = 2000;
const CLOSED_KEPT = 1000;

export class StreamJoin<C> {
  private fusionInUse: Fusion | null = null;
  private readonly streams = new Map<string, StreamState<C>>();
  /** Streams closed here (every modality ended), so that late ends are not taken for new streams. */
  private readonly closed = new Set<string>();
  private readonly now: () => number;
  private timers: ReturnType<typeof setInterval>[] = [];
  /** The modalities last reported missing, until every modality of a stream has been heard from. */
  private missingNow: FusionModel[] | null = null;
  private readonly out = new Float64Array(NUM_BASIC);

  constructor(private readonly options: StreamJoinOptions<C>) {
    this.now = options.now ?? Date.now;
  }

  get fusion(): Fusion | null {
    return this.fusionInUse;
  }

  /** The fusion for the frames that go from now on (waiting ones included). */
  setFusion(fusion: Fusion | null): void {
    this.fusionInUse = fusion;
  }

  get models(): FusionModel[] {
    return (this.fusionInUse?.models ?? []) as FusionModel[];
  }

  /** How many streams have state here. */
  get size(): number {
    return this.streams.size;
  }

  /** The modalities reported missing while a stream still waits for them; null when none. */
  get missing(): readonly FusionModel[] | null {
    return this.missingNow;
  }

  /** The frame number a vote without one gets: one after the last such vote of the modality. */
  nextFrame(stream: string, modality: FusionModel): number {
    return this.streams.get(stream)?.counters[modality] ?? 0;
  }

  /** A vote. With `counted`, the vote had no frame number of its own (see nextFrame). */
  vote(v: JoinVote<C>, sink: FrameSink<C>, counted = false): void {
    const models = this.models;
    if (!models.includes(v.modality)) return; // a modality this fusion does not use
    const join = this.state(v.stream);
    if (counted) join.counters[v.modality] = v.frame + 1;
    join.heard.add(v.modality);
    if (typeof v.t === 'number' && Number.isFinite(v.t)) {
      join.tMin = Math.min(join.tMin, v.t);
      join.tMax = Math.max(join.tMax, v.t);
    }
    if (this.missingNow !== null && models.every((m) => join.heard.has(m) || join.ended.has(m))) this.missingNow = null;
    if (v.renormalisedSum !== undefined && !join.renormalisedWarned.has(v.modality)) {
      join.renormalisedWarned.add(v.modality);
      this.options.onRenormalised?.(v.stream, v.modality, v.frame, v.renormalisedSum);
    }
    if (v.modality === 'a') {
      join.aByFrame.set(v.frame, v.probs);
      if (join.aByFrame.size > A_FRAMES_KEPT) join.aByFrame.delete(join.aByFrame.keys().next().value as number);
      this.flush(join, v.stream, sink, false);
      return;
    }
    const key = `${v.frame}|${v.track ?? 0}`;
    let e = join.entries.get(key);
    if (e === undefined) {
      e = { frame: v.frame, t: typeof v.t === 'number' ? v.t : 0, track: v.track, votes: {}, since: this.now(), first: v.context, base: v.context };
      join.entries.set(key, e);
    }
    e.votes[v.modality] = v.probs;
    if (v.modality === 'vs') e.base = v.context;
    if (this.complete(join, e)) this.emit(join, v.stream, key, e, sink);
    this.checkMissing(this.now());
  }

  /**
   * The end of a stream for one modality (or, without one, for all). Returns true when this closed
   * the stream (every modality ended: what waited has gone out and its state is dropped), false
   * otherwise, and null for the end of a stream closed before.
   */
  end(stream: string, modality: FusionModel | undefined, sink: FrameSink<C>): boolean | null {
    if (this.closed.has(stream)) return null;
    const join = this.state(stream);
    const models = this.models;
    if (modality !== undefined) join.ended.add(modality);
    else for (const m of models) join.ended.add(m);
    if (models.every((m) => join.heard.has(m) || join.ended.has(m))) this.missingNow = null;
    this.flush(join, stream, sink, false);
    if (!models.every((m) => join.ended.has(m))) return false;
    this.flush(join, stream, sink, true);
    this.streams.delete(stream);
    this.closed.add(stream);
    if (this.closed.size > CLOSED_KEPT) this.closed.delete(this.closed.values().next().value as string);
    return true;
  }

  /** The latency bound: every entry waiting `maxWaitMs` or longer goes with what it has. */
  expire(now: number, sink: FrameSink<C>): void {
    const maxWait = this.options.maxWaitMs;
    if (!(maxWait > 0)) return;
    for (const [stream, join] of [...this.streams]) {
      const old = [...join.entries].filter(([, e]) => now - e.since >= maxWait).sort((a, b) => a[1].frame - b[1].frame);
      for (const [key, e] of old) this.emit(join, stream, key, e, sink);
    }
  }

  /** Reports, once per stream, the modalities nothing has come from `missingAfterMs` after its first vote. */
  checkMissing(now: number): void {
    const after = this.options.missingAfterMs;
    if (!(after > 0)) return;
    const models = this.models;
    for (const [stream, join] of [...this.streams]) {
      if (join.missingReported || now - join.firstSeen < after) continue;
      // Votes with media times: the stream must also have played that long (a file analysed slower
      // than real time is not mistaken for a modality that never comes).
      if (join.tMax > 0 && (join.tMax - join.tMin) * 1000 < after) continue;
      const missing = models.filter((m) => !join.heard.has(m) && !join.ended.has(m));
      if (missing.length === 0) continue;
      join.missingReported = true;
      const waiting = [...join.entries.values()];
      const oldest = waiting.reduce<Entry<C> | null>((a, e) => (a === null || e.since < a.since ? e : a), null);
      this.missingNow = missing;
      this.options.onMissing?.({ stream, missing, heard: models.filter((m) => join.heard.has(m)), waiting: waiting.length, oldest: oldest?.base ?? null });
    }
  }

  /** Runs the latency bound and the missing check on timers; frames that go late go to `sink`. */
  start(sink: FrameSink<C>): void {
    this.stop();
    const { maxWaitMs, missingAfterMs } = this.options;
    if (missingAfterMs > 0) this.timers.push(setInterval(() => this.checkMissing(this.now()), Math.max(10, Math.min(missingAfterMs / 4, 1000))));
    if (maxWaitMs > 0) {
      this.timers.push(
        setInterval(() => this.expire(this.now(), sink), Math.max(10, Math.min(maxWaitMs / 2, 250))),
      );
    }
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  /** Drops every stream's state. */
  clear(): void {
    this.streams.clear();
  }

  private state(stream: string): StreamState<C> {
    let s = this.streams.get(stream);
    if (s === undefined) {
      s = {
        entries: new Map(),
        aByFrame: new Map(),
        ended: new Set(),
        counters: {},
        firstSeen: this.now(),
        heard: new Set(),
        tMin: Infinity,
        tMax: -Infinity,
        missingReported: false,
        renormalisedWarned: new Set(),
      };
      this.streams.set(stream, s);
    }
    return s;
  }

  private complete(join: StreamState<C>, e: Entry<C>): boolean {
    return this.models.every((m) => (m === 'a' ? join.aByFrame.has(e.frame) || join.ended.has('a') : e.votes[m] !== undefined || join.ended.has(m)));
  }

  /** Sends every entry that is complete (or, with `all`, every entry) in frame order. */
  private flush(join: StreamState<C>, stream: string, sink: FrameSink<C>, all: boolean): void {
    const ready = [...join.entries].filter(([, e]) => all || this.complete(join, e));
    ready.sort((a, b) => a[1].frame - b[1].frame || (a[1].track ?? 0) - (b[1].track ?? 0));
    for (const [key, e] of ready) this.emit(join, stream, key, e, sink);
  }

  private emit(join: StreamState<C>, stream: string, key: string, e: Entry<C>, sink: FrameSink<C>): void {
    join.entries.delete(key);
    const fusion = this.fusionInUse;
    if (fusion === null) return;
    const late: FusionModel[] = [];
    const probs = this.models.map((m) => {
      const v = m === 'a' ? join.aByFrame.get(e.frame) : e.votes[m];
      if (v === undefined) {
        if (!join.ended.has(m)) late.push(m);
        return null;
      }
      return v;
    });
    const has = fuseFrameInto(fusion, probs, this.out);
    sink({ stream, frame: e.frame, t: e.t, track: e.track, first: e.first, base: e.base, fusion, probs, fused: has ? Array.from(this.out) : null, late });
  }
}
