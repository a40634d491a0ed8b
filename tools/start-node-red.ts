/**
 * `npm start`: Node-RED with this package installed and an example flow deployed (example 01 on
 * the bundled sample by default), in a user folder inside the project (.node-red-userdir, kept out
 * of git). Prints the editor's address.
 *
 *   node dist/tools/start-node-red.js [--port N] [--host H] [--flow FILE] [--user-dir DIR] [--reset]
 *
 * The port comes from --port, else $PORT, else 1880 (0 picks a free one); the host from --host,
 * else $HOST, else 127.0.0.1. The flow file is written from the example when the user folder has
 * none yet, or whenever --flow or --reset is given; otherwise the flows saved from the editor stay.
 * The package is installed into the user folder as `npm link` does (a link in its node_modules).
 * Node-RED runs in this process; SIGINT or SIGTERM stops it cleanly.
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { PACKAGE_ROOT } from '../src/models/manifest';

type Next = (err?: unknown) => void;
type Handler = (req: http.IncomingMessage, res: http.ServerResponse, next: Next) => void;

/** The part of node-red's embedding API used here. */
interface NodeRedRuntime {
  init(server: http.Server, settings: Record<string, unknown>): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly httpAdmin: Handler;
  readonly httpNode: Handler;
  readonly version: () => string;
}

export interface StartOptions {
  readonly port: number;
  readonly host: string;
  readonly userDir: string;
  /** Example flow to deploy (written when the user folder has no flows, or always with `reset`). */
  readonly flow: string;
  readonly reset: boolean;
}

export const DEFAULT_FLOW = path.join(PACKAGE_ROOT, 'examples', '01-file-to-compound-expressions.json');
export const DEFAULT_USER_DIR = path.join(PACKAGE_ROOT, '.node-red-userdir');
const FLOW_FILE = 'flows.json';

export function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): StartOptions {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
    return v;
  };
  const portText = value('--port') ?? env.PORT ?? '1880';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`port must be 0 … 65535, got "${portText}"`);
  const flowGiven = value('--flow');
  return {
    port,
    host: value('--host') ?? env.HOST ?? '127.0.0.1',
    userDir: path.resolve(value('--user-dir') ?? DEFAULT_USER_DIR),
    flow: path.resolve(flowGiven ?? DEFAULT_FLOW),
    reset: argv.includes('--reset') || flowGiven !== undefined,
  };
}

/** The user folder: the package linked into its node_modules, the example flow in place. */
export function prepareUserDir(options: StartOptions): void {
  const modules = path.join(options.userDir, 'node_modules');
  fs.mkdirSync(modules, { recursive: true });
  const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { name: string };
  const link = path.join(modules, pkg.name);
  let current: string | null = null;
  try {
    current = fs.readlinkSync(link);
  } catch {
    current = null;
  }
  if (current !== PACKAGE_ROOT) {
    fs.rmSync(link, { recursive: true, force: true });
    fs.symlinkSync(PACKAGE_ROOT, link, 'dir');
  }
  const userPackage = path.join(options.userDir, 'package.json');
  if (!fs.existsSync(userPackage)) {
    fs.writeFileSync(userPackage, JSON.stringify({ name: 'node-red-project', description: 'Node-RED user folder of npm start', version: '0.0.1', private: true, dependencies: { [pkg.name]: `file:${PACKAGE_ROOT}` } }, null, 2) + '\n');
  }
  const flowFile = path.join(options.userDir, FLOW_FILE);
  if (options.reset || !fs.existsSync(flowFile)) fs.copyFileSync(options.flow, flowFile);
}

/**
 * The key the user folder's credentials are encrypted with: made once, kept in the folder (only
 * its owner reads it). Node-RED warns on every start when credentials are not encrypted, and with
 * a block of text when it has to make a key of its own.
 */
export function credentialSecret(userDir: string): string {
  const file = path.join(userDir, '.credential-secret');
  let secret: string;
  try {
    secret = fs.readFileSync(file, 'utf8').trim();
  } catch {
    secret = randomBytes(32).toString('hex');
    fs.writeFileSync(file, secret + '\n', { mode: 0o600 });
  }
  // An empty credentials file, encrypted as Node-RED encrypts it (aes-256-ctr, key sha256(secret),
  // the IV in hex before the base64: encryptCredentials in @node-red/runtime/lib/nodes/credentials.js;
  // test/nodes/start.test.ts fails on any warning if that changes): without one Node-RED warns
  // "Encrypted credentials not found".
  const credentials = path.join(userDir, 'flows_cred.json');
  if (!fs.existsSync(credentials)) {
    const iv = randomBytes(16);
    const cipher = createCipheriv('aes-256-ctr', createHash('sha256').update(secret).digest(), iv);
    fs.writeFileSync(credentials, JSON.stringify({ $: iv.toString('hex') + cipher.update('{}', 'utf8', 'base64') + cipher.final('base64') }) + '\n', { mode: 0o600 });
  }
  return secret;
}

export interface Started {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts Node-RED in this process with the prepared user folder. */
export async function startNodeRed(options: StartOptions): Promise<Started> {
  prepareUserDir(options);
  const RED = require('node-red') as NodeRedRuntime;
  const settings: Record<string, unknown> = {
    userDir: options.userDir,
    flowFile: FLOW_FILE,
    uiPort: options.port,
    uiHost: options.host,
    httpAdminRoot: '/',
    httpNodeRoot: '/',
    credentialSecret: credentialSecret(options.userDir),
    logging: { console: { level: 'info', metrics: false, audit: false } },
    // Projects stay off. Node-RED logs a warning when `enabled` is false or projects is absent.
    editorTheme: { projects: {}, tours: false },
    diagnostics: { enabled: false },
    // No calls home (this machine may have no network), and no consent dialog over the editor.
    telemetry: { enabled: false, updateNotification: false },
  };
  const server = http.createServer((req, res) => {
    RED.httpAdmin(req, res, () =>
      RED.httpNode(req, res, () => {
        res.statusCode = 404;
        res.end('not found\n');
      }),
    );
  });
  RED.init(server, settings);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  settings.uiPort = port;
  await RED.start();
  const shown = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  const url = `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}/`;
  let stopping: Promise<void> | null = null;
  return {
    url,
    port,
    stop: () =>
      (stopping ??= (async () => {
        await RED.stop();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })()),
  };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const sample = path.join(PACKAGE_ROOT, 'docs', 'samples', 'sample.mp4');
  if (!fs.existsSync(sample)) process.stderr.write(`start: ${sample} is missing; the example flow will report it\n`);
  const started = await startNodeRed(options);
  process.stdout.write(`\nNode-RED editor: ${started.url}\n(user folder ${path.relative(process.cwd(), options.userDir) || '.'}, flow ${path.basename(options.flow)}; Ctrl-C stops it)\n\n`);
  const stop = (): void => {
    started.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
