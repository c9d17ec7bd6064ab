// Every page of the dashboard, in real Chromium at desktop (1280x800) and phone (390x844) size, with a fleet of
// every simulator model, online and offline, long names and rooms of one and of many devices: no content
// overflows its box, no word breaks across lines, axe-core finds nothing serious or critical, every control is
// reachable by keyboard, and a screenshot of each page at each size lands in test-output/ to be looked at.
// Also: charts fit the data they have, booleans draw as state timelines, the hub page charts its last hour,
// and the activity feed shows what happens, filterable, newest first.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import WebSocket from 'ws';
import { RawDevice } from './support/raw-device.js';
import {
  axeViolations,
  brokenWords,
  DashboardFixture,
  DESKTOP,
  describeInChromium,
  overflowProblems,
  PHONE,
  screenshot,
  unreachableByKeyboard,
  USERS,
  type CheckedPage,
} from './support/dashboard-fixture.js';

const MINUTE = 60_000;
const PAGES = [
  ['home', '#/', '.view-home .tile'],
  ['device', '#/device/thermo-living', '.chart[data-metric="temperature"][data-points]:not([data-points="0"])'],
  ['device-light', '#/device/light-long', '.timeline[data-segments]'],
  ['hub', '#/hub', '.chart[data-sample="devicesOnline"]:not([data-points="0"])'],
  ['activity', '#/activity', 'table[data-log="activity"] tbody tr[data-kind]'],
  ['users', '#/users', '[data-user-row="alice"]'],
  ['account', '#/account', '[data-form="password"]'],
] as const;

