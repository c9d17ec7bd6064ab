import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newDeviceCredentials } from '../hub/auth/device-tokens.js';
import { HubStore } from '../hub/storage/hub-store.js';
import { Fleet, MODELS } from '../device-sim/index.js';
import type { Value } from '../protocol/types.js';
import { eventually } from './support/eventually.js';
import { freePort, spawnHub } from './support/hub-process.js';

// The promise of Hearth: the hub is killed with SIGKILL mid-stream, restarted, and every reading the
// simulated devices generated is stored exactly once (the devices' own record vs. the database).
const dir = mkdtempSync(join(tmpdir(), 'hearth-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function key(ts: number, metric: string, value: Value): string {
  return `${metric}@${ts}=${value.type}:${value.value}`;
}

describe('hub killed with SIGKILL mid-stream [FP-8]', () => {
  it('loses no reading and stores none twice across the crash and restart', async () => {
    const models = Object.keys(MODELS);
    const store = new HubStore({ path: join(dir, 'hearth.db') });
    store.open();
    const specs = models.map((model, i) => {
      const { record, token } = newDeviceCredentials(`crash-${i}`, model, model, Date.now());
      store.addDevice(record);
      return { id: record.id, token, model };
    });
    store.close();
    const port = await freePort();
    // A 100 ms group-commit window makes sure the kill lands while received frames are not yet committed:
    // the devices must resend them, and the hub must store them once.
    const slowCommits = ['--ingest-commit-interval-ms', '100'];
    let hub = await spawnHub(dir, port, slowCommits);
    const ca = readFileSync(join(dir, 'tls', 'hub-cert.pem'));
    const fleet = new Fleet({
      hubUrl: `wss://127.0.0.1:${port}`,
      devices: specs,
      rate: 40,
      seed: 7,
      ca,
      recordSent: true,
      backoff: { baseMs: 50, capMs: 400 },
    });
    await fleet.start();
    await fleet.waitConnected();
    await eventually(() => expect(fleet.stats().acked).toBeGreaterThan(100), 15_000);

    hub.proc.kill('SIGKILL');
    await hub.exited;
    // Readings keep coming while the hub is down; they wait in the devices' buffers.
    const sentBefore = fleet.stats().sent;
    await eventually(() => expect(fleet.stats().pendingItems).toBeGreaterThan(50), 15_000);
    hub = await spawnHub(dir, port, slowCommits);
    await fleet.waitConnected(specs.length, 20_000);
    await eventually(() => expect(fleet.stats().acked).toBeGreaterThan(sentBefore), 20_000);
    const final = await fleet.stop({ ackTimeoutMs: 10_000 });
    hub.proc.kill('SIGTERM');
    await hub.exited;

    expect(final.pendingItems).toBe(0);
    expect(final.drops).toBe(0);
    expect(final.resent).toBeGreaterThan(0);

    const after = new HubStore({ path: join(dir, 'hearth.db') });
    after.open();
    try {
      let total = 0;
      for (const [i, spec] of specs.entries()) {
        const device = fleet.devices[i]!;
        const caps = new Map(device.model.capabilities.map((c) => [c.id, c]));
        const generated = device.record!.kept().flatMap((f) => f.items);
        const expected = generated.map((item) => key(item.ts, caps.get(item.metric)!.name, item.value)).sort();
        const stored: string[] = [];
        for (const cap of device.model.capabilities) {
          if (cap.event) continue;
          for (const p of after.history({ deviceId: spec.id, metric: cap.name, from: 0, to: Number.MAX_SAFE_INTEGER, step: 'raw', limit: 1_000_000 })) {
            const value: Value = cap.valueType === 'bool' ? { type: 'bool', value: p.value === 1 } : ({ type: cap.valueType, value: p.value } as Value);
            stored.push(key(p.ts, cap.name, value));
          }
        }
        for (const e of after.events(spec.id, 0, Number.MAX_SAFE_INTEGER, 1_000_000)) stored.push(key(e.ts, e.name, e.value));
        stored.sort();
        expect({ device: spec.id, stored }).toEqual({ device: spec.id, stored: expected });
        total += expected.length;
      }
      expect(total).toBeGreaterThan(200);
    } finally {
      after.close();
    }
  }, 90_000);
});
