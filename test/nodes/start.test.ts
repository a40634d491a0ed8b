import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { processExists } from '../media/fixtures';
import { startNodeRedProcess, type NodeRedProcess } from './start';

const PACKAGE_TYPES = ['cer-models', 'cer-media', 'cer-faces', 'cer-vs', 'cer-vd', 'cer-acoustic', 'cer-fusion', 'cer-rules', 'cer-fit-weights'];

interface NodeSet {
  id: string;
  module: string;
  types: string[];
  enabled: boolean;
  err?: string;
}

/** Child processes of a pid (from /proc). */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry));
    } catch {
      // ended while we looked
    }
  }
  return found;
}

describe('npm start: Node-RED with this package, headless', function () {
  let red: NodeRedProcess | null = null;

  after(async () => {
    await red?.stop();
  });

  it('starts, serves the admin API with every node type of the package, and stops by its PID', async () => {
    red = await startNodeRedProcess();
    const res = await fetch(new URL('nodes', red.url), { headers: { Accept: 'application/json' } });
    assert.equal(res.status, 200);
    const sets = (await res.json()) as NodeSet[];
    const ours = sets.filter((s) => s.module === 'node-red-contrib-compound-expressions');
    for (const s of ours) assert.equal(s.err, undefined, `${s.id}: ${s.err}`);
    const types = ours.filter((s) => s.enabled).flatMap((s) => s.types);
    assert.deepEqual([...types].sort(), [...PACKAGE_TYPES].sort());
    // The example flow is deployed and its nodes run.
    const flows = (await (await fetch(new URL('flows', red.url), { headers: { Accept: 'application/json' } })).json()) as Array<{ type: string }>;
    assert.ok(flows.some((n) => n.type === 'cer-media') && flows.some((n) => n.type === 'cer-rules'), 'example 01 is deployed');
    // Its help is served to the editor.
    const help = await (await fetch(new URL('nodes/node-red-contrib-compound-expressions/cer-media', red.url), { headers: { Accept: 'text/html' } })).text();
    assert.match(help, /data-help-name="cer-media"/);
    assert.match(help, /data-template-name="cer-media"/);

    const pid = red.pid;
    const code = await red.stop();
    assert.equal(code, 0, red.output());
    assert.equal(processExists(pid), false);
    assert.deepEqual(childrenOf(pid), []);
    red = null;
  });
});
