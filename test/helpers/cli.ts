import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT } from './testdata';

export const CER = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `cer` command line with arguments, as a user would. */
export function cer(args: string[], options: { cwd?: string; timeoutMs?: number } = {}): CliResult {
  const r = spawnSync(process.execPath, [CER, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 120000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
