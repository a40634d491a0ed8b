/**
 * Media splitter: plays a file (or, when allowed, a stream or capture device) through ffmpeg and sends its
 * frames, its audio in 16 kHz mono chunks and events (start, progress, end, error). Each input starts a run,
 * `stop` ends runs, and closing kills every ffmpeg it started. The playing is src/media/playback.ts's
 * PlaybackController; this adapter turns its payloads into messages and its states into a status.
 */
import * as path from 'node:path';
import { PlaybackController, type PlaybackStatus } from '../../src/media/playback';
import { toError } from '../common/errors';
import { numberField } from '../common/fields';
import { onClose } from '../common/handlers';
import { fpsText, StatusDot } from '../common/status';
import { closeCredits, openCredits } from '../common/flow-control';
import { translator } from '../common/i18n';
import { resolveUserPath } from '../common/models';
import type { DoneFunction, Node, NodeAPI, NodeDef, NodeMessage, SendFunction } from '../common/red';

/** Where the configured source comes from (the editor's TypedInput). */
const SOURCE_TYPES = ['str', 'msg', 'flow', 'global', 'env'] as const;
type SourceType = (typeof SOURCE_TYPES)[number];

interface CerMediaDef extends NodeDef {
  /**
   * The input: as text (`sourceType` str) used when msg.payload names none; otherwise the name of
   * the msg, flow or global property or environment variable that holds it.
   */
  source: string;
  /** str (flows from before the TypedInput have none: str), msg, flow, global or env. */
  sourceType?: string;
  /** Accept rtsp://, http(s):// … streams and /dev/video* devices. */
  allowLive: boolean;
  /** Play a file again from the start when it ends (a stand-in for a camera). */
  loop: boolean;
  /** Send frames at the media's own pace instead of as fast as they decode. */
  realtime: boolean;
  /** Send audio chunks on output 2. */
  audio: boolean;
  /** Frames in flight to the face detector before decoding waits. */
  lookahead: string | number;
}

/** True for messages that ask to stop: msg.stop, or payload/topic "stop". */
function isStop(msg: NodeMessage): boolean {
  return msg.stop === true || msg.payload === 'stop' || msg.topic === 'stop';
}

export = function register(RED: NodeAPI): void {
  function CerMedia(this: Node, def: CerMediaDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusDot(node);
    const t = translator(RED, 'cer-media');
    const sourceType: SourceType = (SOURCE_TYPES as readonly string[]).includes(def.sourceType ?? '') ? (def.sourceType as SourceType) : 'str';
    const lookahead = Math.max(1, Math.floor(numberField(def.lookahead, 4)));
    /** Face detectors on the frames output: they give credits back, so decoding can wait for them. */
    const creditConsumers = (): number => (node.wires[0] ?? []).filter((id) => RED.nodes.getNode(id)?.type === 'cer-faces').length;

    const showStatus = (s: PlaybackStatus): void => {
      if (s.state === 'probing') status.loading(t('status.probing', { file: path.basename(s.source) }));
      else if (s.state === 'stopped') status.idle(t('status.stopped', { frames: s.frames }));
      else if (s.state === 'failed') status.error(s.message);
      else if (s.state === 'ended') {
        const ended = { frames: s.frames, seconds: s.seconds.toFixed(1) };
        status.ready(s.count > 1 ? t('status.endedOf', { ...ended, index: s.index, count: s.count }) : t('status.ended', ended));
      } else {
        const decoder = (): string => (s.pid !== null ? t('status.ffmpegPid', { pid: s.pid }) : t('status.inProcess'));
        status.busy(() => t(s.percent === null ? 'status.playing' : 'status.playingPercent', { decoder: decoder(), fps: fpsText(s.fps), percent: Math.floor(s.percent ?? 0) }));
      }
    };
    // Started now, while the models load: its decoder thread is kept across streams.
    const playback = new PlaybackController({
      allowLive: def.allowLive === true,
      loop: def.loop === true,
      realtime: def.realtime === true,
      audio: def.audio !== false && (node.wires[1] ?? []).length > 0,
      resolvePath: resolveUserPath,
      newStream: () => `${node.id}:${RED.util.generateId()}`,
      onStatus: showStatus,
    });
    status.idle(t('status.ready'));

    /** The properties of the triggering message that every message of the run carries. */
    const carried = (msg: NodeMessage, source: string): NodeMessage => {
      const { payload: _payload, _msgid: _id, stop: _stop, ...rest } = msg;
      return { ...rest, topic: typeof msg.topic === 'string' && msg.topic !== '' ? msg.topic : source };
    };

    /** Plays `sources` for `msg`; `done` is called once, when the run is over. */
    function start(sources: readonly string[], msg: NodeMessage, send: SendFunction, done: DoneFunction): void {
      const bases = new Map(sources.map((source) => [source, carried(msg, source)]));
      const base = (source: string): NodeMessage => bases.get(source) ?? carried(msg, source);
      const on = (output: number) => (payload: { readonly source: string }): void => send([0, 1, 2].map((o) => (o === output ? { ...base(payload.source), payload } : null)));
      const run = playback.play(sources, {
        frame: on(0),
        audio: on(1),
        event: on(2),
        end: (end) => send([0, 1, 2].map(() => ({ ...base(end.source), payload: end }))),
        gate: (stream, recycle) => {
          const consumers = creditConsumers();
          // Frame memory comes back for reuse only when the face detector is the one node the frames reach.
          const credits = consumers > 0 ? openCredits(stream, lookahead, consumers, (node.wires[0] ?? []).length === 1 ? recycle : null) : null;
          return credits && { acquire: (signal) => credits.acquire(signal), close: () => closeCredits(stream) };
        },
      });
      run.finished.then(() => done(), (err: unknown) => done(toError(err)));
    }

    /**
     * The input a message asks for. As text (the default, and every flow from before the
     * TypedInput): msg.payload when it is a non-empty string, else the node's text. From msg, flow,
     * global or env: that property alone, which must hold a non-empty string.
     */
    const sourceOf = async (msg: NodeMessage): Promise<string> => {
      if (sourceType === 'str') {
        const given = typeof msg.payload === 'string' ? msg.payload.trim() : '';
        const source = given !== '' ? given : (def.source ?? '').trim();
        if (source === '') throw new Error(t('errors.noInput'));
        return source;
      }
      return new Promise((resolve, reject) => {
        RED.util.evaluateNodeProperty(def.source ?? '', sourceType, node, msg, (err, value) => {
          if (err) return reject(err);
          const source = typeof value === 'string' ? value.trim() : '';
          if (source === '') reject(new Error(t('errors.emptySource', { property: `${sourceType}${sourceType === 'env' ? ' ' : '.'}${def.source ?? ''}` })));
          else resolve(source);
        });
      });
    };

    node.on('input', (msg: NodeMessage, send: SendFunction, done: DoneFunction) => {
      if (isStop(msg)) {
        playback.stop(typeof msg.stream === 'string' ? msg.stream : undefined);
        done();
        return;
      }
      sourceOf(msg).then((source) => playback.sources(source)).then(
        (sources) => start(sources, msg, send, done),
        (err: unknown) => {
          const e = toError(err);
          status.error(e.message);
          done(e);
        },
      );
    });

    onClose(node, () => playback.close().then(() => status.clear()));
  }

  RED.nodes.registerType('cer-media', CerMedia);
};
