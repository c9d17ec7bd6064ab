// Storage faults against a real hub with the ingest journal (the default): commits go to a file beside the
// database, so a fault of the database meets the journal's drain, not the devices. A second SQLite connection
// holding the write lock, and a full 20 MB tmpfs under both files. Each checks what a device sent (SentLedger)
// against the database once the hub has stopped: 0 lost, 0 stored twice.
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { eventually } from './support/eventually.js';
import { hello } from './support/fixtures.js';
import { startHub } from './support/hub-harness.js';
import { call } from './support/http.js';
import { RawDevice } from './support/raw-device.js';
import { SentLedger } from './support/sent-ledger.js';
import { sqliteNow } from '../hub/testing/sqlite-now.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Harness = Awaited<ReturnType<typeof startHub>>;

async function device(h: Harness, id: string): Promise<SentLedger> {
  const { token } = sqliteNow(h.hub.registry.provision(id, id, 'thermostat', Date.now()));
  const { device } = await RawDevice.greet(h.wssUrl, id, token, hello());
  return new SentLedger(device, id);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
/** GET /api/health (no token needed): its HTTP status and body. */
async function health(h: Harness): Promise<{ status: number; body: any }> {
  return call(`https://127.0.0.1:${h.hub.port}`, h.hub.tls.cert, 'GET', '/api/health');
}

async function hubInfo(h: Harness): Promise<any> {
  return (await call(`https://127.0.0.1:${h.hub.port}`, h.hub.tls.cert, 'GET', '/api/hub', { token: h.hub.adminToken })).body;
}

describe('the ingest journal under storage faults', () => {
  it('acknowledges every frame while another process holds the write lock, says why drains fail, and stores each once after', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hearth-journal-lock-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const h = await startHub({ dataDir, overrides: { 'ingest.journalDrainMs': 100 } });
    cleanups.push(() => h.stop());
    const a = await device(h, 'journal-lock');
    const stop = a.stream(5, 20); // 250 readings/s
    cleanups.push(stop);
    await eventually(() => expect(a.acked).toBeGreaterThan(50));
    const other = new Database(join(dataDir, 'hearth.db'));
    other.exec('BEGIN IMMEDIATE');
    try {
      const ackedAtLock = a.acked;
      // Drains fail, and /api/hub says so; the devices see nothing of it.
      await eventually(async () => expect((await hubInfo(h)).storage.journal.drainError).toMatch(/locked|busy/i), 10_000);
      await eventually(() => expect(a.acked).toBeGreaterThan(ackedAtLock + 250), 10_000);
      expect(h.hub.ingest.fault).toBeUndefined();
      expect((await hubInfo(h)).storage.journal.readings).toBeGreaterThan(250);
      // The database is behind: the hub says it is degraded, why, and how much waits in the journal.
      const degraded = await health(h);
      expect(degraded.status).toBe(503);
      expect(degraded.body).toMatchObject({ status: 'degraded', storage: 'failing', fault: { cause: 'busy', failures: expect.any(Number) } });
      expect(degraded.body.undrainedReadings).toBeGreaterThan(250);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    await eventually(async () => expect((await hubInfo(h)).storage.journal.drainError).toBeNull(), 10_000);
    expect(await health(h)).toMatchObject({ status: 200, body: { status: 'ok', storage: 'ok' } });
    stop();
    await eventually(() => expect(a.acked).toBe(a.sent), 5000);
    await h.stop();
    expect(readdirSync(dataDir).filter((n) => n.includes('-ingest-'))).toEqual([]); // all drained at the stop
    expect(a.check(join(dataDir, 'hearth.db'))).toMatchObject({ missing: 0, duplicated: 0 });
  }, 60_000);

  describe('disk full', () => {
    const mnt = join(tmpdir(), `hearth-tmpfs-journal-${process.pid}`);
    let mounted = false;
    afterAll(() => {
      if (mounted) execFileSync('umount', [mnt]);
      rmSync(mnt, { recursive: true, force: true });
    });

    it('refuses commits with cause full once the journal cannot grow, resumes within 5 s of 4 MB freed, and stores every reading once', async () => {
      mkdirSync(mnt, { recursive: true });
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', mnt], { stdio: 'pipe' });
      } catch (err) {
        if (process.env.CI === 'true') throw new Error(`mount -t tmpfs is required under CI: ${(err as Error).message}`);
        console.warn(`skipping: mount -t tmpfs is not available here (${(err as Error).message})`);
        return;
      }
      mounted = true;
      const dataDir = join(mnt, 'data');
      const h = await startHub({ dataDir, overrides: { 'db.maxWalBytes': 4 * 1024 * 1024 } });
      cleanups.push(() => h.stop());
      const a = await device(h, 'journal-full');
      const stop = a.stream(10, 50);
      cleanups.push(stop);
      await eventually(() => expect(a.acked).toBeGreaterThan(100));
      // Fill the disk with 1 MB files, then 4 KiB ones: the journal needs a few KB a second, so what 1 MB files
      // leave would last it minutes.
      const fillers: string[] = [];
      for (const size of [1024 * 1024, 4096]) {
        const bytes = Buffer.alloc(size, 1);
        for (let i = 0; ; i++) {
          const f = join(mnt, `filler-${size}-${i}`);
          try {
            writeFileSync(f, bytes);
            fillers.push(f);
          } catch {
            rmSync(f, { force: true });
            break;
          }
        }
      }
      const big = fillers.filter((f) => f.includes(`filler-${1024 * 1024}-`));
      await eventually(() => expect(h.hub.ingest.fault?.cause).toBe('full'), 10_000);
      expect(h.hub.ingest.fault?.message).toMatch(/HUB_ERR_JOURNAL_FULL/); // the journal's own append, not a drain
      const ackedAtFault = a.acked;
      await eventually(() => expect(h.hub.ingest.stats.commitFailures).toBeGreaterThanOrEqual(3), 10_000);
      expect(a.acked).toBe(ackedAtFault);
      for (const f of big.slice(-4)) unlinkSync(f);
      const freedAt = Date.now();
      const sentAtFree = a.sent;
      await eventually(() => expect(a.acked).toBeGreaterThanOrEqual(sentAtFree), 5000);
      expect(Date.now() - freedAt).toBeLessThan(5000);
      stop();
      await eventually(() => expect(a.acked).toBe(a.sent), 5000);
      expect(h.hub.ingest.fault).toBeUndefined();
      await h.stop();
      expect(a.check(join(dataDir, 'hearth.db'))).toMatchObject({ missing: 0, duplicated: 0 });
    }, 60_000);
  });
});
