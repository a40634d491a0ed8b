import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { REPO_ROOT } from '../helpers/testdata';
import { startNodeRedProcess, type NodeRedProcess } from './start';

const CHROMIUM = '/usr/bin/chromium';
const EXAMPLES = path.join(REPO_ROOT, 'examples');
const EXAMPLE_FILES = fs.readdirSync(EXAMPLES).filter((n) => /^0\d-.*\.json$/.test(n)).sort();
const ARTIFACTS = path.join(REPO_ROOT, 'test', 'artifacts');
const CHART_ID = 'cer02chart';
const COMPOUNDS = ['Fearfully Surprised', 'Happily Surprised', 'Sadly Surprised', 'Disgustedly Surprised', 'Angrily Surprised', 'Sadly Fearful', 'Sadly Angry'];

interface ChartPoint {
  topic: string;
  payload: number;
}

/** The part of the Node-RED editor's API (window.RED) the layout check uses. */
interface EditorRed {
  nodes: {
    node(id: string): { w?: number; status?: { text?: string } } | null;
    eachNode(cb: (n: { id: string; z: string; x: number; y: number; w: number; h: number; status?: { text?: string } }) => void): void;
    eachWorkspace(cb: (w: { id: string }) => void): void;
  };
  view: { scale(): number };
  workspaces: { show(id: string): void };
}

/** The few DOM types the layout check uses in the page (this project compiles without the DOM library). */
interface PageBox {
  left: number;
  top: number;
  right: number;
  bottom: number;
}
interface PageElement {
  getBoundingClientRect(): PageBox;
  querySelector(selector: string): PageElement | null;
  readonly style: { display: string };
  readonly clientWidth: number;
  scrollLeft: number;
  scrollTop: number;
}
interface PageDocument {
  getElementById(id: string): PageElement | null;
}

/**
 * The chart's points cut into frames: the function node sends a frame's seven scores one after
 * another, in the canonical order, so a frame is seven points from "Fearfully Surprised" on (a
 * frame cut short when the page connected, and the last one if still arriving, are left out).
 */
function framesOf(points: readonly ChartPoint[]): ChartPoint[][] {
  const first = points.findIndex((p) => p.topic === COMPOUNDS[0]);
  const frames: ChartPoint[][] = [];
  for (let i = Math.max(first, 0); first >= 0 && i + COMPOUNDS.length <= points.length; i += COMPOUNDS.length) frames.push(points.slice(i, i + COMPOUNDS.length));
  return frames;
}

/** The compound expression with the highest score of a frame. */
function winner(frame: readonly ChartPoint[]): string {
  return frame.reduce((best, p) => (p.payload > best.payload ? p : best)).topic;
}

