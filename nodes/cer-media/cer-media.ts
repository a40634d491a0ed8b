/**
 * Media splitter: plays a file (or, when allowed, a network stream or capture device) through
 * ffmpeg and sends its frames, its audio in 16 kHz mono chunks, and events (start, progress, end,
 * error). Like Node-RED's exec node it owns child processes: each input message starts a run, a
 * `stop` message ends runs, and stopping the flow kills every ffmpeg it started before the close
 * completes. Decoding is src/media's decodeFramesInWorker, as `cer analyze` uses it.
 */
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { AUDIO_SAMPLE_RATE, decodeAudio } from '../../src/media/audio';
import { resolveFfmpeg } from '../../src/media/binaries';
import { decodeFramesInWorker, FrameDecoderThread } from '../../src/media/frame-worker';
import { ffmpegFeatures } from '../../src/media/frames';
import { probeMedia } from '../../src/media/probe';
import { classifyInput, expandFolder } from '../../src/media/source';
import { frameRateValue, type MediaInfo } from '../../src/media/types';
import type { AudioPayload, EndPayload, FramePayload, SourceEventPayload, SourceInfo } from '../../src/nodes-api/messages';
import { toError } from '../common/errors';
import { numberField } from '../common/fields';
import { onClose } from '../common/handlers';
import { fpsText, RateMeter, StatusDot } from '../common/status';
import { closeCredits, openCredits, type FrameCredits } from '../common/flow-control';
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

interface Run {
  readonly id: number;
  /** The stream now playing. */
  stream: string;
  readonly controller: AbortController;
  finished: Promise<void>;
}

/** True for messages that ask to stop: msg.stop, or payload/topic "stop". */
function isStop(msg: NodeMessage): boolean {
  return msg.stop === true || msg.payload === 'stop' || msg.topic === 'stop';
}

