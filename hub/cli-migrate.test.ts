// `hearth migrate` from a real SQLite file into a throwaway PostgreSQL cluster: everything copied, ids kept,
// the same answers from both stores afterwards, and the refusals (non-empty target, bad URL).
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { SharedUserStore } from './auth/shared-user-store.js';
import { UserStore } from './auth/user-store.js';
import { formatCounts, runMigrateCommand } from './cli-migrate.js';
import { FileImageBytes, FirmwareImages } from './firmware/firmware-images.js';
import { HubStore } from './storage/hub-store.js';
import { PgStore } from './storage/pg/pg-store.js';
import { describePg } from './storage/testing/pg-cluster.js';
import { sqliteNow } from './testing/sqlite-now.js';
import { contractInput } from './storage/testing/store-contract-input.js';
import { writeInput } from './storage/testing/store-contract-suite.js';
import { StoreFixture } from './storage/testing/store-fixture.js';

const T0 = 1_700_000_000_000;

const IMAGE = new Uint8Array(randomBytes(100));

/** A single-box database with a bit of everything (an image file beside it); half its readings compacted, half still in the log. */
async function seedSqlite(fx: StoreFixture): Promise<string> {
  const path = join(fx.dir(), 'hearth.db');
  const store = new HubStore({ path });
  store.open();
  const input = contractInput(T0);
  await writeInput(store, { ...input, batches: input.batches.slice(0, 6) });
  while (store.compactStep() > 0);
  await writeInput(store, { devices: [], series: input.series, batches: input.batches.slice(6) });
  store.updateDeviceHello('d1', { model: 'TH-1', firmware: '1.0', capabilities: [], updates: true });
  store.commit({ readings: [], events: [{ deviceId: 'd1', name: 'button', ts: T0, value: { type: 'string', value: 'press' } }], seqs: new Map([['d1', 41], ['d2', 7]]), lastSeen: new Map([['d1', T0 + 5]]) });
  const gone = store.logCommand({ deviceId: 'd1', command: 'mode', value: { type: 'enum', value: 1 }, source: 'mqtt', sentAt: T0 });
  store.finishCommand(gone, 'ok', 'done', T0 + 1);
  store.logCommand({ deviceId: 'd2', command: 'label', value: { type: 'string', value: 'x' }, source: 'api:ann', sentAt: T0 + 2 });
  const img = sqliteNow(new FirmwareImages(new FileImageBytes(dirname(path)), () => store.firmware).add(IMAGE, 'TH-1', '2.0', T0));
  store.firmware.createUpdate('d1', img, '1.0', T0);
  store.close();
  return path;
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, say: (t: string) => out.push(t), complain: (t: string) => err.push(t) };
}

describe('hearth migrate', () => {
  it('prints the verification table with a MISMATCH marker', () => {
    const table = formatCounts([{ series: 1, device: 'd', metric: 'm', sqlite: 3, postgres: 2 }]);
    expect(table.split('\n')).toEqual(['series  device  metric  sqlite  postgres', '1       d       m       3       2         MISMATCH']);
  });

  it('refuses a bad target URL (exit 2) and a missing source (exit 1)', async () => {
    const c = capture();
    expect(await runMigrateCommand(['--from', 'x.db', '--to', 'mysql://h/db'], c.say, c.complain)).toBe(2);
    expect(c.err.join('\n')).toContain('expected a postgres:// or postgresql:// URL');
    expect(await runMigrateCommand(['--from', '/nonexistent/x.db', '--to', 'postgres://u@h/db'], c.say, c.complain)).toBe(1);
    expect(c.err.join('\n')).toContain('no SQLite database at /nonexistent/x.db');
    expect(await runMigrateCommand(['--to', 'postgres://u@h/db'], c.say, c.complain)).toBe(2);
  });
});

