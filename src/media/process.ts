/**
 * Running ffmpeg / ffprobe as child processes: spawning with extra output pipes, keeping the tail of
 * stderr for error messages, killing and awaiting on abort or early exit, and a registry of the
 * processes still running so that none outlives its consumer (or this Node process). Shared by the
 * frame decoder and by whatever else pipes media out of ffmpeg (e.g. audio decoding).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Readable } from 'node:stream';
import type { ResolvedBinary } from './binaries';
import { MediaError } from './errors';
import { refusedDemuxer, refusedFormatDetail, refusedReference } from './source';
import type { MediaInfo } from './types';

export interface ToolExit {
  /** Exit code, null when the process was ended by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnToolOptions {
  /** How many extra output pipes to open beyond stdout and stderr; they are fds 3, 4, … in the child. */
  readonly extraOutputs?: number;
  /** Kills the process (SIGKILL) when aborted. */
  readonly signal?: AbortSignal;
  /** Called with each stderr line as it arrives (raw, as the tool wrote it). */
  readonly onStderrLine?: (line: string) => void;
  /** How many of the last stderr lines to keep for error messages (default 40). */
  readonly stderrTailLines?: number;
}

/** Processes started by this module that have not exited yet. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** PIDs of the ffmpeg/ffprobe processes this module started that are still running. */
export function runningToolPids(): number[] {
  const pids: number[] = [];
  for (const child of running) if (child.pid !== undefined) pids.push(child.pid);
  return pids;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort: a Node process that exits while a decoder still runs takes the decoder with it.
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

/** A running ffmpeg or ffprobe. Always end it with kill() (idempotent) or await `closed`. */
export class ToolProcess {
  readonly pid: number;
  /** Resolves once the process has exited and its stdout, stderr and extra pipes are closed. */
  readonly closed: Promise<ToolExit>;
  private readonly tail: string[] = [];
  private exitInfo: ToolExit | null = null;
  private killRequested = false;

  private constructor(
    readonly binary: ResolvedBinary,
    readonly args: readonly string[],
    private readonly child: ChildProcess,
    private readonly tailSize: number,
    onStderrLine: ((line: string) => void) | undefined,
  ) {
    if (child.pid === undefined) throw new Error('spawned process has no pid');
    this.pid = child.pid;
    this.closed = new Promise<ToolExit>((resolve) => {
      child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        this.exitInfo = { code, signal };
        running.delete(child);
        resolve(this.exitInfo);
      });
    });
    child.once('exit', () => running.delete(child));
    // Pipe errors (EPIPE, ECONNRESET after a kill) must not become uncaught exceptions.
    for (const stream of child.stdio) stream?.on('error', () => undefined);

    let pending = '';
    const stderr = child.stderr;
    if (stderr) {
      stderr.setEncoding('utf8');
      stderr.on('data', (text: string) => {
        pending += text;
        const lines = pending.split(/\r\n|\r|\n/);
        pending = lines.pop() ?? '';
        for (const line of lines) this.addStderrLine(line, onStderrLine);
      });
      stderr.on('end', () => {
        if (pending !== '') this.addStderrLine(pending, onStderrLine);
        pending = '';
      });
    }
  }

  /** Starts `binary args…`; rejects (MediaError BINARY_NOT_FOUND) when the binary cannot be started. */
  static async spawn(binary: ResolvedBinary, args: readonly string[], options: SpawnToolOptions = {}): Promise<ToolProcess> {
    const extra = options.extraOutputs ?? 0;
    const stdio: Array<'ignore' | 'pipe'> = ['ignore', 'pipe', 'pipe'];
    for (let i = 0; i < extra; i++) stdio.push('pipe');
    if (options.signal?.aborted) throw abortError(null);

    const child = spawn(binary.path, [...args], { stdio, windowsHide: true });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        child.off('spawn', onSpawn);
        reject(new MediaError('BINARY_NOT_FOUND', null, `cannot start ${binary.name} at ${binary.path} (from ${binary.source}): ${err.message}`, { cause: err }));
      };
      const onSpawn = (): void => {
        child.off('error', onError);
        resolve();
      };
      child.once('error', onError);
      child.once('spawn', onSpawn);
    });
    running.add(child);
    installExitHook();
    child.on('error', () => undefined);

    const tool = new ToolProcess(binary, args, child, options.stderrTailLines ?? 40, options.onStderrLine);
    const signal = options.signal;
    if (signal) {
      const onAbort = (): void => void tool.kill();
      signal.addEventListener('abort', onAbort, { once: true });
      void tool.closed.then(() => signal.removeEventListener('abort', onAbort));
    }
    return tool;
  }

  /** The child's stdout. */
  get stdout(): Readable {
    return this.output(1);
  }

  /** The readable end of the child's output fd (1 = stdout, 3… = extra outputs). */
  output(fd: number): Readable {
    const stream = this.child.stdio[fd];
    if (!(stream instanceof Readable)) throw new Error(`${this.binary.name} has no output pipe on fd ${fd}`);
    return stream;
  }

  /** True until the process has exited. */
  get isRunning(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** How it ended; null while it still runs or its pipes are still open. */
  get exit(): ToolExit | null {
    return this.exitInfo;
  }

  /** True when kill() was called (so a signal exit is ours, not a crash). */
  get wasKilled(): boolean {
    return this.killRequested;
  }

  /** The last stderr lines, raw. */
  stderrTail(): string[] {
    return [...this.tail];
  }

  /** Kills the process (SIGKILL: decoders hold nothing worth a graceful stop) and waits until it is gone. */
  async kill(): Promise<ToolExit> {
    if (this.isRunning) {
      this.killRequested = true;
      this.child.kill('SIGKILL');
    }
    // Stop reading so that nothing buffered keeps the pipes open.
    for (const stream of this.child.stdio) if (stream instanceof Readable) stream.resume();
    return this.closed;
  }

  private addStderrLine(line: string, onStderrLine: ((line: string) => void) | undefined): void {
    if (line.trim() === '') return;
    this.tail.push(line);
    if (this.tail.length > this.tailSize) this.tail.shift();
    onStderrLine?.(line);
  }
}

