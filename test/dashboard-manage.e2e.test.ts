// Managing the home from the page alone, in real Chromium against a real hub: add a device (token once, copy,
// snippets), rename and move it (every open page and MQTT follow at once), revoke and remove with a
// confirmation naming the device, users added and removed (their pages signed out at once), offline
// controls, and commands recorded under the signed-in user.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { MODELS } from '../device-sim/models/index.js';
import { eventually } from './support/eventually.js';
import { RawDevice } from './support/raw-device.js';
import { axeViolations, DashboardFixture, describeInChromium, overflowProblems, screenshot, USERS, type CheckedPage } from './support/dashboard-fixture.js';
import type { BridgeDevice } from '../hub/mqtt/topics.js';

const CLI = fileURLToPath(new URL('../dist/hub/cli.js', import.meta.url));

describeInChromium('managing the home from the dashboard', () => {
  const f = new DashboardFixture();
  let admin: CheckedPage;
  let viewer: CheckedPage;
  const tile = (id: string) => `.tile[data-device="${id}"]`;

  beforeAll(async () => {
    await f.start();
    await f.addDevice('lamp-1', 'light', { name: 'Desk lamp', room: 'Office' });
    await f.addDevice('plug-1', 'smart_plug', { name: 'Kettle plug', room: 'Kitchen' });
    admin = await f.signIn(USERS.admin);
    viewer = await f.signIn(USERS.viewer);
  });

  afterAll(() => f.stop());

  it('adds a device: the token is shown once with a copy button and snippets, and every page lists it at once', async () => {
    await admin.click('[data-action="add-device"]');
    await admin.fill('[data-form="add-device"] input[name="id"]', 'hall-motion');
    await admin.fill('[data-form="add-device"] input[name="name"]', 'Hall motion');
    await admin.fill('[data-form="add-device"] input[name="type"]', 'motion_sensor');
    await admin.fill('[data-form="add-device"] input[name="room"]', 'Hall');
    await admin.click('[data-form="add-device"] button[type="submit"]');
    const token = await admin.locator('dialog [data-token]').inputValue();
    expect(token.length).toBeGreaterThan(20);
    expect(await admin.locator('dialog [data-snippet="sim"]').textContent()).toContain(`"token": "${token}"`);
    expect(await admin.locator('dialog [data-snippet="sim"]').textContent()).toContain('hearth-sim --hub wss://');
    expect(await admin.locator('dialog [data-snippet="firmware"]').textContent()).toContain(`Authorization: Bearer ${token}`);
    expect(await axeViolations(admin)).toEqual([]);
    expect(await overflowProblems(admin)).toEqual([]);
    await screenshot(admin, 'dashboard-add-device-token-desktop');
    await admin.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    await admin.click('dialog [data-action="copy-token"]');
    await admin.waitForSelector('dialog .copy-status:text("Copied.")');
    expect(await admin.evaluate(() => navigator.clipboard.readText())).toBe(token);

    // Both pages list it under its room without a reload.
    for (const page of [admin, viewer]) await page.waitForSelector(`.group[data-group="room:hall"] ${tile('hall-motion')}`);
    await admin.click('dialog [data-action="done"]');
    // The dialog leaves the DOM when its close has run (a loaded machine may take a frame or two).
    await admin.locator('dialog').waitFor({ state: 'detached' });
    expect(await admin.locator('dialog').count()).toBe(0);
    // The token works, and is not shown again anywhere.
    const model = MODELS.motion_sensor!;
    const { device } = await RawDevice.greet(f.wssUrl, 'hall-motion', token, { model: model.model, firmware: model.firmware, lastAckedSeq: 0, capabilities: [...model.capabilities] });
    await viewer.waitForFunction((sel) => document.querySelector(sel)?.getAttribute('data-online') === 'true', tile('hall-motion'));
    expect(await admin.content()).not.toContain(token);
    await device.close();

    // A taken id is refused with a message naming it.
    await admin.click('[data-action="add-device"]');
    await admin.fill('[data-form="add-device"] input[name="id"]', 'lamp-1');
    await admin.click('[data-form="add-device"] button[type="submit"]');
    await admin.waitForSelector('dialog [data-code="HUB_ERR_DEVICE_EXISTS"]');
    await admin.keyboard.press('Escape');
    await admin.waitForFunction(() => document.querySelectorAll('dialog').length === 0); // closes on the next frame
    expect(await admin.locator('dialog').count()).toBe(0);
    // Viewers see no dead button.
    expect(await viewer.locator('[data-action="add-device"]').count()).toBe(0);
  });

  it('renames a device and moves it to a room: every page and MQTT follow at once', async () => {
    const client = await mqtt.connectAsync(`${f.base.replace('https', 'wss')}/mqtt`, { username: USERS.admin.name, password: USERS.admin.password, rejectUnauthorized: false, reconnectPeriod: 0 });
    const lists: BridgeDevice[][] = [];
    client.on('message', (topic, payload) => topic === 'hearth/bridge/devices' && lists.push(JSON.parse(payload.toString()) as BridgeDevice[]));
    await client.subscribeAsync('hearth/bridge/devices');
    try {
      await admin.goto(`${f.base}/#/device/lamp-1`);
      await admin.waitForSelector('[data-form="device-settings"]');
      expect(await admin.inputValue('[data-form="device-settings"] input[name="name"]')).toBe('Desk lamp');
      await admin.fill('[data-form="device-settings"] input[name="name"]', 'Reading lamp');
      await admin.fill('[data-form="device-settings"] input[name="room"]', 'Living room');
      await admin.click('[data-action="save-device"]');
      await admin.waitForFunction(() => document.querySelector('h1.device-title')?.textContent === 'Reading lamp');
      await viewer.waitForFunction((sel) => document.querySelector(sel)?.closest('.group')?.getAttribute('data-group') === 'room:living room', tile('lamp-1'));
      expect(await viewer.locator(`${tile('lamp-1')} .tile-name`).textContent()).toBe('Reading lamp');
      await eventually(() => {
        const lamp = lists.at(-1)?.find((d) => d.id === 'lamp-1');
        expect([lamp?.name, lamp?.room]).toEqual(['Reading lamp', 'Living room']);
      });

      // Clearing the room puts it under "Other".
      await admin.fill('[data-form="device-settings"] input[name="room"]', '');
      await admin.click('[data-action="save-device"]');
      await viewer.waitForFunction((sel) => document.querySelector(sel)?.closest('.group')?.getAttribute('data-group') === 'other', tile('lamp-1'));
      expect(await viewer.locator('.group[data-group="other"] h2').textContent()).toBe('Other');
      // Viewers get no settings panel.
      await viewer.goto(`${f.base}/#/device/lamp-1`);
      await viewer.waitForSelector('.view-device .tile');
      expect(await viewer.locator('[data-panel="device-admin"]').count()).toBe(0);
      await viewer.goto(`${f.base}/#/`);
    } finally {
      await client.endAsync();
    }
  });

  it('revokes a device after a confirmation naming it: disconnected at once, gone from every page', async () => {
    await f.connect('plug-1');
    const device = f.fleet.get('plug-1')!.device!;
    await admin.goto(`${f.base}/#/device/plug-1`);
    await admin.click('[data-action="revoke-device"]');
    expect(await admin.locator('dialog h2').textContent()).toBe('Revoke “Kettle plug”?');
    expect(await admin.locator('dialog .dialog-message').textContent()).toContain('(plug-1)');
    expect(await admin.evaluate(() => document.activeElement?.getAttribute('data-action'))).toBe('cancel');
    await screenshot(admin, 'dashboard-revoke-confirm-desktop');
    await admin.click('dialog [data-action="cancel"]');
    expect((await f.api('GET', '/api/devices/plug-1')).status).toBe(200);

    await admin.click('[data-action="revoke-device"]');
    await admin.click('dialog [data-action="confirm"]');
    expect((await device.closed).code).toBe(4010);
    await admin.waitForSelector('[data-notice]:text("“Kettle plug” was revoked.")');
    expect(await admin.evaluate(() => location.hash)).toBe('#/');
    await viewer.waitForFunction((sel) => document.querySelector(sel) === null, tile('plug-1'));
    f.fleet.get('plug-1')!.device = null;
  });

  it('removes a device after a confirmation: it and what it stored are deleted', async () => {
    await f.addDevice('tmp-1', 'thermostat', { name: 'Spare thermostat', room: 'Attic' });
    await admin.waitForSelector(tile('tmp-1'));
    await admin.goto(`${f.base}/#/device/tmp-1`);
    await admin.click('[data-action="remove-device"]');
    expect(await admin.locator('dialog h2').textContent()).toBe('Remove “Spare thermostat”?');
    await admin.click('dialog [data-action="confirm"]');
    await admin.waitForSelector('[data-notice]:text("“Spare thermostat” was removed.")');
    expect((await f.api('GET', '/api/devices/tmp-1')).status).toBe(404);
    expect((await f.api('POST', '/api/devices', { id: 'tmp-1' })).status).toBe(201);
    await viewer.waitForSelector(tile('tmp-1'));
    // Removed means removed: no history of the old device comes back under the reused id.
    expect((await f.api('GET', '/api/devices/tmp-1/commands')).body.commands).toEqual([]);
  });

  it('adds a user and removes them: their open page is signed out at once', async () => {
    await admin.goto(`${f.base}/#/users`);
    await admin.waitForSelector('[data-user-row="alice"]');
    expect(await admin.locator('[data-user-row="alice"] [data-action="remove-user"]').count()).toBe(0);
    await admin.fill('#user-name', 'guest');
    await admin.selectOption('#user-role', 'viewer');
    await admin.fill('#user-password', 'guest password');
    await admin.click('[data-form="add-user"] button[type="submit"]');
    await admin.waitForSelector('[data-user-row="guest"]');

    const guest = await f.signIn({ name: 'guest', password: 'guest password' });
    expect(await guest.locator('[data-role]').textContent()).toBe('viewer');
    expect(await guest.locator('.top [data-nav="users"]').count()).toBe(0);

    await admin.click('[data-user-row="guest"] [data-action="remove-user"]');
    expect(await admin.locator('dialog h2').textContent()).toBe('Remove guest?');
    await admin.click('dialog [data-action="confirm"]');
    await admin.waitForFunction(() => document.querySelector('[data-user-row="guest"]') === null);
    await guest.waitForSelector('form.sign-in');
    expect(await guest.locator('.sign-in').textContent()).toContain('Your session ended');
  });

  it('signs out the page of a user removed by `hearth user remove` in another process', async () => {
    expect((await f.api('POST', '/api/users', { name: 'temp', password: 'temp password', role: 'viewer' })).status).toBe(201);
    const temp = await f.signIn({ name: 'temp', password: 'temp password' });
    execFileSync(process.execPath, [CLI, 'user', 'remove', 'temp', '--data-dir', f.dataDir], { stdio: 'pipe' });
    await temp.waitForSelector('form.sign-in');
    expect(await temp.locator('.sign-in').textContent()).toContain('Your session ended');
  });

  it('changes one\'s own password on the account page', async () => {
    const page = await f.signIn(USERS.integration);
    await page.click('.top [data-nav="account"]');
    await page.fill('#pw-current', USERS.integration.password);
    await page.fill('#pw-new', 'a new password');
    await page.fill('#pw-again', 'a new password');
    await page.click('[data-form="password"] button[type="submit"]');
    await page.waitForSelector('.view-account .form-status:text("Password changed.")');
    const signIn = await f.openPage();
    await signIn.fill('#username', USERS.integration.name);
    await signIn.fill('#password', 'a new password');
    await signIn.click('form.sign-in button[type=submit]');
    await signIn.waitForSelector('.view-home');
  });

  it('disables an offline device\'s controls with the reason, and records commands under the signed-in user', async () => {
    await admin.goto(`${f.base}/#/`);
    await f.connect('lamp-1');
    const lamp = f.fleet.get('lamp-1')!.device!;
    const toggle = admin.locator(`${tile('lamp-1')} button[role="switch"]`);
    await admin.waitForFunction((sel) => document.querySelector<HTMLButtonElement>(sel)?.disabled === false, `${tile('lamp-1')} button[role="switch"]`);
    const before = await toggle.getAttribute('aria-checked');
    await toggle.click();
    const command = await lamp.next('command');
    lamp.send({ type: 'command_result', id: (command as { id: number }).id, status: 'failed', message: 'relay stuck' });
    await admin.waitForSelector(`${tile('lamp-1')} [data-control="on"] .control-status:text("relay stuck")`);
    // Rolled back to what the device reports.
    expect(await toggle.getAttribute('aria-checked')).toBe(before);
    const log = await f.api('GET', '/api/devices/lamp-1/commands?limit=1');
    expect(log.body.commands[0]).toMatchObject({ command: 'on', source: `user:${USERS.admin.name}`, status: 'failed' });

    await lamp.close();
    f.fleet.get('lamp-1')!.device = null;
    await admin.waitForFunction((sel) => document.querySelector<HTMLButtonElement>(sel)?.disabled === true, `${tile('lamp-1')} button[role="switch"]`);
    expect(await admin.locator(`${tile('lamp-1')} [data-controls-note]`).textContent()).toMatch(/^Offline since .+: controls are disabled until it reconnects\.$/);
    expect(await admin.locator(`${tile('lamp-1')} input[type="range"]`).isDisabled()).toBe(true);
    for (const page of [admin, viewer]) expect(page.problems).toEqual([]);
  });
});
