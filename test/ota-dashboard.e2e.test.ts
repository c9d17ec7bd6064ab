// The dashboard's firmware pieces in a real browser (Debian's Chromium through playwright-core) against a real
// hub and a simulated device: the Update button and progress on a device's page, and the rollout page [FP-14].
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Fleet } from '../device-sim/index.js';
import { UserStore } from '../hub/auth/user-store.js';
import type { Hub } from '../hub/hub.js';
import { startHub } from './support/hub-harness.js';
import { sqliteNow } from '../hub/testing/sqlite-now.js';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = join(fileURLToPath(new URL('..', import.meta.url)), 'test-output');
const ADMIN = { name: 'alice', password: 'correct horse battery' };

(existsSync(CHROMIUM) ? describe : describe.skip)('firmware in the dashboard [FP-14]', () => {
  let hub: Hub;
  let stopHub: () => Promise<void>;
  let dataDir: string;
  let browser: Browser;
  let fleet: Fleet;
  let page: Page;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'hearth-ota-dashboard-'));
    await new UserStore({ dataDir }).add(ADMIN.name, ADMIN.password, 'admin');
    const h = await startHub({ dataDir, overrides: { 'mqtt.embedded': true, 'mqtt.websocket': true, 'firmware.chunkBytes': 4096 } });
    hub = h.hub;
    stopHub = h.stop;
    const { token } = sqliteNow(hub.registry.provision('dash-plug', 'Desk plug', 'smart_plug', Date.now()));
    // The device defers the first offer for 2 s, so the page shows the update running before it is done.
    fleet = new Fleet({ hubUrl: h.wssUrl, devices: [{ id: 'dash-plug', token, model: 'smart_plug' }], rate: 1, ca: hub.tls.cert, backoff: { baseMs: 20, capMs: 100 }, otaFaults: () => ({ defer: 1, deferSeconds: 2 }) });
    await fleet.start();
    await fleet.waitConnected();
    sqliteNow(hub.firmware.addImage(new Uint8Array(randomBytes(512 * 1024)), hub.registry.info('dash-plug')!.model, '4.2.0'));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`https://127.0.0.1:${hub.port}/`);
    await page.fill('#username', ADMIN.name);
    await page.fill('#password', ADMIN.password);
    await page.click('form.sign-in button[type=submit]');
    await page.waitForSelector('.tile[data-device]');
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await fleet?.stop({ ackTimeoutMs: 500 });
    await stopHub?.();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** Elements inside `selector` whose content is wider than their box, or a word broken across lines. */
  const overflowing = (selector: string) =>
    page.evaluate((sel) => [...document.querySelectorAll(`${sel}, ${sel} *`)].filter((e) => (e as HTMLElement).scrollWidth > (e as HTMLElement).clientWidth + 1 && getComputedStyle(e).overflowX === 'visible').map((e) => e.outerHTML.slice(0, 80)), selector);

  it('a device page shows the installed version and an Update button; the update runs with progress and ends with the new version', async () => {
    const before = hub.registry.info('dash-plug')!.firmware;
    // The panel's first two looks at the catalogue fail (a hub busy for a moment): it says so and asks again.
    let refused = 0;
    await page.route('**/api/firmware', (route) =>
      refused++ < 2 ? route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: 'HUB_ERR_BUSY', message: 'busy for a moment' }) }) : route.continue(),
    );
    await page.goto(`https://127.0.0.1:${hub.port}/#/device/dash-plug`);
    await page.waitForFunction(() => /^Could not load the firmware state \(.*busy for a moment.*\); trying again$/.test(document.querySelector('[data-firmware="status"]')?.textContent ?? ''));
    mkdirSync(OUTPUT, { recursive: true });
    await page.locator('.firmware').screenshot({ path: join(OUTPUT, 'dashboard-firmware-retry-desktop.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.locator('.firmware').screenshot({ path: join(OUTPUT, 'dashboard-firmware-retry-phone.png') });
    await page.setViewportSize({ width: 1280, height: 900 });
    const button = page.locator('[data-action="firmware-update"]');
    await button.waitFor({ state: 'visible' });
    expect(refused).toBeGreaterThanOrEqual(3);
    await page.unroute('**/api/firmware');
    expect(await button.textContent()).toBe('Update to 4.2.0');
    expect(await page.locator('[data-firmware="installed"]').textContent()).toBe(before);
    await button.click();
    await page.waitForFunction(() => /^Queued for 4\.2\.0/.test(document.querySelector('[data-firmware="status"]')?.textContent ?? ''));
    expect(await page.locator('.firmware progress').isVisible()).toBe(true);
    await page.waitForFunction(() => document.querySelector('[data-firmware="status"]')?.textContent === 'Updated to 4.2.0');
    await page.waitForFunction(() => document.querySelector('[data-firmware="installed"]')?.textContent === '4.2.0');
    await button.waitFor({ state: 'hidden' }); // the panel's next render after the new version arrives
    expect(await button.isHidden()).toBe(true);
    expect(await overflowing('.firmware')).toEqual([]);
    mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: join(OUTPUT, 'dashboard-device-firmware.png'), fullPage: true });
  }, 60_000);

  it('the rollout page lists the model with its newest image and the rollout done', async () => {
    await page.goto(`https://127.0.0.1:${hub.port}/#/firmware`);
    const model = hub.registry.info('dash-plug')!.model;
    const row = page.locator(`[data-firmware="models"] tr[data-model="${model}"]`);
    await row.waitFor();
    await page.waitForFunction((m) => document.querySelector(`tr[data-model="${m}"]`)?.textContent?.includes('1 done, 0 running (100 %), 0 failed') === true, model);
    expect(await row.locator('td').nth(2).textContent()).toBe('4.2.0');
    // Every device of the model runs it: nothing left to roll out.
    expect(await row.locator('[data-action="roll-out"]').isHidden()).toBe(true);
    expect(await page.locator('[data-firmware="updates"] tr[data-device="dash-plug"]').textContent()).toContain('Updated to 4.2.0');
    expect(await page.locator('nav a[data-nav="firmware"]').getAttribute('aria-current')).toBe('page');
    expect(await overflowing('.view-firmware')).toEqual([]);
    await page.screenshot({ path: join(OUTPUT, 'dashboard-firmware.png'), fullPage: true });
  }, 30_000);
});