/** Convenience wrapper for ToolProcess.spawn. */
export function spawnTool(binary: ResolvedBinary, args: readonly string[], options: SpawnToolOptions = {}): Promise<ToolProcess> {
  return ToolProcess.spawn(binary, args, options);
}

export interface RunToolOptions {
  readonly signal?: AbortSignal;
  /** Kill and fail after this many milliseconds. */
  readonly timeoutMs?: number;
  /** Fail when stdout grows past this many bytes (default 64 MiB). */
  readonly maxStdoutBytes?: number;
  /** Names the input in timeout and abort errors. */
  readonly input?: string;
}

export interface ToolResult {
  readonly exit: ToolExit;
  readonly stdout: Buffer;
  /** The last stderr lines, raw. */
  readonly stderr: string[];
}

/** Runs a tool to completion, collecting stdout (for ffprobe's JSON and the like). */
export async function runTool(binary: ResolvedBinary, args: readonly string[], options: RunToolOptions = {}): Promise<ToolResult> {
  const input = options.input ?? null;
  const tool = await spawnTool(binary, args, { signal: options.signal });
  const limit = options.maxStdoutBytes ?? 64 * 1024 * 1024;
  const chunks: Buffer[] = [];
  let size = 0;
  let failure: MediaError | null = null;
  const fail = (err: MediaError): void => {
    if (failure === null) failure = err;
    void tool.kill();
  };
  tool.stdout.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > limit) fail(new MediaError('PROBE_FAILED', input, `${binary.name} wrote more than ${limit} bytes`));
    else chunks.push(chunk);
  });
  const timer = options.timeoutMs === undefined
    ? null
    : setTimeout(() => fail(new MediaError('TIMEOUT', input, `${binary.name} did not finish within ${options.timeoutMs} ms`)), options.timeoutMs);
  try {
    const exit = await tool.closed;
    if (failure !== null) throw failure;
    if (options.signal?.aborted) throw abortError(input);
    return { exit, stdout: Buffer.concat(chunks, size), stderr: tool.stderrTail() };
  } finally {
    if (timer !== null) clearTimeout(timer);
    await tool.kill();
  }
}

/** The MediaError an abort turns into. */
export function abortError(input: string | null): MediaError {
  return new MediaError('ABORTED', input, 'aborted');
}

/** Drops ffmpeg's `[demuxer @ 0x55…] ` context prefixes from a log line. */
export function cleanToolLine(line: string): string {
  return line.replace(/^(\[[^\]]*@ ?(0x)?[0-9a-fA-F]+\]\s*)+/, '').trim();
}

const NOISE = [
  /^Conversion failed!?$/,
  /^Exiting normally/,
  /received signal \d+/i,
  /^Last message repeated \d+ times?$/,
  /^Error (opening|initializing) (output|filters?)/,
  /^Nothing was written into output file/,
  /^Error marking filters as finished/,
];

/** The last stderr line that says something (not "Conversion failed!" and the like), cleaned. */
export function lastMeaningfulLine(lines: readonly string[]): string | null {
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = cleanToolLine(lines[i] ?? '');
    if (line !== '' && !NOISE.some((re) => re.test(line))) return line;
  }
  return null;
}