function sourceInfo(info: MediaInfo): SourceInfo {
  const rate = info.frameRate;
  return {
    kind: info.kind,
    width: info.width,
    height: info.height,
    fps: rate ? frameRateValue(rate) : null,
    frameRate: rate ? `${rate.num}/${rate.den}` : null,
    frames: info.frameCount,
    duration: info.duration,
    hasAudio: info.hasAudio,
  };
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

export = function register(RED: NodeAPI): void {
  function CerMedia(this: Node, def: CerMediaDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusDot(node);
    const t = translator(RED, 'cer-media');
    const sourceType: SourceType = (SOURCE_TYPES as readonly string[]).includes(def.sourceType ?? '') ? (def.sourceType as SourceType) : 'str';
    const runs = new Map<number, Run>();
    let runCounter = 0;
    const lookahead = Math.max(1, Math.floor(numberField(def.lookahead, 4)));
    let closing = false;
    // Started now, while the models load, and kept across streams (as Pipeline keeps its own); a run
    // beside another one gets a thread of its own.
    const keptDecoder = FrameDecoderThread.start();
    let keptInUse = false;
    status.idle(t('status.ready'));
    // Asked once per process and cached (Pipeline.load does the same): the first run does not pay for it.
    try {
      ffmpegFeatures(resolveFfmpeg()).catch(() => undefined);
    } catch {
      // no ffmpeg: the first run reports it
    }

    /** Face detectors on the frames output: they give credits back, so decoding can wait for them. */
    const creditConsumers = (): number => (node.wires[0] ?? []).filter((id) => RED.nodes.getNode(id)?.type === 'cer-faces').length;
    const wired = (output: number): boolean => (node.wires[output] ?? []).length > 0;

    /** The properties of the triggering message that every message of the run carries. */
    const carried = (msg: NodeMessage, source: string): NodeMessage => {
      const { payload: _payload, _msgid: _id, stop: _stop, ...rest } = msg;
      return { ...rest, topic: typeof msg.topic === 'string' && msg.topic !== '' ? msg.topic : source };
    };

    /** Plays `source` once; resolves with why it ended. */
    async function playOnce(source: string, msg: NodeMessage, send: SendFunction, controller: AbortController, stream: string): Promise<EndPayload> {
      const signal = controller.signal;
      const started = performance.now();
      const base = carried(msg, source);
      const ref = { stream, source };
      const emit = (output: 0 | 1 | 2, payload: FramePayload | AudioPayload | SourceEventPayload): void => {
        if (closing) return;
        const out: Array<NodeMessage | null> = [null, null, null];
        out[output] = { ...base, payload };
        send(out);
      };
      let frames = 0;
      let credits: FrameCredits | null = null;
      const decoder = keptInUse ? FrameDecoderThread.start() : keptDecoder;
      keptInUse = true;
      const meter = new RateMeter();
      const end = (reason: EndPayload['reason']): EndPayload => ({ type: 'end', ...ref, reason, frames, seconds: (performance.now() - started) / 1000 });
      try {
        const kind = classifyInput(source);
        const input = kind.type === 'file' ? resolveUserPath(source) : source;
        status.loading(t('status.probing', { file: path.basename(source) }));
        const info = await probeMedia(input, { allowLive: def.allowLive === true, signal });
        const fps = info.frameRate ? frameRateValue(info.frameRate) : 25;
        emit(2, { type: 'start', ...ref, info: sourceInfo(info) });
        const consumers = creditConsumers();
        // Frame memory comes back for reuse only when the face detector is the one node the frames reach.
        if (consumers > 0) credits = openCredits(stream, lookahead, consumers, (node.wires[0] ?? []).length === 1 ? (data) => decoder.recycle(data) : null);
        const live = kind.type !== 'file';
        const t0 = performance.now();
        let pid = 0;
        let lastProgress = 0;

        const audio = async (): Promise<void> => {
          if (def.audio === false || !wired(1) || !info.hasAudio) return;
          for await (const chunk of decodeAudio(input, { signal, allowLive: def.allowLive === true, info })) {
            if (def.realtime) await sleep(t0 + chunk.start * 1000 - performance.now(), signal);
            emit(1, { type: 'audio', ...ref, start: chunk.start, sampleIndex: chunk.sampleIndex, sampleRate: AUDIO_SAMPLE_RATE, samples: chunk.samples, fps: info.hasVideo ? fps : null, frameRate: info.hasVideo ? info.frameRate : null });
          }
        };

        const video = async (): Promise<void> => {
          if (!info.hasVideo) return;
          const decoded = decodeFramesInWorker(input, {
            thread: decoder,
            info,
            signal,
            allowLive: def.allowLive === true,
            onStart: (s) => (pid = s.pid),
          });
          for await (const frame of decoded) {
            if (credits !== null) await credits.acquire(signal);
            if (def.realtime && !live) await sleep(t0 + frame.t * 1000 - performance.now(), signal);
            if (signal.aborted) break;
            // A Buffer (a Uint8Array) over the frame's own memory: Node-RED's deep copy copies a Buffer
            // at once, where it would copy a plain Uint8Array element by element (about a second a frame).
            const data = Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength);
            emit(0, { type: 'frame', ...ref, frame: frame.index, t: frame.t, fps, width: frame.width, height: frame.height, data });
            frames++;
            meter.tick();
            const percent = info.frameCount ? Math.min(100, (100 * frames) / info.frameCount) : info.duration ? Math.min(100, (100 * frame.t) / info.duration) : null;
            status.busy(() => {
              // A still image sharp decoded in this process has no ffmpeg to name.
              const decoder = pid > 0 ? t('status.ffmpegPid', { pid }) : t('status.inProcess');
              const fpsNow = fpsText(meter.perSecond);
              return percent === null ? t('status.playing', { decoder, fps: fpsNow }) : t('status.playingPercent', { decoder, fps: fpsNow, percent: Math.floor(percent) });
            });
            const now = performance.now();
            if (now - lastProgress >= 1000) {
              lastProgress = now;
              emit(2, { type: 'progress', ...ref, frame: frames, percent, fps: meter.perSecond });
            }
          }
        };

        // Video and audio decode side by side; if one fails, the other is stopped.
        const parts = [video(), audio()].map((p) =>
          p.catch((err: unknown) => {
            controller.abort();
            throw err;
          }),
        );
        const results = await Promise.allSettled(parts);
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !(stoppedBy(signal, r.reason)));
        if (failed !== undefined) throw failed.reason;
        if (signal.aborted) return end('stopped');
        const done = end('done');
        emit(2, { type: 'progress', ...ref, frame: frames, percent: 100, fps: meter.perSecond });
        return done;
      } catch (err) {
        if (stoppedBy(signal, err)) return end('stopped');
        throw err;
      } finally {
        if (credits !== null) closeCredits(stream);
        if (decoder !== keptDecoder) await decoder.close();
        else keptInUse = false;
      }
    }

    /** A stop (or close) explains an abort error, not a real failure. */
    function stoppedBy(signal: AbortSignal, err: unknown): boolean {
      return signal.aborted && (!(err instanceof Error) || err.name === 'AbortError' || /abort/i.test(err.message));
    }

    function sendEnd(msg: NodeMessage, source: string, send: SendFunction, end: EndPayload): void {
      if (closing) return;
      const base = carried(msg, source);
      send([{ ...base, payload: end }, { ...base, payload: end }, { ...base, payload: end }]);
    }

    /**
     * Plays `sources` one after another (a folder's files), each a stream of its own; a looping
     * single file starts again as a new stream. `done` is called once, when the run is over.
     */
    function start(sources: readonly string[], msg: NodeMessage, send: SendFunction, done: DoneFunction): void {
      const controller = new AbortController();
      const run: Run = { id: ++runCounter, stream: '', controller, finished: Promise.resolve() };
      runs.set(run.id, run);
      run.finished = (async () => {
        let error: Error | null = null;
        try {
          for (let i = 0; i < sources.length && !controller.signal.aborted && !closing; i++) {
            const source = sources[i];
            const stream = `${node.id}:${RED.util.generateId()}`;
            run.stream = stream;
            let end: EndPayload;
            try {
              end = await playOnce(source, msg, send, controller, stream);
            } catch (err) {
              error = toError(err);
              if (!closing) {
                const base = carried(msg, source);
                const code = (err as { code?: unknown }).code;
                const payload: SourceEventPayload = { type: 'error', stream, source, message: error.message, ...(typeof code === 'string' ? { code } : {}) };
                send([null, null, { ...base, payload }]);
                sendEnd(msg, source, send, { type: 'end', stream, source, reason: 'error', frames: 0, seconds: 0 });
                status.error(error.message);
              }
              break;
            }
            sendEnd(msg, source, send, end);
            if (end.reason !== 'done') {
              status.idle(t('status.stopped', { frames: end.frames }));
              break;
            }
            const ended = { frames: end.frames, seconds: end.seconds.toFixed(1) };
            status.ready(sources.length > 1 ? t('status.endedOf', { ...ended, index: i + 1, count: sources.length }) : t('status.ended', ended));
            if (def.loop && sources.length === 1 && classifyInput(source).type === 'file') i--;
          }
        } finally {
          runs.delete(run.id);
        }
        if (error !== null) done(error);
        else done();
      })();
    }

    /** The inputs a source names: a folder's media files in name order, or the source itself. */
    const sourcesOf = (source: string): Promise<string[]> =>
      expandFolder(source, classifyInput(source).type === 'file' ? resolveUserPath(source) : undefined);

    /**
     * The input a message asks for. As text (the default, and every flow from before the
     * TypedInput): msg.payload when it is a non-empty string, else the node's text. From msg, flow,
     * global or env: that property alone, which must hold a non-empty string.
     */
    const sourceOf = (msg: NodeMessage): Promise<string> => {
      if (sourceType === 'str') {
        const given = typeof msg.payload === 'string' ? msg.payload.trim() : '';
        const source = given !== '' ? given : (def.source ?? '').trim();
        if (source === '') return Promise.reject(new Error(t('errors.noInput')));
        return Promise.resolve(source);
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
      try {
        if (isStop(msg)) {
          const only = typeof msg.stream === 'string' ? msg.stream : null;
          for (const run of runs.values()) if (only === null || run.stream === only) run.controller.abort();
          done();
          return;
        }
        sourceOf(msg).then(sourcesOf).then(
          (sources) => start(sources, msg, send, done),
          (err: unknown) => {
            const e = toError(err);
            status.error(e.message);
            done(e);
          },
        );
      } catch (err) {
        const e = toError(err);
        status.error(e.message);
        done(e);
      }
    });

    onClose(node, async () => {
      closing = true;
      const all = [...runs.values()];
      for (const run of all) run.controller.abort();
      await Promise.allSettled(all.map((r) => r.finished));
      await keptDecoder.close();
      status.clear();
    });
  }

  RED.nodes.registerType('cer-media', CerMedia);
};
