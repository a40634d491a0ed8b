/**
 * Queue: puts the file a message names (msg.payload, a path) on the Redis queue that `cer worker`
 * processes take jobs from (the same job `cer queue add` makes: src/queue/), and sends a message
 * when a job finishes or fails (BullMQ QueueEvents). A folder-watching flow feeds a worker fleet
 * with it; the analysis itself runs on the workers, not in Node-RED.
 */
import { Queue, QueueEvents } from 'bullmq';
import { analyzeSettings } from '../../src/pipeline/analyze-settings';
import { oneLine } from '../../src/io/errors';
import { lastingConnection } from '../../src/queue/connection';
import { analyzeJob, analyzeJobId, parseRedisUrl, type AnalyzeJobData, type QueueEventPayload } from '../../src/queue/job';
import { enqueue, jobResult, makeResultsFolder } from '../../src/queue/producer';
import { toError } from '../common/errors';
import { numberField } from '../common/fields';
import { onClose, onOrderedInput } from '../common/handlers';
import { StatusDot } from '../common/status';
import { translator } from '../common/i18n';
import type { Node, NodeAPI, NodeDef, NodeMessage } from '../common/red';
import { DEFAULT_QUEUE } from '../../src/defaults';

interface CerQueueDef extends NodeDef {
  redis: string;
  queue: string;
  out: string;
  format: string;
  events: 'mine' | 'all';
  attempts: string | number;
}

/** How long a message waits for Redis before it fails (the connection itself keeps trying). */
const ENQUEUE_TIMEOUT_MS = 10_000;

/** Jobs whose adding message the node keeps until they end; past this the oldest are forgotten. */
const MAX_TRACKED = 10_000;

export = function register(RED: NodeAPI): void {
  function CerQueue(this: Node, def: CerQueueDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusDot(node);
    const t = translator(RED, 'cer-queue');
    const url = (def.redis ?? '').trim() || 'redis://127.0.0.1:6379';
    const queueName = (def.queue ?? '').trim() || DEFAULT_QUEUE;
    const out = (def.out ?? '').trim() || '.';
    const format = (def.format ?? '').trim() || 'json';
    const allEvents = def.events === 'all';
    const attempts = Math.max(1, Math.floor(numberField(def.attempts, 3)));
    /**
     * The messages of the jobs this node added, until their job ends: the end's message carries
     * their properties. In the order they were added; past MAX_TRACKED the oldest are forgotten.
     */
    const mine = new Map<string, NodeMessage>();
    const track = (jobId: string, msg: NodeMessage): void => {
      mine.delete(jobId);
      mine.set(jobId, msg);
      while (mine.size > MAX_TRACKED) mine.delete(mine.keys().next().value as string);
    };
    let counts = { queued: 0, completed: 0, failed: 0 };

    let setupError: Error | null = null;
    let queue: Queue | null = null;
    let events: QueueEvents | null = null;
    try {
      parseRedisUrl(url, t('label.redis'));
      queue = new Queue(queueName, { connection: lastingConnection(url) });
      events = new QueueEvents(queueName, { connection: lastingConnection(url) });
    } catch (err) {
      setupError = toError(err);
      status.error(setupError.message);
    }
    let down = false;
    const onRedisError = (err: Error): void => {
      if (down) return;
      down = true;
      status.error(t('status.redisDown', { error: oneLine(err) }));
    };
    /** Redis answered: the counts again in place of an error. */
    const shown = (): void => {
      down = false;
      status.ready(t('status.counts', counts));
    };
    queue?.on('error', onRedisError);
    events?.on('error', onRedisError);
    if (queue !== null) void queue.waitUntilReady().then(shown, () => undefined);

    /** The end of a job as a message: the adding message's properties when it was added here. */
    const ended = async (jobId: string, payload: (input: string) => QueueEventPayload): Promise<void> => {
      const origin = mine.get(jobId);
      if (origin === undefined && !allEvents) return;
      mine.delete(jobId);
      let input = typeof origin?.payload === 'string' ? origin.payload : '?';
      const job = await queue?.getJob(jobId).catch(() => undefined);
      const data = job?.data as Partial<AnalyzeJobData> | undefined;
      if (typeof data?.input === 'string') input = data.input;
      const p = payload(input);
      counts = { ...counts, [p.type]: counts[p.type as 'completed' | 'failed'] + 1 };
      shown();
      node.send({ ...(origin ?? {}), _msgid: RED.util.generateId(), topic: p.type, payload: p });
    };
    events?.on('completed', ({ jobId, returnvalue }) => {
      // BullMQ hands the return value over parsed, though its type says text.
      const r = jobResult(typeof returnvalue === 'string' ? (JSON.parse(returnvalue) as unknown) : returnvalue);
      void ended(jobId, (input) => ({
        type: 'completed',
        jobId,
        input,
        outputs: r?.outputs ?? [],
        frames: r?.frames ?? null,
        label: r?.label ?? null,
        emotion: r?.emotion ?? null,
        worker: r?.worker ?? null,
      })).catch((err: unknown) => node.error(toError(err)));
    });
    events?.on('failed', ({ jobId, failedReason }) => {
      void ended(jobId, (input) => ({ type: 'failed', jobId, input, error: oneLine(failedReason) })).catch((err: unknown) => node.error(toError(err)));
    });

    onOrderedInput(node, status, async (msg, send) => {
      if (setupError !== null || queue === null) throw setupError ?? new Error(t('errors.noQueue'));
      const input = msg.payload;
      if (typeof input !== 'string' || input.trim() === '') throw new Error(t('errors.noInput'));
      const given = msg.options;
      if (given !== undefined && (typeof given !== 'object' || given === null || Array.isArray(given))) throw new Error(t('errors.badOptions'));
      const options = { format, ...(given as Record<string, unknown> | undefined) };
      // Checked as a worker will read them: a bad option fails here, not on the workers.
      analyzeSettings(options, (line) => node.warn(line));
      const data = analyzeJob(input, out, options);
      // Made here, as `cer queue add` makes it: a worker writes only into a folder that is there.
      makeResultsFolder(data.out, t('label.out'));
      // Tracked before it is added: a job may end before the add returns, or the add may land after the timeout.
      const jobId = analyzeJobId(data);
      const before = mine.get(jobId);
      track(jobId, msg);
      const untrack = (): void => {
        if (mine.get(jobId) !== msg) return;
        if (before !== undefined) track(jobId, before);
        else mine.delete(jobId);
      };
      const adding = enqueue(queue, [data], { attempts });
      adding.catch(untrack);
      let timer: NodeJS.Timeout | undefined;
      const [r] = await Promise.race([
        adding,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(t('errors.timeout', { url, ms: ENQUEUE_TIMEOUT_MS }))), ENQUEUE_TIMEOUT_MS);
        }),
      ]).finally(() => clearTimeout(timer));
      // Ended already (before this message): no end event will come for it.
      if ((r.outcome === 'completed' || r.outcome === 'failed') && mine.get(jobId) === msg) mine.delete(jobId);
      if (r.outcome === 'added') counts = { ...counts, queued: counts.queued + 1 };
      shown();
      const payload: QueueEventPayload = { type: 'queued', jobId: r.jobId, input: r.input, outcome: r.outcome };
      send({ ...msg, topic: 'queued', payload });
    });

    onClose(node, async () => {
      mine.clear();
      await Promise.all([events?.close(), queue?.close()]);
    });
  }

  RED.nodes.registerType('cer-queue', CerQueue);
};
