import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Fleet, runCli, type SimSummary } from '../device-sim/index.js';
import type { Hub } from '../hub/hub.js';
import { startHub } from './support/hub-harness.js';
import { eventually } from './support/eventually.js';
import { sqliteNow } from '../hub/testing/sqlite-now.js';

// The simulator as a library and as a CLI against the real hub (port 0, real SQLite, real TLS).
let hub: Hub;
let wss: string;
let dataDir: string;
let stop: () => Promise<void>;

beforeAll(async () => {
  const h = await startHub({ overrides: { 'devices.commandTimeoutMs': 7000 } });
  hub = h.hub;
  wss = h.wssUrl;
  dataDir = h.dataDir;
  stop = h.stop;
});
afterAll(async () => stop());

describe('device-sim against the real hub', () => {
  it('round-trips commands: the device applies them and its next telemetry shows the new state', async () => {
    const { token } = sqliteNow(hub.registry.provision('sim-light', 'Porch light', 'light', Date.now()));
    const fleet = new Fleet({ hubUrl: wss, devices: [{ id: 'sim-light', token, model: 'light' }], rate: 0, ca: hub.tls.cert });
    await fleet.start();
    await fleet.waitConnected();
    // [FP-2.2][FP-6.2] the simulator speaks 1.1, so WELCOME told it how long it has to answer.
    expect(fleet.devices[0]!.commandTimeoutMs).toBe(7000);
    const on = await hub.facade.sendCommand('sim-light', 'on', 'ON', 'test');
    expect(on).toMatchObject({ status: 'ok' });
    await eventually(() => expect(hub.facade.currentState('sim-light').on?.value).toBe(true));
    const dim = await hub.facade.sendCommand('sim-light', 'brightness', 35, 'test');
    expect(dim.status).toBe('ok');
    await eventually(() => expect(hub.facade.currentState('sim-light').brightness?.value).toBe(35));
    await fleet.stop();
    await eventually(() => expect(hub.facade.device('sim-light')?.online).toBe(false));
  });

  it('hearth-sim --provision with a YAML scenario creates, connects and drains a fleet, then prints a JSON summary', async () => {
    const scenario = join(dataDir, 'scenario.yaml');
    writeFileSync(scenario, ['- { id: yaml-thermo, model: thermostat }', '- { id: yaml-plug, model: plug, rate: 5 }', '- { id: yaml-door, model: door }', ''].join('\n'));
    const out: string[] = [];
    const io = { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => out.push(t) } };
    const code = await runCli(
      ['--hub', wss, '--scenario', scenario, '--provision', '--admin-token', hub.adminToken, '--credentials', join(dataDir, 'credentials.json'), '--insecure', '--rate', '4', '--duration', '1500ms', '--json'],
      io,
    );
    const summary = JSON.parse(out.find((t) => t.trim().startsWith('{'))!) as SimSummary;
    expect(code).toBe(0);
    expect(summary).toMatchObject({ ok: true, lostReadings: 0, neverConnected: [] });
    expect(summary.stats.acked).toBeGreaterThan(0);
    expect(hub.facade.devices().map((d) => d.id)).toEqual(expect.arrayContaining(['yaml-thermo', 'yaml-plug', 'yaml-door']));
    const temps = hub.store.history({ deviceId: 'yaml-thermo', metric: 'temperature', from: 0, to: Date.now() + 60_000, step: 'raw', limit: 1000 });
    expect(temps.length).toBeGreaterThan(0);
  });
});
