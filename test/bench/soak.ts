/**
 * npm run soak -- --minutes N (default 5): the bundled sample played for N minutes as a live source,
 * at the same time
 *  - through a Node-RED flow (the media splitter looping the file in real time → faces → VS → VD,
 *    A → fusion → rules), in this process: its RSS, event-loop delay and open file descriptors;
 *  - through `cer analyze --allow-live`, reading the sample looped by ffmpeg as an MPEG-TS stream
 *    over HTTP (a local server here: each connection gets an ffmpeg of its own, so the probe and
 *    the decoder can both connect): the child's RSS and open file descriptors;
 * sampled every 10 s, printed as they come and summed up at the end (first sample after a minute
 * of warm-up against the last; goal: flat within 10 %).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { resolveFfmpeg } from '../../src/media/binaries';
import { CER } from '../helpers/cli';
import { SAMPLE_MP4 } from '../helpers/testdata';
import { helper, loadUnspied, NODES, pipelineFlow, sleep } from '../nodes/helpers';
import { freePort } from '../helpers/ports';

const SAMPLE_EVERY_MS = 10_000;
const WARM_UP_MS = 60_000;

interface Sample {
  readonly t: number;
  readonly flowRssMb: number;
  readonly loopDelayMeanMs: number;
  readonly loopDelayP99Ms: number;
  readonly flowFds: number;
  readonly flowResults: number;
  readonly cliRssMb: number | null;
  readonly cliFds: number | null;
}

function minutesOption(argv: readonly string[]): number {
  const i = argv.indexOf('--minutes');
  const value = i >= 0 ? Number(argv[i + 1]) : 5;
  if (!(value > 0 && value <= 24 * 60)) throw new Error(`--minutes: expected a number of minutes from 0 to 1440, got "${argv[i + 1]}"`);
  return value;
}

/** A child's resident memory (MB) and open descriptors, or nulls once it has gone. */
function childUsage(child: ChildProcess | null): { rssMb: number | null; fds: number | null } {
  if (child === null || child.pid === undefined || child.exitCode !== null) return { rssMb: null, fds: null };
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    return { rssMb: m ? Number(m[1]) / 1024 : null, fds: fs.readdirSync(`/proc/${child.pid}/fd`).length };
  } catch {
    return { rssMb: null, fds: null };
  }
}

const change = (first: number, last: number): string => `${first.toFixed(1)} → ${last.toFixed(1)} (${first > 0 ? `${(((last - first) / first) * 100).toFixed(1)} %` : 'n/a'})`;