describe('example 02: the dashboard chart in headless Chromium', function () {
  let red: NodeRedProcess | null = null;
  let browser: BrowserContext | null = null;
  let profile: string | null = null;

  before(function () {
    if (!fs.existsSync(CHROMIUM)) {
      console.warn(`    skipped: ${CHROMIUM} is absent (apt-get install chromium)`);
      this.skip();
    }
  });

  after(async () => {
    await browser?.close();
    await red?.stop();
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
  });

  it('receives the seven compound scores of the live flow and draws them', async () => {
    // Example 02 runs (its inject fires on deploy); 01, 03 and 04 are deployed beside it, idle until
    // the layout check below presses their buttons.
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-chromium-'));
    const flows = path.join(profile, 'examples.json');
    fs.writeFileSync(flows, JSON.stringify(EXAMPLE_FILES.flatMap((f) => JSON.parse(fs.readFileSync(path.join(EXAMPLES, f), 'utf8')) as unknown[])));
    red = await startNodeRedProcess(['--flow', flows]);
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 800 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = browser.pages()[0] ?? (await browser.newPage());
    const points: ChartPoint[] = [];
    page.on('websocket', (ws) => {
      ws.on('framereceived', ({ payload }) => {
        const text = typeof payload === 'string' ? payload : payload.toString('utf8');
        const m = /^\d+(\[.*\])$/s.exec(text);
        if (!m) return;
        const [event, data] = JSON.parse(m[1]) as [string, ChartPoint | ChartPoint[]];
        if (event !== `msg-input:${CHART_ID}`) return;
        for (const p of Array.isArray(data) ? data : [data]) if (typeof p.payload === 'number') points.push({ topic: p.topic, payload: p.payload });
      });
    });
    await page.goto(new URL('dashboard/live', red.url).href, { waitUntil: 'load' });
    // The sample (10 s, looping in real time) shows a smiling astronaut, then Grace Hopper with a
    // straight face: the winning compound expression changes, and the chart's lines cross.
    const winners = (): Set<string> => new Set(framesOf(points).map(winner));
    const deadline = Date.now() + 90_000;
    // A whole loop of the sample at 5 frames/s: 50 frames; 60 to be sure.
    while (Date.now() < deadline && (new Set(points.map((p) => p.topic)).size < 7 || framesOf(points).length < 60 || winners().size < 2)) await page.waitForTimeout(500);
    assert.ok(framesOf(points).length >= 60, `the chart received ${points.length} values in 90 s\n${red.output().slice(-2000)}`);
    assert.deepEqual([...new Set(points.map((p) => p.topic))].sort(), [...COMPOUNDS].sort());
    assert.ok(points.every((p) => Number.isFinite(p.payload) && p.payload >= 0 && p.payload <= 2));
    const frames = framesOf(points);
    for (const f of frames) assert.deepEqual(f.map((p) => p.topic), COMPOUNDS, 'each frame: the seven scores in the canonical order');
    const counts = new Map<string, number>();
    for (const f of frames) counts.set(winner(f), (counts.get(winner(f)) ?? 0) + 1);
    console.log(`      ${frames.length} frames on the chart, winners: ${[...counts].map(([l, n]) => `${l} ${n}`).join(', ')}`);
    assert.ok(counts.size >= 2, `at least two different compound expressions win over the sample: ${JSON.stringify([...counts])}`);
    assert.ok(counts.has('Happily Surprised'), 'the smiling astronaut');
    // The chart is drawn (ECharts renders to a canvas) and its legend names the seven series.
    const chart = page.locator('.nrdb-ui-chart').first();
    await chart.waitFor({ state: 'visible', timeout: 30_000 });
    assert.ok((await chart.locator('canvas').count()) > 0, 'the chart has a canvas');
    // Beside the chart, whose face is being read: the face detector's msg.thumbnail, a 96 px JPEG
    // the browser decodes, under it the frame's label.
    const face = page.locator('img[alt="the face being read"]').first();
    await face.waitFor({ state: 'visible', timeout: 30_000 });
    const shown = await face.evaluate((img) => {
      const el = img as unknown as { src: string; naturalWidth: number; naturalHeight: number; complete: boolean; nextElementSibling: { textContent: string | null } | null };
      return { src: el.src.slice(0, 23), width: el.naturalWidth, height: el.naturalHeight, complete: el.complete, label: el.nextElementSibling?.textContent?.trim() ?? '' };
    });
    assert.equal(shown.src, 'data:image/jpeg;base64,');
    assert.ok(shown.complete && Math.max(shown.width, shown.height) === 96, `a 96 px face: ${JSON.stringify(shown)}`);
    assert.ok((COMPOUNDS as readonly string[]).includes(shown.label), `its label: ${JSON.stringify(shown)}`);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.waitForTimeout(1500);
    await page.screenshot({ path: path.join(ARTIFACTS, 'example-02-dashboard.png'), fullPage: true });
  });
  it('the editor at 1366×768 shows every example flow whole, with its status texts, without scrolling sideways; no node over another', async function () {
    if (!red || !browser) this.skip();
    const page = await browser.newPage();
    // A laptop's window: the editor keeps its default palette and sidebar widths, so the workspace
    // shows about 860 px of a flow's width.
    await page.setViewportSize({ width: 1366, height: 768 });
    await page.goto(red.url, { waitUntil: 'load' });
    await page.waitForFunction(() => {
      const RED = (globalThis as unknown as { RED?: EditorRed }).RED;
      // Loaded (a node is sized when its tab is first shown).
      return ['cer01media', 'cer02media', 'cer03media', 'cer04fit'].every((id) => RED?.nodes?.node(id) != null);
    }, null, { timeout: 60_000 });
    const tabs = await page.evaluate(() => {
      const ids: string[] = [];
      (globalThis as unknown as { RED: EditorRed }).RED.nodes.eachWorkspace((w) => ids.push(w.id));
      return ids;
    });
    assert.deepEqual([...tabs].sort(), ['cer01tab', 'cer02tab', 'cer03tab', 'cer04tab']);
    // The status texts as they are after a run (the longest ones: frame rates, labels, counts):
    // stop 02, press the buttons of 01, 03 and 04 (the editor's inject button, POST /inject/:id)
    // and wait for their ends.
    for (const id of ['cer02stop', 'cer01inject', 'cer03inject', 'cer04inject']) {
      const status = await page.evaluate((i) => fetch(`inject/${i}`, { method: 'POST' }).then((r) => r.status), id);
      assert.equal(status, 200, `inject ${id}`);
    }
    const ended = (): Promise<string[]> => page.evaluate(() => ['cer01media', 'cer03media', 'cer04media', 'cer04fit'].map((id) => (globalThis as unknown as { RED: EditorRed }).RED.nodes.node(id)?.status?.text ?? ''));
    const deadline = Date.now() + 180_000;
    let texts = await ended();
    while (Date.now() < deadline && !(texts.slice(0, 3).every((t) => t.startsWith('ended')) && texts[3].startsWith('fitted'))) {
      await page.waitForTimeout(1000);
      texts = await ended();
    }
    assert.ok(texts.slice(0, 3).every((t) => t.startsWith('ended')) && texts[3].startsWith('fitted'), `the runs ended: ${JSON.stringify(texts)}\n${red.output().slice(-2000)}`);
    await page.waitForTimeout(1000); // the last status updates
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    for (const tab of [...tabs].sort()) {
      await page.evaluate((t) => (globalThis as unknown as { RED: EditorRed }).RED.workspaces.show(t), tab);
      await page.waitForTimeout(500);
      // Measured on the drawn SVG, in workspace pixels (scale 1, not scrolled): each node's group as
      // drawn (body, label, ports, button, status) and, apart, its status (dot and text).
      const drawn = await page.evaluate((t) => {
        const doc = (globalThis as unknown as { document: PageDocument }).document;
        const chart = doc.getElementById('red-ui-workspace-chart') as PageElement;
        chart.scrollLeft = 0;
        chart.scrollTop = 0;
        const c = chart.getBoundingClientRect();
        type Box = PageBox;
        const local = (r: PageBox): Box => ({ left: r.left - c.left, top: r.top - c.top, right: r.right - c.left, bottom: r.bottom - c.top });
        const nodes: Array<{ id: string; body: Box; drawn: Box | null; status: Box | null; statusText: string }> = [];
        (globalThis as unknown as { RED: EditorRed }).RED.nodes.eachNode((n) => {
          if (n.z !== t) return;
          const g = doc.getElementById(n.id);
          const s = g?.querySelector('.red-ui-flow-node-status-group') ?? null;
          const text = n.status?.text ?? '';
          nodes.push({
            id: n.id,
            body: { left: n.x - n.w / 2, top: n.y - n.h / 2, right: n.x + n.w / 2, bottom: n.y + n.h / 2 },
            drawn: g ? local(g.getBoundingClientRect()) : null,
            status: s && s.style.display !== 'none' && text !== '' ? local(s.getBoundingClientRect()) : null,
            statusText: text,
          });
        });
        return { width: chart.clientWidth, scale: (globalThis as unknown as { RED: EditorRed }).RED.view.scale(), nodes };
      }, tab);
      await page.screenshot({ path: path.join(ARTIFACTS, `example-${tab.slice(3, 5)}-editor.png`) });
      assert.equal(drawn.scale, 1, 'the editor at its default zoom');
      assert.ok(drawn.width > 700 && drawn.width < 1000, `${tab}: the visible workspace is ${drawn.width} px wide at 1366×768`);
      assert.ok(drawn.nodes.length > 5, `${tab}: ${drawn.nodes.length} nodes drawn`);
      const withStatus = drawn.nodes.filter((n) => n.status !== null);
      assert.ok(withStatus.length >= 5, `${tab}: ${withStatus.length} status texts drawn`);
      for (const n of drawn.nodes) {
        assert.ok(n.drawn !== null, `${tab}: ${n.id} is drawn`);
        const right = Math.max(n.drawn.right, n.status?.right ?? 0);
        const where = `${tab}: ${n.id} (status "${n.statusText}") spans x ${Math.round(n.drawn.left)} … ${Math.round(right)}, y ${Math.round(n.drawn.top)} … ${Math.round(n.drawn.bottom)}`;
        assert.ok(n.drawn.left >= 0 && right <= drawn.width, `${where}: outside the visible workspace, 0 … ${drawn.width}`);
      }
      // No node within 10 px of another; no status text over another node or another status.
      const meets = (a: { left: number; top: number; right: number; bottom: number }, b: typeof a, gap: number): boolean =>
        !(a.right + gap <= b.left || b.right + gap <= a.left || a.bottom + gap <= b.top || b.bottom + gap <= a.top);
      for (const [i, a] of drawn.nodes.entries()) {
        for (const b of drawn.nodes.slice(i + 1)) assert.ok(!meets(a.body, b.body, 10), `${tab}: ${a.id} and ${b.id} overlap (10 px apart at least)`);
        for (const b of drawn.nodes) {
          if (a.status === null || b === a) continue;
          assert.ok(!meets(a.status, b.body, 0), `${tab}: the status of ${a.id} ("${a.statusText}") is over ${b.id}`);
          if (b.status !== null) assert.ok(!meets(a.status, b.status, 0), `${tab}: the statuses of ${a.id} and ${b.id} overlap`);
        }
      }
    }
    await page.close();
  });
});