/**
 * Cuts a byte stream into blocks of a fixed size (a video frame, a block of audio samples). A block
 * that lies whole inside one incoming chunk is handed out as a view of that chunk (no copy); one
 * that spans chunks is copied once into a fresh buffer. Blocks are never reused, so a consumer may
 * keep them.
 */
/**
 * Spare frame-sized buffers to fill again instead of allocating (a frame-sized allocation costs
 * page faults and garbage collection at every frame). Only buffers that nothing else reads may be
 * put back.
 */
export class BufferPool {
  private readonly spare: Buffer[] = [];

  constructor(private readonly capacity = 8) {}

  /** A spare buffer of exactly `size` bytes, if any. */
  take(size: number): Buffer | undefined {
    const i = this.spare.findIndex((b) => b.length === size);
    return i < 0 ? undefined : this.spare.splice(i, 1)[0];
  }

  /**
   * Gives back a block that owns its whole memory and that no one reads any more. When full, the
   * oldest spare goes (a pool that outlives an input must not keep the last input's frame size).
   */
  put(block: Uint8Array): void {
    if (block.byteOffset !== 0 || block.byteLength === 0 || block.byteLength !== block.buffer.byteLength) return;
    if (this.spare.length >= this.capacity) this.spare.shift();
    this.spare.push(Buffer.isBuffer(block) ? block : Buffer.from(block.buffer, 0, block.byteLength));
  }
}

export class ChunkAssembler {
  private current: Buffer | null = null;
  private filled = 0;

  constructor(
    readonly blockSize: number,
    private readonly pool?: BufferPool,
  ) {
    if (!Number.isInteger(blockSize) || blockSize <= 0) throw new RangeError(`block size must be a positive integer, got ${blockSize}`);
  }

  /** Bytes held towards the next block. */
  get pendingBytes(): number {
    return this.filled;
  }

  /** Takes a chunk; returns the blocks it completed, in order. */
  push(chunk: Uint8Array): Buffer[] {
    const out: Buffer[] = [];
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const size = this.blockSize;
    let offset = 0;
    if (this.current !== null) {
      const n = Math.min(size - this.filled, bytes.length);
      bytes.copy(this.current, this.filled, 0, n);
      this.filled += n;
      offset = n;
      if (this.filled < size) return out;
      out.push(this.current);
      this.current = null;
      this.filled = 0;
    }
    while (bytes.length - offset >= size) {
      out.push(bytes.subarray(offset, offset + size));
      offset += size;
    }
    if (offset < bytes.length) {
      this.current = this.pool?.take(size) ?? Buffer.allocUnsafeSlow(size);
      bytes.copy(this.current, 0, offset);
      this.filled = bytes.length - offset;
    }
    return out;
  }

  /** Hands out the partial block held (a copy of just the bytes received) and starts afresh; null when none. */
  flush(): Buffer | null {
    if (this.current === null) return null;
    const rest = Buffer.from(this.current.subarray(0, this.filled));
    this.current = null;
    this.filled = 0;
    return rest;
  }
}

/**
 * ffmpeg errors that mean the input ended early or is broken: after them a decode stops with an
 * error (unless the caller tolerates corruption). Other logged errors are warnings.
 */
export const FATAL_DECODE_LINES = [/partial file/i, /Invalid data found when processing input/i, /moov atom not found/i, /\btruncated\b/i];

export interface OutputPumpOptions {
  /**
   * Keep going on corrupt or truncated data, reporting it through onWarning, instead of throwing
   * after the last frame or chunk that could be decoded (default false).
   */
  readonly tolerateCorruption?: boolean;
  /** Errors ffmpeg logs that do not stop decoding (e.g. a concealed damaged macroblock), one line each. */
  readonly onWarning?: (message: string) => void;
}

/** What a decoder tells its caller once ffmpeg runs. */
export interface DecoderStarted {
  readonly pid: number;
  readonly binary: ResolvedBinary;
  readonly args: readonly string[];
  readonly info: MediaInfo;
}

/** The options the ffmpeg decoders (decodeFrames, decodeAudio) share. */
export interface DecoderOptions<Started extends DecoderStarted = DecoderStarted> extends OutputPumpOptions {
  /** Stops decoding: ffmpeg is killed at once and the generator throws a MediaError named 'AbortError'. */
  readonly signal?: AbortSignal;
  /** Accept rtsp://, http(s):// … streams and /dev/video* devices (default false: files only). */
  readonly allowLive?: boolean;
  /** The input's probeMedia() result, when the caller has it (saves running ffprobe again). */
  readonly info?: MediaInfo;
  /** Called once ffmpeg runs, with its pid and command line (for logs, and for tests that watch the process). */
  readonly onStart?: (started: Started) => void;
  /** The ffmpeg / ffprobe to use; resolveFfmpeg() / resolveFfprobe() by default. */
  readonly ffmpeg?: ResolvedBinary;
  readonly ffprobe?: ResolvedBinary;
}

