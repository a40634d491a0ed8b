import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { REPO_ROOT } from '../helpers/testdata';
import { startNodeRedProcess, type NodeRedProcess } from './start';

const CHROMIUM = '/usr/bin/chromium';
const EXAMPLE_02 = path.join(REPO_ROOT, 'examples', '02-camera-to-dashboard-chart.json');
const SAMPLE = path.join(REPO_ROOT, 'docs', 'samples', 'sample.mp4');
const ARTIFACTS = path.join(REPO_ROOT, 'test', 'artifacts');
const CHART_ID = 'cer02chart';
const COMPOUNDS = ['Fearfully Surprised', 'Happily Surprised', 'Sadly Surprised', 'Disgustedly Surprised', 'Angrily Surprised', 'Sadly Fearful', 'Sadly Angry'];

interface ChartPoint {
  topic: string;
  payload: number;
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
    if (!fs.existsSync(SAMPLE)) {
      console.warn(`    skipped: ${SAMPLE} is absent`);
      this.skip();
    }
  });

  after(async () => {
    await browser?.close();
    await red?.stop();
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
  });

  it('receives the seven compound scores of the live flow and draws them', async () => {
    red = await startNodeRedProcess(['--flow', EXAMPLE_02]);
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-chromium-'));
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
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline && (new Set(points.map((p) => p.topic)).size < 7 || points.length < 70)) await page.waitForTimeout(500);
    assert.ok(points.length >= 70, `the chart received ${points.length} values in 90 s\n${red.output().slice(-2000)}`);
    assert.deepEqual([...new Set(points.map((p) => p.topic))].sort(), [...COMPOUNDS].sort());
    assert.ok(points.every((p) => Number.isFinite(p.payload) && p.payload >= 0 && p.payload <= 2));
    // The chart is drawn (ECharts renders to a canvas) and its legend names the seven series.
    const chart = page.locator('.nrdb-ui-chart').first();
    await chart.waitFor({ state: 'visible', timeout: 30_000 });
    assert.ok((await chart.locator('canvas').count()) > 0, 'the chart has a canvas');
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.waitForTimeout(1500);
    await page.screenshot({ path: path.join(ARTIFACTS, 'example-02-dashboard.png'), fullPage: true });
  });
});