describePg('hearth migrate into PostgreSQL', (cluster) => {
  it('copies everything, verifies counts per series, and leaves both stores answering alike', async () => {
    const fx = new StoreFixture();
    const path = await seedSqlite(fx);
    const url = await cluster().createDatabase('migrate');
    const c = capture();
    expect({ code: await runMigrateCommand(['--from', path, '--to', url], c.say, c.complain), err: c.err }).toEqual({ code: 0, err: [] });
    const printed = c.out.join('\n');
    expect(printed).toMatch(/verified: 5 series, 3000 readings/);
    expect(printed).not.toContain('MISMATCH');
    expect(printed).toContain('copied 0 users and no admin.token to copy');

    const lite = fx.track(new HubStore({ path }));
    lite.open();
    const pgs = new PgStore({ url });
    await pgs.open();
    try {
      expect(await pgs.listDevices()).toEqual(lite.listDevices());
      expect(await pgs.committedSeqs()).toEqual(lite.committedSeqs());
      for (const d of ['d1', 'd2']) {
        expect(await pgs.latest(d)).toEqual(lite.latest(d));
        expect(await pgs.events(d, 0, T0 * 2, 100)).toEqual(lite.events(d, 0, T0 * 2, 100));
        expect(await pgs.commands(d, 100)).toEqual(lite.commands(d, 100));
        for (const metric of ['temperature', 'power', 'on', 'label', 'mode']) {
          for (const step of ['raw', 'minute', 'hour'] as const) {
            const q = { deviceId: d, metric, from: 0, to: T0 * 2, step, limit: 10_000 };
            expect({ metric, step, got: await pgs.history(q) }).toEqual({ metric, step, got: lite.history(q) });
          }
        }
      }
      expect(await pgs.firmware.updates(10)).toEqual(lite.firmware.updates(10));
      expect(await pgs.firmware.images()).toEqual(lite.firmware.images());
      // The image's bytes moved from the data directory into the database, for every hub on it.
      expect(await pgs.firmwareBytes.get(lite.firmware.images()[0]!.sha256)).toEqual(IMAGE);
      // Ids continue after the copied ones: a COMMAND id is never reused.
      const next = await pgs.logCommand({ deviceId: 'd1', command: 'mode', value: { type: 'enum', value: 0 }, source: 'test', sentAt: T0 + 9 });
      expect(next).toBeGreaterThan(Math.max(...lite.commands('d1', 10).map((x) => x.id), ...lite.commands('d2', 10).map((x) => x.id)));
      expect(await pgs.seriesId('d1', 'new-metric', 'int')).toBeGreaterThan(5);
    } finally {
      await pgs.close();
    }

    const again = capture();
    expect(await runMigrateCommand(['--from', path, '--to', url], again.say, again.complain)).toBe(1);
    expect(again.err.join('\n')).toContain('the target database is not empty');
    fx.cleanup();
  });

  it('copies the users of users.json (their hashes) and admin.token from the database\'s folder; names and a token the target has are kept', async () => {
    const fx = new StoreFixture();
    const path = await seedSqlite(fx);
    const dir = join(path, '..');
    const users = new UserStore({ dataDir: dir });
    await users.add('admin', 'old admin password', 'admin');
    await users.add('ha', 'ha password', 'integration');
    writeFileSync(join(dir, 'admin.token'), 'ha1_from-the-single-box-hub-0123456789ab\n');
    const url = await cluster().createDatabase('migrate');
    const c = capture();
    expect({ code: await runMigrateCommand(['--from', path, '--to', url], c.say, c.complain), err: c.err }).toEqual({ code: 0, err: [] });
    expect(c.out).toContain('copied 2 users and the admin token');
    const pgs = new PgStore({ url });
    await pgs.open();
    try {
      const shared = new SharedUserStore(pgs.auth);
      expect(await shared.list()).toEqual(users.list());
      expect(await shared.verify('ha', 'ha password')).toBe('integration');
      expect(await shared.verify('admin', 'old admin password')).toBe('admin');
      expect(await pgs.auth.adminToken('ha1_a-later-hub-would-offer-this-012345')).toEqual({ token: 'ha1_from-the-single-box-hub-0123456789ab', created: false });
    } finally {
      await pgs.close();
    }

    // A target a hub once started on (no devices yet): its admin user and token stay.
    const started = await cluster().createDatabase('migrate');
    const hubOnIt = new PgStore({ url: started });
    await hubOnIt.open();
    await new SharedUserStore(hubOnIt.auth).add('admin', 'new admin password', 'admin');
    await hubOnIt.auth.adminToken('ha1_the-target-hubs-own-token-0123456789');
    const k = capture();
    expect({ code: await runMigrateCommand(['--from', path, '--to', started], k.say, k.complain), err: k.err }).toEqual({ code: 0, err: [] });
    expect(k.out).toContain('copied 1 user (1 kept as the target has them) and not the admin token (the target has one; hubs on it use that)');
    try {
      expect(await new SharedUserStore(hubOnIt.auth).verify('admin', 'new admin password')).toBe('admin');
      expect(await new SharedUserStore(hubOnIt.auth).verify('ha', 'ha password')).toBe('integration');
    } finally {
      await hubOnIt.close();
    }
    fx.cleanup();
  });
});
