/** Starts Node-RED as `npm start` does (dist/tools/start-node-red.js) in a child process, for tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/testdata';
import { freePort } from '../helpers/ports';

export const START_SCRIPT = path.join(REPO_ROOT, 'dist', 'tools', 'start-node-red.js');

export interface NodeRedProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly url: string;
  readonly userDir: string;
  /** Everything it printed so far. */
  output(): string;
  /** SIGTERM by PID; resolves with the exit code once it has exited (SIGKILL after 15 s). */
  stop(): Promise<number | null>;
}

export async function startNodeRedProcess(args: readonly string[] = [], timeoutMs = 60_000): Promise<NodeRedProcess> {
  const port = await freePort();
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-node-red-'));
  const child = spawn(process.execPath, [START_SCRIPT, '--user-dir', userDir, '--reset', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Node-RED did not start within ${timeoutMs} ms:\n${text}`)), timeoutMs);
    const check = (): void => {
      const m = /Node-RED editor: (http:\/\/\S+)/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`Node-RED exited (${code}) before it started:\n${text}`));
    });
  });
  const pid = child.pid as number;
  return {
    child,
    pid,
    url,
    userDir,
    output: () => text,
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }, 15_000);
      const code = await exited;
      clearTimeout(timer);
      fs.rmSync(userDir, { recursive: true, force: true });
      return code;
    },
  };
}
