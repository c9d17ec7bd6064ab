// Exactly-once on PostgreSQL across a crash (issue #16 section 1): a simulated fleet streams to a hub process
// on a throwaway cluster, the hub is SIGKILLed mid-stream and restarted on the same database, and every
// reading the devices generated (their own record) is stored once: counted per series in PostgreSQL, and
// read back over the HTTP API's history.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from '@jest/globals';
import pg from 'pg';
import { Fleet, MODELS } from '../device-sim/index.js';
import { newDeviceCredentials } from '../hub/auth/device-tokens.js';
import { PgStore } from '../hub/storage/pg/pg-store.js';
import { describePg } from '../hub/storage/testing/pg-cluster.js';
import type { Value } from '../protocol/types.js';
import { eventually } from './support/eventually.js';
import { call } from './support/http.js';
import { freePort, spawnHub } from './support/hub-process.js';

const dir = mkdtempSync(join(tmpdir(), 'hearth-pgcrash-'));
let running: { proc: { kill(signal: NodeJS.Signals): boolean } } | undefined; // killed when an assertion fails first
afterAll(() => {
  running?.proc.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function key(ts: number, metric: string, value: Value): string {
  return `${metric}@${ts}=${value.type}:${value.value}`;
}

describePg('hub on PostgreSQL killed with SIGKILL mid-stream [FP-8]', (cluster) => {
  it('loses no reading and stores none twice across the crash and the restart on the same database', async () => {
    const url = await cluster().createDatabase('crash');
    const setup = new PgStore({ url, poolSize: 1 });
    await setup.open();
    const models = Object.keys(MODELS);
    const specs = [];
    for (const [i, model] of models.entries()) {
      const { record, token } = newDeviceCredentials(`pgcrash-${i}`, model, model, Date.now());
      await setup.addDevice(record);
      specs.push({ id: record.id, token, model });
    }
    await setup.close();

    const port = await freePort();
    // A 100 ms group-commit window: the kill lands while received frames are not committed yet.
    const args = ['--db-url', url, '--hub-id', 'pg-crash', '--ingest-commit-interval-ms', '100'];
    let hub = await spawnHub(dir, port, args);
    const ca = readFileSync(join(dir, 'tls', 'hub-cert.pem'), 'utf8');
    const fleet = new Fleet({ hubUrl: `wss://127.0.0.1:${port}`, devices: specs, rate: 40, seed: 11, ca, recordSent: true, backoff: { baseMs: 50, capMs: 400 } });
    await fleet.start();
    await fleet.waitConnected();
    await eventually(() => expect(fleet.stats().acked).toBeGreaterThan(100), 15_000);
    // Killed while some device holds frames it sent and the hub has not acknowledged (they are resent after
    // the restart): checked and killed in one turn, before another ACK can be read.
    await eventually(() => expect(fleet.devices.some((d) => d.online && d.outbox.length > 0)).toBe(true), 15_000);
    hub.proc.kill('SIGKILL');
    await hub.exited;
    const sentBefore = fleet.stats().sent;
    await eventually(() => expect(fleet.stats().pendingItems).toBeGreaterThan(50), 15_000);
    hub = await spawnHub(dir, port, args);
    running = hub;
    await fleet.waitConnected(specs.length, 20_000);
    await eventually(() => expect(fleet.stats().acked).toBeGreaterThan(sentBefore), 20_000);
    const final = await fleet.stop({ ackTimeoutMs: 10_000 });

    expect(final.pendingItems).toBe(0);
    expect(final.drops).toBe(0);
    expect(final.resent).toBeGreaterThan(0);

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const counted = new Map<string, number>();
    try {
      const { rows } = await client.query<{ device_id: string; metric: string; n: string }>(
        'SELECT s.device_id, s.metric, count(*) AS n FROM readings r JOIN series s ON s.id = r.series GROUP BY s.device_id, s.metric',
      );
      for (const r of rows) counted.set(`${r.device_id}/${r.metric}`, Number(r.n));
    } finally {
      await client.end();
    }

    const adminToken = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
    let total = 0;
    for (const [i, spec] of specs.entries()) {
      const device = fleet.devices[i]!;
      const generated = device.record!.kept().flatMap((f) => f.items);
      for (const cap of device.model.capabilities) {
        if (cap.event) continue;
        const expected = generated.filter((item) => item.metric === cap.id).map((item) => key(item.ts, cap.name, item.value)).sort();
        // Per series in PostgreSQL: as many rows as readings sent, no more.
        expect({ series: `${spec.id}/${cap.name}`, count: counted.get(`${spec.id}/${cap.name}`) ?? 0 }).toEqual({ series: `${spec.id}/${cap.name}`, count: expected.length });
        // The same readings through the HTTP API of the restarted hub (history answers from PostgreSQL).
        const res = await call(`https://127.0.0.1:${port}`, ca, 'GET', `/api/devices/${spec.id}/history?metric=${cap.name}&from=0&to=${Date.now() + 120_000}&step=raw&limit=10000`, { token: adminToken });
        expect(res.status).toBe(200);
        const stored = (res.body.points as { ts: number; value: unknown }[])
          .map((p) => key(p.ts, cap.name, (cap.valueType === 'enum' ? { type: 'enum', value: cap.options!.indexOf(p.value as string) } : { type: cap.valueType, value: p.value }) as Value))
          .sort();
        expect({ series: `${spec.id}/${cap.name}`, stored }).toEqual({ series: `${spec.id}/${cap.name}`, stored: expected });
        total += expected.length;
      }
    }
    expect(total).toBeGreaterThan(200);
    hub.proc.kill('SIGTERM');
    expect(await hub.exited).toBe(0);
  }, 120_000);
});
