// What the dashboard's browser tests share: a real hub (embedded MQTT over WebSocket), users of each role,
// devices of every simulator model greeting with the models' real capabilities, Chromium through
// playwright-core, and the page checks: geometry (no content overflowing its box), axe-core, screenshots.
import { describe, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import WebSocket from 'ws';
import { UserStore } from '../../hub/auth/user-store.js';
import type { Hub } from '../../hub/hub.js';
import { MODELS } from '../../device-sim/models/index.js';
import { Rng } from '../../device-sim/rng.js';
import type { Frame } from '../../protocol/types.js';
import { startHub } from './hub-harness.js';
import { call } from './http.js';
import { RawDevice } from './raw-device.js';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run'];
const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const OUTPUT = join(REPO, 'test-output');
/** Bound on every wait for the page; a healthy run needs well under a second per step. */
export const WAIT_MS = 10_000;
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };
export const USERS = {
  admin: { name: 'alice', password: 'correct horse battery' },
  viewer: { name: 'vic', password: 'just looking' },
  integration: { name: 'ina', password: 'node red flows' },
};

export const haveChromium = existsSync(CHROMIUM);

/** `describe` when Chromium is installed; else a skip with a message, or under CI=true one failing test. */
export function describeInChromium(name: string, body: () => void): void {
  if (haveChromium) return describe(name, body);
  const message = `${name}: ${CHROMIUM} is missing (apt-get install chromium); ${process.env.CI === 'true' ? 'failing under CI=true' : 'skipping'}`;
  console.warn(message);
  if (process.env.CI === 'true') describe(name, () => it('needs Chromium at /usr/bin/chromium', () => { throw new Error(message); }));
  else describe.skip(name, body);
}

/** A page with the JavaScript errors it raised. */
export type CheckedPage = Page & { problems: string[] };

export interface FleetDevice {
  id: string;
  model: string;
  device: RawDevice | null;
  token: string;
  seq: number;
}

export class DashboardFixture {
  hub!: Hub;
  base = '';
  wssUrl = '';
  dataDir = '';
  browser!: Browser;
  readonly fleet = new Map<string, FleetDevice>();
  readonly #contexts: BrowserContext[] = [];
  #stopHub: (() => Promise<void>) | null = null;

  /** Starts the hub and Chromium; `overrides` are hub config keys. */
  async start(overrides: Record<string, unknown> = {}): Promise<void> {
    ensureDashboardBuilt();
    this.dataDir = mkdtempSync(join(tmpdir(), 'hearth-dashboard-e2e-'));
    const users = new UserStore({ dataDir: this.dataDir });
    await users.add(USERS.admin.name, USERS.admin.password, 'admin');
    await users.add(USERS.viewer.name, USERS.viewer.password, 'viewer');
    await users.add(USERS.integration.name, USERS.integration.password, 'integration');
    const h = await startHub({ dataDir: this.dataDir, overrides: { 'mqtt.embedded': true, 'mqtt.websocket': true, 'devices.commandTimeoutMs': 3000, ...overrides } });
    this.hub = h.hub;
    this.#stopHub = h.stop;
    this.base = `https://127.0.0.1:${this.hub.port}`;
    this.wssUrl = h.wssUrl;
    this.browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }

