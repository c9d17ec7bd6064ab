// npm run bench -- dashboard: does the dashboard stay smooth while a fleet sends 20,000 readings/s? Page frames
// per second (rAF callbacks counted in the page), the longest frame, JS heap, and the MQTT messages and renders
// the page handled, on the home view and on a device view. The hub, the fleet (hearth-sim) and Chromium each
// run in their own processes; this one only orchestrates. Run alone: node dist/bench/dashboard.js
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type CDPSession, type Page } from 'playwright-core';
import { MODELS } from '../device-sim/models/index.js';
import { UserStore } from '../hub/auth/user-store.js';
import { provisionFleet, spawnNode, startHubProcess, type Child } from './proc.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run'];
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SIM_CLI = fileURLToPath(new URL('../device-sim/cli.js', import.meta.url));
const ROOMS = ['Kitchen', 'Living room', 'Bedroom', 'Office', 'Hall', 'Garage', 'Bathroom', 'Garden'];
const USER = { name: 'bench', password: 'bench-password' };

export interface DashboardBenchOptions {
  /** Readings per second the fleet aims at across all devices (default 20,000). */
  readingsPerSecond?: number;
  devices?: number;
  /** Seconds measured per phase (default 10). */
  seconds?: number;
}

export interface PhaseResult {
  phase: string;
  /** Readings/s the hub committed during the phase (from /api/hub counters). */
  hubReadingsPerSec: number;
  pageMessagesPerSec: number;
  pageRendersPerSec: number;
  fps: number;
  longestFrameMs: number;
  /** JS heap in use after a forced GC, at the end of the phase. */
  heapUsedBytes: number;
}

export interface DashboardBenchResult {
  devices: number;
  targetReadingsPerSec: number;
  bundleBytes: number;
  /** Sign-in click to every device's tile in the page (the target: under 1 s for 500). */
  firstRenderMs: number;
  /** The page alone (no hub): synthetic state messages through the real store and home view. */
  synthetic: PhaseResult[];
  /** End to end: the fleet through the hub and MQTT over WebSocket. */
  phases: PhaseResult[];
}