describeInChromium('dashboard pages at desktop and phone size', () => {
  const f = new DashboardFixture();
  const pages = new Map<string, CheckedPage>();

  beforeAll(async () => {
    await f.start();
    await f.addDevice('thermo-living', 'thermostat', { name: 'Living room thermostat', room: 'Living room' });
    await f.addDevice('light-long', 'light', { name: 'Extraordinarily long ceiling light name over the dining table', room: 'Living room' });
    await f.addDevice('plug-kettle', 'smart_plug', { name: 'Kettle', room: 'Kitchen' });
    await f.addDevice('motion-hall', 'motion_sensor', { name: 'Hall motion', room: 'Hall' });
    await f.addDevice('door-front', 'door_contact', { name: 'Front door', room: 'Hall', online: false });
    await f.addDevice('air-office', 'air_quality', { name: 'Air quality', room: 'Office' });
    await f.addDevice('thermo-attic', 'thermostat', { name: 'Attic thermostat' });
    await f.addDevice('light-garage', 'light', { name: 'Garage light', online: false });
    await f.connect('door-front', { stayOnline: false });
    await f.connect('light-garage', { stayOnline: false });
    // Ten minutes of readings: less than the 24 h range the chart test picks.
    const now = Date.now();
    const entry = f.fleet.get('thermo-living')!;
    entry.seq++;
    entry.device!.send({ type: 'batch', seq: entry.seq, samples: Array.from({ length: 10 }, (_, i) => ({ ts: now - (10 - i) * MINUTE, metric: 1, value: { type: 'float' as const, value: 20 + i / 10 } })) });
    await entry.device!.ackFor(entry.seq);
    // The light switched on and off: a state timeline with several bands.
    for (const [i, on] of [[8, true], [5, false], [2, true]] as const) await f.send('light-long', [{ metric: 1, value: { type: 'bool', value: on } }], now - i * MINUTE);
    // Refused connections for the activity feed: one that skips its greeting (counted) and one with a wrong
    // token (refused before any socket exists; the hub logs a warning).
    const rude = await RawDevice.connect(f.wssUrl, 'thermo-attic', f.fleet.get('thermo-attic')!.token);
    rude.send({ type: 'telemetry', seq: 1, ts: 0, readings: [{ metric: 1, value: { type: 'float', value: 20 } }] });
    await rude.closed;
    await new Promise<void>((resolve) => {
      const ws = new WebSocket(`${f.wssUrl}/v1/devices/thermo-attic`, ['hearth.v1'], { headers: { authorization: 'Bearer wrong' }, rejectUnauthorized: false });
      ws.once('unexpected-response', (_q, res) => (res.resume(), resolve()));
      ws.once('error', () => resolve());
    });
    pages.set('desktop', await f.signIn(USERS.admin, { viewport: DESKTOP }));
    pages.set('phone', await f.signIn(USERS.admin, { viewport: PHONE, colorScheme: 'dark' }));
  });

  afterAll(() => f.stop());

  async function show(page: CheckedPage, route: string, ready: string): Promise<void> {
    await page.goto(`${f.base}/${route}`);
    await page.waitForSelector(ready);
    // One more frame, so what arrived with the wait is drawn.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  }

  for (const size of ['desktop', 'phone'] as const) {
    for (const [name, route, ready] of PAGES) {
      it(`${name} at ${size}: nothing overflows, no word breaks, no serious axe violation; screenshot`, async () => {
        const page = pages.get(size)!;
        await show(page, route, ready);
        expect(await overflowProblems(page)).toEqual([]);
        expect(await brokenWords(page)).toEqual([]);
        expect(await axeViolations(page)).toEqual([]);
        // Nothing cut off: every button and link of the view lies within the screen's width.
        const outside = await page.evaluate(() =>
          [...document.querySelectorAll<HTMLElement>('main button, main a[href], main input, main select')]
            .filter((e) => e.offsetParent !== null && e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
            .map((e) => e.textContent?.trim() || e.getAttribute('name') || e.tagName),
        );
        expect(outside).toEqual([]);
        if (size === 'phone') {
          // The header is one line: every item of it sits on the first row.
          const rows = await page.evaluate(() => new Set([...document.querySelectorAll<HTMLElement>('.top > *')].filter((e) => e.offsetParent !== null && !e.classList.contains('skip')).map((e) => Math.round(e.getBoundingClientRect().top / 10))).size);
          expect(rows).toBe(1);
        }
        await screenshot(page, `dashboard-${name}-${size}`);
        expect(page.problems).toEqual([]);
      });
    }
  }

  it('reaches every control of the home and a device page by keyboard', async () => {
    const page = pages.get('desktop')!;
    await show(page, '#/', '.view-home .tile');
    expect(await unreachableByKeyboard(page)).toEqual([]);
    await show(page, '#/device/thermo-living', '.view-device .tile');
    expect(await unreachableByKeyboard(page, 120)).toEqual([]);
  });

  it('groups rooms into sections, devices without a room under "Other" last, and shows offline devices disabled', async () => {
    const page = pages.get('desktop')!;
    await show(page, '#/', '.view-home .tile');
    const groups = await page.locator('.group h2').allTextContents();
    expect(groups).toEqual(['Hall', 'Kitchen', 'Living room', 'Office', 'Other']);
    // A room of one tile is as wide as one tile of a full room, not a quarter-page sliver nor the whole row.
    const width = (sel: string) => page.locator(sel).evaluate((e) => e.getBoundingClientRect().width);
    const lone = await width('.tile[data-device="plug-kettle"]');
    const inFull = await width('.tile[data-device="thermo-attic"]');
    expect(Math.abs(lone - inFull)).toBeLessThan(40);
    const name = page.locator('.tile[data-device="light-long"] .tile-name');
    expect(await name.getAttribute('title')).toBe('Extraordinarily long ceiling light name over the dining table');
    expect(await page.locator('.tile[data-device="light-garage"] button[role="switch"]').isDisabled()).toBe(true);
    expect(await page.locator('.tile[data-device="light-garage"] [data-controls-note]').textContent()).toMatch(/^Offline since /);
    // Events and commands tables only where the device has them: a door contact has events, no controls.
    await show(page, '#/device/door-front', '.view-device .tile');
    expect(await page.locator('table[data-log="events"]').isVisible()).toBe(true);
    expect(await page.locator('table[data-log="commands"]').isVisible()).toBe(false);
  });

  it('fits the chart to the data it has ("since first reading") and draws switches as state timelines', async () => {
    const page = pages.get('desktop')!;
    await show(page, '#/device/thermo-living', '.chart[data-metric="temperature"]:not([data-points="0"])');
    await page.click('button[data-range="24h"]');
    const chart = '.chart[data-metric="temperature"]';
    await page.waitForFunction((sel) => document.querySelector(sel)?.getAttribute('data-step') === 'minute', chart);
    expect(await page.locator(chart).getAttribute('data-since-first')).toBe('true');
    const from = Number(await page.locator(chart).getAttribute('data-range-from'));
    expect(Date.now() - from).toBeLessThan(15 * MINUTE);
    expect(await page.locator(`${chart} .chart-note`).textContent()).toMatch(/^Since the first reading, /);

    await show(page, '#/device/light-long', '.timeline[data-metric="on"][data-segments]');
    const segments = await page.locator('.timeline[data-metric="on"] .timeline-segment').evaluateAll((els) => els.map((e) => e.getAttribute('data-state')));
    // On, off, on from the readings sent, then the state the light reported when it connected (now).
    expect(segments.slice(0, 3)).toEqual(['On', 'Off', 'On']);
    expect(await page.locator('.timeline[data-metric="on"] canvas').count()).toBe(0);
  });

  it('shows the hub\'s last hour and its retention settings', async () => {
    const page = pages.get('desktop')!;
    await show(page, '#/hub', '.chart[data-sample="devicesOnline"]:not([data-points="0"])');
    for (const key of ['readingsPerSecond', 'devicesOnline', 'ackP99Ms', 'mqttClients']) expect(await page.locator(`.chart[data-sample="${key}"] canvas`).count()).toBe(1);
    expect(await page.locator('[data-field="retention"]').textContent()).toBe('raw readings 30 d, rollups 365 d');
  });

  it('feeds the activity page live: devices coming and going, refused connections, the hub\'s warnings; filterable', async () => {
    const page = pages.get('desktop')!;
    await show(page, '#/activity', 'table[data-log="activity"]');
    await f.connect('light-garage');
    await page.waitForSelector('tr[data-kind="device"]:has-text("Garage light connected")');
    await f.fleet.get('light-garage')!.device!.close();
    f.fleet.get('light-garage')!.device = null;
    await page.waitForSelector('tr[data-kind="device"]:has-text("Garage light disconnected")');
    // Newest first.
    const first = await page.locator('table[data-log="activity"] tbody tr').first().textContent();
    expect(first).toContain('Garage light disconnected');
    await page.waitForSelector('tr[data-kind="refused"]:has-text("HUB_ERR_GREETING_REQUIRED")');
    await page.waitForSelector('tr[data-kind="log"]:has-text("HUB_ERR_BAD_TOKEN")');
    await page.selectOption('[data-filter="kind"]', 'refused');
    await page.waitForFunction(() => [...document.querySelectorAll('table[data-log="activity"] tbody tr')].every((r) => r.getAttribute('data-kind') === 'refused'));
    await page.selectOption('[data-filter="kind"]', '');
    await page.fill('[data-filter="text"]', 'garage');
    await page.waitForFunction(() => [...document.querySelectorAll('table[data-log="activity"] tbody tr')].every((r) => r.textContent?.toLowerCase().includes('garage')));

    // Viewers get the feed without the hub's log lines.
    const viewer = await f.signIn(USERS.viewer);
    await viewer.goto(`${f.base}/#/activity`);
    await viewer.waitForSelector('table[data-log="activity"]');
    expect(await viewer.locator('[data-filter="kind"] option[value="log"]').count()).toBe(0);
  });
});