  async stop(): Promise<void> {
    for (const c of this.#contexts) await c.close().catch(() => {});
    await this.browser?.close();
    for (const d of this.fleet.values()) if (d.device?.ws.readyState === WebSocket.OPEN) await d.device.close();
    await this.#stopHub?.();
    if (this.dataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** The HTTP API as the admin token. */
  api(method: string, path: string, body?: unknown) {
    return call(this.base, this.hub.tls.cert, method, path, { token: this.hub.adminToken, ...(body === undefined ? {} : { body }) });
  }

  /** Provisions a device of simulator model `model` with `name` and `room`; connects it unless `online` is false. */
  async addDevice(id: string, model: keyof typeof MODELS | string, opts: { name?: string; room?: string | null; online?: boolean } = {}): Promise<FleetDevice> {
    const res = await this.api('POST', '/api/devices', { id, name: opts.name ?? id, type: model });
    if (res.status !== 201) throw new Error(`provisioning ${id}: ${res.status} ${JSON.stringify(res.body)}`);
    if (opts.room) await this.api('PATCH', `/api/devices/${encodeURIComponent(id)}`, { room: opts.room });
    const entry: FleetDevice = { id, model, device: null, token: res.body.token as string, seq: 0 };
    this.fleet.set(id, entry);
    if (opts.online !== false) await this.connect(id);
    return entry;
  }

  /** Greets with the model's capabilities and sends its first readings; `stayOnline: false` disconnects after. */
  async connect(id: string, opts: { stayOnline?: boolean } = {}): Promise<RawDevice> {
    const entry = this.fleet.get(id)!;
    const model = MODELS[entry.model]!;
    const { device } = await RawDevice.greet(this.wssUrl, id, entry.token, { model: model.model, firmware: model.firmware, lastAckedSeq: entry.seq, capabilities: [...model.capabilities] });
    entry.device = device;
    const state = model.init(Date.now(), new Rng(id.length));
    const readings = model.readings(state);
    if (readings.length > 0) {
      const seq = ++entry.seq;
      device.send({ type: 'telemetry', seq, ts: Date.now(), readings });
      await device.ackFor(seq);
    }
    if (opts.stayOnline === false) {
      await device.close();
      entry.device = null;
    }
    return device;
  }

  /** Sends one telemetry frame and waits for its ACK. */
  async send(id: string, readings: { metric: number; value: Extract<Frame, { type: 'telemetry' }>['readings'][number]['value'] }[], ts = Date.now()): Promise<void> {
    const entry = this.fleet.get(id)!;
    const seq = ++entry.seq;
    entry.device!.send({ type: 'telemetry', seq, ts, readings });
    await entry.device!.ackFor(seq);
  }

  async openPage(opts: { viewport?: { width: number; height: number }; colorScheme?: 'light' | 'dark' } = {}): Promise<CheckedPage> {
    const context = await this.browser.newContext({ ignoreHTTPSErrors: true, viewport: opts.viewport ?? DESKTOP, colorScheme: opts.colorScheme ?? 'light' });
    this.#contexts.push(context);
    const page = (await context.newPage()) as CheckedPage;
    page.setDefaultTimeout(WAIT_MS);
    page.problems = [];
    page.on('pageerror', (err) => page.problems.push(err.message));
    await page.goto(`${this.base}/`);
    return page;
  }

  async signIn(user: { name: string; password: string } = USERS.admin, opts: Parameters<DashboardFixture['openPage']>[0] = {}): Promise<CheckedPage> {
    const page = await this.openPage(opts);
    await page.fill('#username', user.name);
    await page.fill('#password', user.password);
    await page.click('form.sign-in button[type=submit]');
    await page.waitForSelector('.view');
    await page.waitForFunction(() => document.documentElement.dataset.live === 'online');
    return page;
  }
}

/** Elements whose content overflows their box: text that is cut off without an ellipsis and the full text on hover. */
export async function overflowProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const selectors = ['.tile-name', '.tile-sub', '.tile-model', '.metric dt', '.metric dd', '.control label', '.control-status', '.group h2', 'h1', 'table.log td', 'table.log th', '.stat dd', '.top', '.top nav', 'figcaption', 'button', '.view > *', '.panel'];
    for (const el of document.querySelectorAll<HTMLElement>(selectors.join(','))) {
      if (el.offsetParent === null && getComputedStyle(el).position !== 'fixed') continue; // not shown
      const style = getComputedStyle(el);
      const over = el.scrollWidth > el.clientWidth + 1;
      if (!over) continue;
      // A scrolling container (tables on phones, the header's nav) shows its content by scrolling.
      if (['auto', 'scroll'].includes(style.overflowX)) continue;
      const ellipsized = style.textOverflow === 'ellipsis' && (el.title === el.textContent || (el.title !== '' && el.title.includes(el.textContent ?? '')));
      if (ellipsized) continue;
      problems.push(`${el.tagName.toLowerCase()}.${el.className || '?'} "${(el.textContent ?? '').slice(0, 40)}": scrollWidth ${el.scrollWidth} > clientWidth ${el.clientWidth}`);
    }
    // Nothing wider than the page.
    const width = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth > width + 1) problems.push(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${width}`);
    return problems;
  });
}

/** Words broken across lines: elements of one line-height holding one word but laid out on two lines. */
export async function brokenWords(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    for (const el of document.querySelectorAll<HTMLElement>('.tile-name, .metric dd, .metric dt, .group h2, .top nav a, .stat dt, .badge')) {
      if (el.offsetParent === null) continue;
      const text = (el.textContent ?? '').trim();
      if (text === '' || /\s/.test(text)) continue;
      const range = document.createRange();
      range.selectNodeContents(el);
      const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
      if (lines.size > 1) out.push(`"${text}" breaks across ${lines.size} lines`);
    }
    return out;
  });
}

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's serious and critical violations on the page as it is now, one line each. */
export async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol: the dashboard's CSP (rightly) refuses an injected <script>.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: unknown, opts: unknown) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(', ')}`);
  });
}

/** Tabs through the page; answers the interactive elements (buttons, links, inputs) never focused. */
export async function unreachableByKeyboard(page: Page, maxTabs = 400): Promise<string[]> {
  await page.evaluate(() => {
    (window as unknown as { __focused: Set<Element> }).__focused = new Set();
    document.addEventListener('focusin', (e) => (window as unknown as { __focused: Set<Element> }).__focused.add(e.target as Element), true);
    (document.activeElement as HTMLElement | null)?.blur();
  });
  for (let i = 0; i < maxTabs; i++) await page.keyboard.press('Tab');
  return page.evaluate(() => {
    const focused = (window as unknown as { __focused: Set<Element> }).__focused;
    const controls = [...document.querySelectorAll<HTMLElement>('main a[href], main button, main input, main select, .top a[href], .top button')];
    return controls
      .filter((el) => el.offsetParent !== null && !(el as HTMLButtonElement).disabled && el.getAttribute('tabindex') !== '-1' && !el.closest('[inert]'))
      .filter((el) => !focused.has(el))
      .map((el) => `${el.tagName.toLowerCase()} "${(el.textContent ?? el.getAttribute('aria-label') ?? '').trim().slice(0, 30)}"`);
  });
}

/** Saves a full-page screenshot into test-output/; answers its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(OUTPUT, { recursive: true });
  const path = join(OUTPUT, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  if (statSync(path).size < 5000) throw new Error(`screenshot ${name} looks empty`);
  return path;
}

/** Builds dist/dashboard when it is missing or older than any dashboard source. */
export function ensureDashboardBuilt(): void {
  const dir = join(REPO, 'dashboard');
  const built = join(REPO, 'dist', 'dashboard', 'index.html');
  const newest = (d: string): number =>
    Math.max(...readdirSync(d, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(d, e.name)) : statSync(join(d, e.name)).mtimeMs)));
  if (existsSync(built) && statSync(built).mtimeMs >= newest(dir)) return;
  execFileSync(process.execPath, [join(dir, 'build.mjs')], { cwd: REPO, stdio: 'pipe' });
}