/** Runs the benchmark: hub, fleet and browser up, three measured phases, everything torn down. */
export async function runDashboardBench(opts: DashboardBenchOptions = {}): Promise<DashboardBenchResult> {
  if (!existsSync(CHROMIUM)) throw new Error(`the dashboard benchmark needs Chromium at ${CHROMIUM} (apt-get install chromium)`);
  const target = opts.readingsPerSecond ?? 20_000;
  const count = opts.devices ?? 500;
  const seconds = opts.seconds ?? 10;
  ensureDashboardBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-dashboard-'));
  let hub: Child | null = null;
  let fleet: Child | null = null;
  let browser: Browser | null = null;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const synthetic: PhaseResult[] = [];
    // 3 readings per state message: target/3 messages/s is the fleet's load; target messages/s is headroom.
    for (const perSecond of [Math.round(target / 3), target]) synthetic.push(await syntheticPhase(browser, count, perSecond, seconds));

    const { credentials, rate } = await prepare(dir, count, target);
    const started = await startHubProcess(dir, [
      '--mqtt-port', 'off', '--mqtt-tls-port', 'off', '--mqtt-embedded', 'true', '--mqtt-websocket', 'true', '--devices-max-frames-per-second', '1000',
    ]);
    hub = started.child;
    const url = started.url;
    const adminToken = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
    const committed = async () => Number(((await hubInfo(url, adminToken)).ingest as { readingsCommitted?: number } | undefined)?.readingsCommitted ?? 0);

    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await page.goto(`${url}/`);
    const bundleBytes = await page.evaluate(() =>
      performance.getEntriesByType('resource').filter((e) => e.name.endsWith('.js')).reduce((n, e) => n + (e as PerformanceResourceTiming).encodedBodySize, 0),
    );
    await page.fill('#username', USER.name);
    await page.fill('#password', USER.password);
    const signInAt = Date.now();
    await page.click('form.sign-in button[type=submit]');
    await page.waitForFunction((n) => document.querySelectorAll('.tile[data-device]').length >= n, count, { timeout: 30_000, polling: 'raf' });
    const firstRenderMs = Date.now() - signInAt;

    const phases: PhaseResult[] = [];
    phases.push(await measure(page, cdp, 'home view, fleet idle', seconds, committed));

    fleet = spawnNode(SIM_CLI, ['--hub', url.replace('https://', 'wss://'), '--credentials', credentials, '--rate', String(rate), '--insecure', '--json', '--ramp', '1000', '--duration', `${seconds * 3 + 30}s`]);
    // Let every device connect and the hub reach its steady rate before measuring.
    await waitUntil(async () => ((await hubInfo(url, adminToken)).devices as { online?: number } | undefined)?.online === count, 60_000);
    await sleep(3000);
    phases.push(await measure(page, cdp, `home view, ${count} devices sending`, seconds, committed));

    const device = (await page.locator('.tile[data-device]').first().getAttribute('data-device'))!;
    await page.goto(`${url}/#/device/${encodeURIComponent(device)}`);
    await page.waitForFunction(() => document.querySelectorAll('.chart[data-points]').length > 0, undefined, { timeout: 30_000 });
    await sleep(1000);
    phases.push(await measure(page, cdp, 'device view (charts, live points), fleet sending', seconds, committed));

    return { devices: count, targetReadingsPerSec: target, bundleBytes, firstRenderMs, synthetic, phases };
  } finally {
    await browser?.close().catch(() => {});
    for (const child of [fleet, hub]) {
      if (child && child.proc.exitCode === null) {
        child.proc.kill('SIGTERM');
        await child.exited;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Devices over every simulated model, in named rooms; the per-device rate that makes `target` readings/s. */
async function prepare(dir: string, count: number, target: number): Promise<{ credentials: string; rate: number }> {
  const models = Object.values(MODELS);
  const credentials = provisionFleet(dir, count, (i) => {
    const model = models[i % models.length]!;
    return {
      id: `bench-${model.name}-${String(i).padStart(4, '0')}`,
      name: `${ROOMS[i % ROOMS.length]} / ${model.name.replace(/_/g, ' ')} ${i}`,
      model: model.name,
    };
  });
  let readingsPerTick = 0;
  for (let i = 0; i < count; i++) readingsPerTick += models[i % models.length]!.capabilities.filter((c) => !c.event).length;
  const users = new UserStore({ dataDir: dir });
  await users.add(USER.name, USER.password, 'viewer');
  return { credentials, rate: target / readingsPerTick };
}

/** Counts animation frames in the page for `seconds` while the hub's commit counter and the page's own counters run. */
async function measure(page: Page, cdp: CDPSession, phase: string, seconds: number, committed: () => Promise<number>): Promise<PhaseResult> {
  const stats = () => page.evaluate(() => ({ ...(window as unknown as { hearthStats: { messages: number; renders: number } }).hearthStats }));
  const [c0, s0] = [await committed(), await stats()];
  const t0 = Date.now();
  const frames = await page.evaluate(
    (ms) =>
      new Promise<{ frames: number; elapsed: number; longest: number }>((resolve) => {
        let frames = 0;
        let longest = 0;
        const start = performance.now();
        let last = start;
        const tick = (t: number) => {
          frames++;
          longest = Math.max(longest, t - last);
          last = t;
          if (t - start < ms) requestAnimationFrame(tick);
          else resolve({ frames, elapsed: t - start, longest });
        };
        requestAnimationFrame(tick);
      }),
    seconds * 1000,
  );
  const [c1, s1] = [await committed(), await stats()];
  const dt = (Date.now() - t0) / 1000;
  await cdp.send('HeapProfiler.collectGarbage');
  const heap = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number };
  return {
    phase,
    hubReadingsPerSec: (c1 - c0) / dt,
    pageMessagesPerSec: (s1.messages - s0.messages) / dt,
    pageRendersPerSec: (s1.renders - s0.renders) / dt,
    fps: (frames.frames / frames.elapsed) * 1000,
    longestFrameMs: frames.longest,
    heapUsedBytes: heap.usedSize,
  };
}

/** Runs dashboard/src/synthetic-load.ts in a blank page with the dashboard's style sheet. */
async function syntheticPhase(browser: Browser, devices: number, perSecond: number, seconds: number): Promise<PhaseResult> {
  const esbuild = await import('esbuild');
  const src = join(REPO, 'dashboard', 'src');
  const bundle = await esbuild.build({
    stdin: { contents: "import { runSyntheticLoad } from './synthetic-load.ts'; (window as any).runSyntheticLoad = runSyntheticLoad;", resolveDir: src, loader: 'ts' },
    bundle: true, minify: true, format: 'iife', platform: 'browser', target: ['es2022'], write: false, logLevel: 'warning',
  });
  const css = readFileSync(join(REPO, 'dashboard', 'style.css'), 'utf8');
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await page.setContent(`<!doctype html><html><head><style>${css}</style></head><body><main id="root"></main></body></html>`);
    await page.addScriptTag({ content: bundle.outputFiles[0]!.text });
    const r = await page.evaluate(
      (o) => (window as unknown as { runSyntheticLoad: (root: HTMLElement, o: unknown) => Promise<{ messages: number; renders: number; frames: number; elapsedMs: number; longestFrameMs: number }> }).runSyntheticLoad(document.getElementById('root')!, o),
      { devices, messagesPerSecond: perSecond, seconds },
    );
    await cdp.send('HeapProfiler.collectGarbage');
    const heap = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number };
    const s = r.elapsedMs / 1000;
    return {
      phase: `page only: ${devices} tiles, ${perSecond.toLocaleString('en-US')} state messages/s x 3 readings`,
      hubReadingsPerSec: NaN,
      pageMessagesPerSec: r.messages / s,
      pageRendersPerSec: r.renders / s,
      fps: r.frames / s,
      longestFrameMs: r.longestFrameMs,
      heapUsedBytes: heap.usedSize,
    };
  } finally {
    await context.close();
  }
}