async function main(): Promise<void> {
  const minutes = minutesOption(process.argv.slice(2));
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-soak-'));
  console.log(`soak: ${minutes} min, the sample (${path.basename(SAMPLE_MP4)}) looped live through a flow and through cer analyze; a sample every ${SAMPLE_EVERY_MS / 1000} s`);
  const ffmpeg = resolveFfmpeg().path;
  let server: http.Server | null = null;
  const feeds = new Set<ChildProcess>();
  let cli: ChildProcess | null = null;
  let cliStderr = '';
  const samples: Sample[] = [];
  try {
    // The flow: the splitter loops the file in real time, each pass a stream of its own.
    await helper.startServer();
    const flow = pipelineFlow();
    const media = flow.find((n) => n.id === 'media');
    if (media === undefined) throw new Error('no media node in the flow');
    Object.assign(media, { loop: true, realtime: true });
    await loadUnspied(NODES, flow);
    let flowResults = 0;
    helper.getNode('out').on('input', () => flowResults++);
    helper.getNode('caught').on('input', (msg) => console.log(`  flow error: ${JSON.stringify(msg.error?.message ?? msg.error)}`));
    helper.getNode('media').receive({ payload: SAMPLE_MP4 });

    // The command line: ffmpeg serves the sample looped as MPEG-TS over HTTP; cer reads it live.
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/sample.ts`;
    server = http.createServer((req, res) => {
      const feed = spawn(ffmpeg, ['-v', 'error', '-re', '-stream_loop', '-1', '-i', SAMPLE_MP4, '-c', 'copy', '-f', 'mpegts', 'pipe:1'], { stdio: ['ignore', 'pipe', 'ignore'] });
      feeds.add(feed);
      feed.once('exit', () => feeds.delete(feed));
      res.writeHead(200, { 'Content-Type': 'video/mp2t' });
      feed.stdout?.pipe(res);
      res.once('close', () => feed.kill('SIGTERM'));
    });
    await new Promise<void>((resolve) => server?.listen(port, '127.0.0.1', resolve));
    cli = spawn(process.execPath, [CER, 'analyze', url, '--allow-live', '--out', out, '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
    cli.stderr?.on('data', (d: Buffer) => (cliStderr = (cliStderr + d.toString()).slice(-2000)));

    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const started = Date.now();
    console.log('   t (s)  flow RSS (MB)  loop delay mean/p99 (ms)  flow fds  results   cer RSS (MB)  cer fds');
    while (Date.now() - started < minutes * 60_000) {
      await sleep(SAMPLE_EVERY_MS);
      const c = childUsage(cli);
      const s: Sample = {
        t: Math.round((Date.now() - started) / 1000),
        flowRssMb: process.memoryUsage().rss / 2 ** 20,
        loopDelayMeanMs: delay.mean / 1e6,
        loopDelayP99Ms: delay.percentile(99) / 1e6,
        flowFds: fs.readdirSync('/proc/self/fd').length,
        flowResults,
        cliRssMb: c.rssMb,
        cliFds: c.fds,
      };
      delay.reset();
      samples.push(s);
      console.log(
        `  ${String(s.t).padStart(6)}  ${s.flowRssMb.toFixed(1).padStart(13)}  ${`${s.loopDelayMeanMs.toFixed(1)} / ${s.loopDelayP99Ms.toFixed(1)}`.padStart(24)}  ${String(s.flowFds).padStart(8)}  ${String(s.flowResults).padStart(7)}  ${(s.cliRssMb?.toFixed(1) ?? 'gone').padStart(13)}  ${String(s.cliFds ?? '-').padStart(7)}`,
      );
    }
    delay.disable();
    helper.getNode('media').receive({ payload: 'stop' });
    await sleep(1000);
  } finally {
    cli?.kill('SIGTERM');
    for (const feed of feeds) feed.kill('SIGTERM');
    server?.close();
    await helper.unload().catch(() => undefined);
    await helper.stopServer().catch(() => undefined);
    fs.rmSync(out, { recursive: true, force: true });
  }
  const first = samples.find((s) => s.t * 1000 >= WARM_UP_MS) ?? samples[0];
  const last = samples[samples.length - 1];
  if (first === undefined || last === undefined) throw new Error('no samples: run for at least 10 s');
  console.log(`summary (sample at ${first.t} s → sample at ${last.t} s):`);
  console.log(`  flow RSS (MB):               ${change(first.flowRssMb, last.flowRssMb)}`);
  console.log(`  flow event-loop delay (ms):  mean ${change(first.loopDelayMeanMs, last.loopDelayMeanMs)}, p99 ${change(first.loopDelayP99Ms, last.loopDelayP99Ms)}`);
  console.log(`  flow open fds:               ${first.flowFds} → ${last.flowFds}`);
  console.log(`  flow results:                ${last.flowResults} (${((last.flowResults - first.flowResults) / Math.max(1, last.t - first.t)).toFixed(1)} a second)`);
  if (first.cliRssMb !== null && last.cliRssMb !== null) console.log(`  cer analyze RSS (MB):        ${change(first.cliRssMb, last.cliRssMb)}; open fds ${first.cliFds} → ${last.cliFds}`);
  else console.log(`  cer analyze: ended early; its last words: ${cliStderr.trim().split('\n').pop() ?? ''}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`soak: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