/**
 * The state between an ffmpeg process's stdout and a generator that hands out fixed-size blocks:
 * the blocks cut from the output, end and read errors, ffmpeg's fatal and warning lines, abort,
 * and a wake-up for the generator. A subclass decides when to pause the output (updateFlow) and
 * what a block becomes.
 */
export abstract class OutputPump<T> {
  protected readonly assembler: ChunkAssembler;
  protected readonly blocks: Buffer[] = [];
  protected stdoutEnded = false;
  protected tool: ToolProcess | null = null;
  protected aborted = false;
  protected fatalLine: string | null = null;
  protected readError: Error | null = null;
  private wake: (() => void) | null = null;
  private lastWarning = '';

  constructor(
    protected readonly input: string,
    blockSize: number,
    private readonly pumpOptions: OutputPumpOptions,
    pool?: BufferPool,
  ) {
    this.assembler = new ChunkAssembler(blockSize, pool);
  }

  /** Pauses or resumes the output as the blocks waiting for the consumer require. */
  protected abstract updateFlow(): void;

  /** True once no further item can come. */
  abstract get finished(): boolean;

  /** The next whole item, or null while none is ready. */
  abstract take(): T | null;

  /** Throws the input's error when ffmpeg ended badly (after the items were all taken). */
  abstract checkEnd(code: number | null, signal: NodeJS.Signals | null, stderrTail: readonly string[]): void;

  /**
   * The items in order as ffmpeg writes them, then its exit checked (checkEnd). An abort throws the
   * input's AbortError. run() attaches the pump before and kills the tool after.
   */
  private async *drain(tool: ToolProcess, signal?: AbortSignal): AsyncGenerator<T, void, undefined> {
    for (;;) {
      if (signal?.aborted) throw abortError(this.input);
      const item = this.take();
      if (item !== null) {
        yield item;
        continue;
      }
      if (this.finished) break;
      await this.changed();
    }
    if (signal?.aborted) throw abortError(this.input);
    const exit = await tool.closed;
    if (signal?.aborted) throw abortError(this.input);
    const tail = tool.stderrTail();
    const refused = exit.code !== 0 ? refusedDemuxer(tail) : null;
    if (refused !== null) throw new MediaError('UNSUPPORTED_INPUT', this.input, refusedFormatDetail(refused));
    const inside = exit.code !== 0 ? refusedReference(tail) : null;
    if (inside !== null) throw new MediaError('UNSUPPORTED_INPUT', this.input, inside);
    this.checkEnd(exit.code, exit.signal, tail);
  }

  /**
   * The items of `tool` (drain) with this pump attached; an abort of `signal` kills ffmpeg at once.
   * However the loop ends (done, break, throw in the consumer, abort, ffmpeg failure) ffmpeg is
   * killed (SIGKILL) and awaited before the loop statement ends. `started` is called once attached.
   */
  async *run(tool: ToolProcess, signal: AbortSignal | undefined, started: () => void): AsyncGenerator<T, void, undefined> {
    const onAbort = (): void => {
      this.abort();
      void tool.kill();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      this.attach(tool);
      started();
      yield* this.drain(tool, signal);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.detach();
      await tool.kill();
    }
  }

  private readonly onData = (chunk: Buffer): void => {
    for (const block of this.assembler.push(chunk)) this.blocks.push(block);
    this.updateFlow();
    this.notify();
  };

  private readonly onEnd = (): void => {
    this.stdoutEnded = true;
    this.notify();
  };

  private readonly onStreamError = (err: Error): void => {
    this.readError ??= err;
    this.stdoutEnded = true;
    this.notify();
  };

  attach(tool: ToolProcess): void {
    this.tool = tool;
    const stdout = tool.stdout;
    stdout.on('data', this.onData);
    stdout.once('end', this.onEnd);
    stdout.once('error', this.onStreamError);
    void tool.closed.then(() => this.notify());
  }

  detach(): void {
    const tool = this.tool;
    if (tool === null) return;
    tool.stdout.off('data', this.onData);
    this.blocks.length = 0;
  }

  abort(): void {
    this.aborted = true;
    this.notify();
  }

  onStderrLine(raw: string): void {
    const line = cleanToolLine(raw);
    if (line === '') return;
    if (!this.pumpOptions.tolerateCorruption && FATAL_DECODE_LINES.some((re) => re.test(line))) {
      this.fatalLine ??= line;
      return;
    }
    if (line !== this.lastWarning) this.pumpOptions.onWarning?.(line);
    this.lastWarning = line;
  }

  /** Resolves at the next event (data, end, exit, abort). */
  changed(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
    });
  }

  protected notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