/** The markdown table of a run. */
export function formatDashboardBench(r: DashboardBenchResult): string {
  const k = (n: number) => Math.round(n).toLocaleString('en-US');
  return [
    `Dashboard under load: ${k(r.devices)} simulated devices aiming at ${k(r.targetReadingsPerSec)} readings/s; headless Chromium, 1280x900; bundle ${(r.bundleBytes / 1024).toFixed(0)} KiB transferred; first render of every tile ${k(r.firstRenderMs)} ms after sign-in.`,
    '',
    '| phase | hub readings/s | MQTT messages/s to the page | renders/s | page fps | longest frame | JS heap after GC |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...[...r.synthetic, ...r.phases].map(
      (p) =>
        `| ${p.phase} | ${Number.isNaN(p.hubReadingsPerSec) ? '—' : k(p.hubReadingsPerSec)} | ${k(p.pageMessagesPerSec)} | ${k(p.pageRendersPerSec)} | ${p.fps.toFixed(1)} | ${p.longestFrameMs.toFixed(0)} ms | ${(p.heapUsedBytes / 2 ** 20).toFixed(1)} MiB |`,
    ),
  ].join('\n');
}

function hubInfo(url: string, token: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/api/hub`, { headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        try {
          resolve(JSON.parse(text) as Record<string, unknown>);
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(250);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Builds dist/dashboard when it is missing (npm run build does it too). */
function ensureDashboardBuilt(): void {
  if (existsSync(join(REPO, 'dist', 'dashboard', 'index.html'))) return;
  execFileSync(process.execPath, [join(REPO, 'dashboard', 'build.mjs')], { cwd: REPO, stdio: 'inherit' });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(formatDashboardBench(await runDashboardBench()));
}
