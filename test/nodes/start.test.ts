import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { iconsNamed } from '../../tools/copy-node-assets';
import { REPO_ROOT } from '../helpers/testdata';
import { processExists } from '../media/fixtures';
import { startNodeRedProcess, type NodeRedProcess } from './start';

const MODULE = 'node-red-contrib-compound-expressions';
const PACKAGE_TYPES = ['cer-models', 'cer-media', 'cer-faces', 'cer-vs', 'cer-vd', 'cer-acoustic', 'cer-fusion', 'cer-rules', 'cer-fit-weights', 'cer-queue'];

interface NodeSet {
  id: string;
  module: string;
  types: string[];
  enabled: boolean;
  err?: string;
}

/** The icon our nodes' editor files name (`icon: 'x.svg'`), by node type. */
function iconsOfNodes(): Map<string, string> {
  const icons = new Map<string, string>();
  for (const type of PACKAGE_TYPES) {
    const [icon] = iconsNamed(fs.readFileSync(path.join(REPO_ROOT, 'nodes', type, `${type}.html`), 'utf8'));
    if (icon !== undefined) icons.set(type, icon);
  }
  return icons;
}

/**
 * What the editor gets of the package's icons, message catalogues and editor definitions through
 * the admin API of a running Node-RED: every icon a node names is served from the package (the
 * bytes of our file in icons/, not Node-RED's default arrow, which it sends for an icon it cannot
 * find), /icons lists every icon of icons/ once, and each node's catalogue is served in its namespace.
 */
async function checkEditorResources(url: string): Promise<void> {
  const get = async (p: string, accept: string): Promise<Response> => {
    const res = await fetch(new URL(p, url), { headers: { Accept: accept } });
    assert.equal(res.status, 200, p);
    return res;
  };
  const ours = fs.readdirSync(path.join(REPO_ROOT, 'icons')).filter((f) => f.endsWith('.svg')).sort();
  const listed = ((await (await get('icons', 'application/json')).json()) as Record<string, string[]>)[MODULE];
  assert.deepEqual([...(listed ?? [])].sort(), ours, '/icons lists each icon of icons/ once');
  const arrow = fs.readFileSync(require.resolve('@node-red/nodes/icons/arrow-in.svg'));
  const used = iconsOfNodes();
  assert.equal(used.size, PACKAGE_TYPES.length - 1, 'every node but the config node names an icon');
  for (const [type, icon] of used) {
    const served = Buffer.from(await (await get(`icons/${MODULE}/${icon}`, 'image/svg+xml')).arrayBuffer());
    assert.notDeepEqual(served, arrow, `${type}: ${icon} is Node-RED's default arrow`);
    assert.deepEqual(served, fs.readFileSync(path.join(REPO_ROOT, 'icons', icon)), `${type}: ${icon} is not our icons/${icon}`);
  }
  for (const type of PACKAGE_TYPES) {
    const catalogue = (await (await get(`nodes/${MODULE}/${type}/messages?lng=en-US`, 'application/json')).json()) as Record<string, { paletteLabel?: string }>;
    assert.deepEqual(catalogue, JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'nodes', type, 'locales', 'en-US', `${type}.json`), 'utf8')), `${type}: catalogue`);
  }
  const editor = await (await get('nodes', 'text/html')).text();
  // The config node has a name of its own for "Add new model…" and the help sidebar.
  assert.match(editor, /registerType\('cer-models', \{[\s\S]*?paletteLabel: function \(\) \{\s*return this\._\('cer-models\.paletteLabel'\);/);
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
    await checkEditorResources(red.url);
    // What a first-time user reads in the terminal: Node-RED's start-up log, no warnings or errors
    // (no unencrypted-credentials or projects notice, no native onnxruntime block).
    const log = red.output();
    assert.match(log, /\[info\] Started flows/);
    assert.deepEqual(log.split('\n').filter((l) => /warn|error/i.test(l)), [], log);
    const secret = fs.readFileSync(path.join(red.userDir, '.credential-secret'), 'utf8').trim();
    assert.match(secret, /^[0-9a-f]{64}$/);
    assert.equal(fs.statSync(path.join(red.userDir, '.credential-secret')).mode & 0o077, 0, 'only its owner reads the key');
    assert.match(JSON.parse(fs.readFileSync(path.join(red.userDir, 'flows_cred.json'), 'utf8')).$ as string, /^[0-9a-f]{32}/);

    const pid = red.pid;
    const code = await red.stop();
    assert.equal(code, 0, red.output());
    assert.equal(processExists(pid), false);
    assert.deepEqual(childrenOf(pid), []);
    red = null;
  });
});
