/**
 * Connections to the Redis server behind the queue. A command (`cer queue …`) and a worker's start
 * give up after a few seconds with one line naming the server; a running worker reconnects for as
 * long as it runs, so a Redis restart (or a network blip) does not end it.
 */
import { Queue, type ConnectionOptions } from 'bullmq';
import { InputError, oneLine } from '../io/errors';
import { parseRedisUrl, redisLabel } from './job';

/** How long a command waits for the Redis server before it gives up (ms). */
export const CONNECT_TIMEOUT_MS = 5000;

/** Connection options for a command that gives up: a few tries, then the error. */
export function oneShotConnection(url: string): ConnectionOptions {
  parseRedisUrl(url);
  return {
    url,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 2,
    retryStrategy: (times: number) => (times > 3 ? null : 250 * times),
  };
}

/**
 * Connection options for a long-running worker or node: reconnect every second or two, for ever
 * (BullMQ's default waits up to 20 s between tries, which a Redis restart would add to each job).
 */
export function lastingConnection(url: string): ConnectionOptions {
  parseRedisUrl(url);
  return {
    url,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: (times: number) => Math.min(250 * times, 2000),
  };
}

/** Why a connection failed, as one line: "cannot reach the Redis server at … (ECONNREFUSED)". */
export function unreachable(url: string, err: unknown): InputError {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const why = code !== undefined ? code : oneLine(err);
  return new InputError(`--redis ${redisLabel(url)}: cannot reach the Redis server (${why})`);
}

/**
 * A queue on a Redis server that answered: resolves once connected, else rejects within a few
 * seconds with an InputError naming the server (and closes what it opened).
 */
export async function openQueue(url: string, name: string, timeoutMs = CONNECT_TIMEOUT_MS + 2000): Promise<Queue> {
  const queue = new Queue(name, { connection: oneShotConnection(url) });
  let lastError: unknown = null;
  queue.on('error', (err) => (lastError = err));
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      queue.waitUntilReady(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(lastError ?? new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    // waitUntilReady resolves on a connection; a command proves the server answers (and a password).
    await queue.count();
    return queue;
  } catch (err) {
    await queue.disconnect().catch(() => undefined);
    throw unreachable(url, lastError ?? err);
  } finally {
    clearTimeout(timer);
  }
}

/** Rejects within a few seconds, with an InputError naming the server, unless Redis answers at `url`. */
export async function checkRedis(url: string): Promise<void> {
  const queue = await openQueue(url, 'cer-connection-check');
  await queue.close();
}
