// Storage faults against a real hub (issue "Faults", sections 1, 2 and 5): a second SQLite connection holding
// the write lock, a full 20 MB tmpfs, an immutable database file (chattr +i: the tests run as root, which
// file permissions do not stop), and a SIGTERM whose final commit fails. Each checks what a device sent
// (SentLedger, the device's own record) against the database: 0 lost, 0 stored twice, and recovery within
// the stated bound.
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { newDeviceCredentials } from '../hub/auth/device-tokens.js';
import { provisionFleet, spawnNode } from '../bench/proc.js';
import { HubStore } from '../hub/storage/hub-store.js';
import { eventually } from './support/eventually.js';
import { hello } from './support/fixtures.js';
import { startHub } from './support/hub-harness.js';
import { freePort, spawnHub } from './support/hub-process.js';
import { call } from './support/http.js';
import { RawDevice } from './support/raw-device.js';
import { SentLedger } from './support/sent-ledger.js';
import { sqliteNow } from '../hub/testing/sqlite-now.js';

/**
 * These faults are met by the commit itself: every commit its own SQLite transaction. With the ingest journal
 * (the default) commits go to a file beside the database and a fault meets the drain instead:
 * test/faults-journal.test.ts.
 */
const DIRECT = { 'ingest.journal': false } as const;

const dirs: string[] = [];
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

type Harness = Awaited<ReturnType<typeof startHub>>;

/** One line of the closing table (issue "Faults", Done when): what was injected, recovery, the devices' counts. */
interface FaultRow {
  fault: string;
  recoveredMs: number | null;
  sent: number;
  acked: number;
  stored: number;
  missing: number;
  duplicated: number;
}
const rows: FaultRow[] = [];

/** Adds a table row from the devices' own records against the database (the hub may still run). */
function tabulate(r: { fault: string; recoveredMs: number | null; ledgers: SentLedger[]; db: string }): void {
  const row: FaultRow = { fault: r.fault, recoveredMs: r.recoveredMs, sent: 0, acked: 0, stored: 0, missing: 0, duplicated: 0 };
  for (const l of r.ledgers) {
    const c = l.check(r.db);
    row.sent += c.sent;
    row.acked += l.acked;
    row.stored += c.stored;
    row.missing += c.missing;
    row.duplicated += c.duplicated;
  }
  rows.push(row);
}

afterAll(() => {
  if (rows.length === 0) return;
  const head = ['fault injected', 'recovered in', 'sent', 'acked', 'stored', 'missing', 'duplicated'];
  const lines = rows.map((r) => [r.fault, r.recoveredMs === null ? '-' : `${(r.recoveredMs / 1000).toFixed(2)} s`, ...[r.sent, r.acked, r.stored, r.missing, r.duplicated].map(String)]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  process.stdout.write(['', 'Storage faults (issue "Faults", sections 1, 2, 5):', fmt(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(fmt), ''].join('\n'));
});

async function device(h: Harness, id: string, token = sqliteNow(h.hub.registry.provision(id, id, 'thermostat', Date.now())).token): Promise<SentLedger> {
  const { device } = await RawDevice.greet(h.wssUrl, id, token, hello());
  return new SentLedger(device, id);
}

/** GET `path` on the hub; resolves with its status, body and how long the answer took (ms). */
async function timed(h: Harness, path: string): Promise<{ status: number; body: any; ms: number }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const t0 = performance.now();
  const r = await call(`https://127.0.0.1:${h.hub.port}`, h.hub.tls.cert, 'GET', path);
  return { status: r.status, body: r.body, ms: performance.now() - t0 };
}

async function metric(h: Harness, line: string): Promise<number | undefined> {
  const r = await call(`https://127.0.0.1:${h.hub.port}`, h.hub.tls.cert, 'GET', '/metrics');
  const found = String(r.body).split('\n').find((l) => l.startsWith(line + ' '));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

/** Under CI a missing facility fails the test; elsewhere it is skipped with the reason. */
function facility(name: string, probe: () => void): boolean {
  try {
    probe();
    return true;
  } catch (err) {
    if (process.env.CI === 'true') throw new Error(`${name} is required under CI: ${(err as Error).message}`);
    console.warn(`skipping: ${name} is not available here (${(err as Error).message})`);
    return false;
  }
}

describe('another process holds the write lock [faults 2]', () => {
  it('keeps /healthz, /readyz and /api/health under 100 ms, reports busy, does not rate-limit the device, and stores every reading once after the lock goes', async () => {
    const h = await startHub({ overrides: { ...DIRECT, 'ingest.maxPendingReadings': 1000, 'ingest.commitMaxReadings': 100 } });
    dirs.push(h.dataDir);
    cleanups.push(() => h.stop());
    const a = await device(h, 'lock-a');
    a.send(5);
    await eventually(() => expect(a.acked).toBe(5));
    const tokens = ['lock-b', 'lock-c'].map((id) => sqliteNow(h.hub.registry.provision(id, id, 'thermostat', Date.now())).token);
    // Their HELLOs and series are stored now, so a reconnect during the fault needs no write.
    const [b, c] = await Promise.all(['lock-b', 'lock-c'].map((id, i) => device(h, id, tokens[i])));
    for (const d of [b!, c!]) {
      d.send(1);
      await eventually(() => expect(d.acked).toBe(1));
      await d.device.close();
    }

    const other = new Database(join(h.dataDir, 'hearth.db'));
    other.exec('BEGIN IMMEDIATE');
    cleanups.push(() => other.close());
    const stopA = a.stream(15, 100); // 150 frames/s, under the default 200
    cleanups.push(stopA);
    await eventually(() => expect(h.hub.ingest.fault?.cause).toBe('busy'));
    b!.device = (await device(h, 'lock-b', tokens[0])).device;
    b!.send(390); // within its burst of 400
    await eventually(() => expect(h.hub.ingest.stats.pendingReadings).toBeGreaterThanOrEqual(1000), 10_000);
    // A device reconnecting under back-pressure greets, then waits like the others: the bound holds.
    c!.device = (await device(h, 'lock-c', tokens[1])).device;
    c!.send(300);
    const acceptedAtPause = h.hub.ingest.stats.framesAccepted;
    let maxPending = 0;
    const latencies: number[] = [];
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline) {
      for (const path of ['/healthz', '/readyz', '/api/health']) latencies.push((await timed(h, path)).ms);
      maxPending = Math.max(maxPending, h.hub.ingest.stats.pendingReadings);
    }
    expect(h.hub.ingest.stats.framesAccepted - acceptedAtPause).toBeLessThan(300);
    // The target is 100 ms; on a shared CI machine (this test's process also runs the devices and the client)
    // the median shows it, and the worst case shows no commit ever blocked the event loop (the first version's
    // did for the 5 s busy timeout, the issue measured 10 s).
    latencies.sort((x, y) => x - y);
    expect(latencies[Math.floor(latencies.length / 2)]).toBeLessThan(100);
    expect(latencies.at(-1)).toBeLessThan(1000);
    const health = await timed(h, '/api/health');
    expect([health.status, health.body.storage, health.body.fault?.cause]).toEqual([503, 'failing', 'busy']);
    expect((await timed(h, '/readyz')).status).toBe(503);
    expect(await metric(h, 'hearth_storage_fault{cause="busy"}')).toBe(1);
    expect(await metric(h, 'hearth_commit_failures_total{cause="busy"}')).toBeGreaterThan(0);
    // Back-pressure holds its bound with a device that connected mid-fault (at most one socket read past it).
    expect(maxPending).toBeLessThan(2 * 1000);
    expect(a.acked).toBe(5);

    other.exec('ROLLBACK');
    const releasedAt = performance.now();
    await eventually(() => expect([a.acked, b!.acked, c!.acked]).toEqual([a.sent, 391, 301]), 5000);
    const recoveredMs = performance.now() - releasedAt;
    stopA();
    a.send(1);
    await eventually(() => expect(a.acked).toBe(a.sent), 5000);
    expect(await metric(h, 'hearth_storage_fault{cause="busy"}')).toBe(0);
    expect((await timed(h, '/api/health')).body).toMatchObject({ status: 'ok', storage: 'ok' });
    // The frames that queued while the hub could not read are not charged to the devices [FP-9.2].
    expect(h.hub.ingest.stats.framesAccepted).toBe(a.sent + b!.sent + c!.sent);
    expect(h.logs.filter((l) => l.includes('HUB_ERR_RATE_LIMITED'))).toEqual([]);
    expect(h.logs.filter((l) => l.includes('storage write failed'))).toHaveLength(1);
    expect(h.logs.some((l) => l.includes('storage writes succeed again'))).toBe(true);
    for (const d of [a, b!, c!]) expect(d.check(join(h.dataDir, 'hearth.db'))).toMatchObject({ missing: 0, duplicated: 0 });
    tabulate({ fault: 'write lock held ~3 s by another connection, 3 devices', recoveredMs, ledgers: [a, b!, c!], db: join(h.dataDir, 'hearth.db') });
  }, 30_000);
});

describe('a write lock held elsewhere while a device greets, adds a metric, or the API writes [faults 2]', () => {
  // The first version's failure under the ingest benchmark: a changed HELLO and a frame of a new metric need a
  // write on the hub's connection, which met SQLITE_BUSY after 5 ms while compaction held the lock and closed
  // the device with 1011. Here another connection holds the lock as a long compaction transaction or a WAL
  // truncation would; the writes wait for it without blocking the event loop, and only a lock held past the
  // bound refuses them, with a code to retry on.
  it('waits out a lock held 300 ms: WELCOME, every frame acknowledged, 201 from the API; past the bound 1013 HUB_ERR_STORAGE and 503', async () => {
    const h = await startHub({ overrides: DIRECT });
    dirs.push(h.dataDir);
    cleanups.push(() => h.stop());
    const base = `https://127.0.0.1:${h.hub.port}`;
    const other = new Database(join(h.dataDir, 'hearth.db'));
    cleanups.push(() => other.close());
    const hold = (ms: number): Promise<number> => {
      other.exec('BEGIN IMMEDIATE');
      const t0 = performance.now();
      return new Promise((resolve) => setTimeout(() => (other.exec('ROLLBACK'), resolve(performance.now() - t0)), ms));
    };
    const tokens = ['w-a', 'w-b'].map((id) => sqliteNow(h.hub.registry.provision(id, id, 'thermostat', Date.now())).token);
    let last = performance.now();
    let maxLag = 0;
    const lagTimer = setInterval(() => {
      const now = performance.now();
      maxLag = Math.max(maxLag, now - last - 10);
      last = now;
    }, 10);
    cleanups.push(() => clearInterval(lagTimer));

    // A HELLO whose capabilities differ from the stored ones (none yet) needs a write.
    let held = hold(300);
    const a = await device(h, 'w-a', tokens[0]);
    expect(await held).toBeGreaterThanOrEqual(299); // the lock was held (a timer may fire a fraction of a ms early)
    // Its first frame needs the series of a metric new to the hub; the frames behind it wait in order.
    held = hold(300);
    a.send(5);
    await held;
    await eventually(() => expect(a.acked).toBe(5), 5000);
    const created = hold(300);
    const added = await call(base, h.hub.tls.cert, 'POST', '/api/devices', { token: h.hub.adminToken, body: { id: 'w-new' } });
    await created;
    expect(added.status).toBe(201);
    expect(h.hub.registry.has('w-new')).toBe(true);

    // Held past the bound (2 s): refused with what to do, and nothing half-done.
    held = hold(3000);
    const late = call(base, h.hub.tls.cert, 'POST', '/api/devices', { token: h.hub.adminToken, body: { id: 'w-late' } });
    const b = await RawDevice.connect(h.wssUrl, 'w-b', tokens[1]!);
    b.send({ type: 'hello', ...hello() });
    const refusal = await b.next('error');
    const closed = await b.closed;
    const api = await late;
    await held;
    const releasedAt = performance.now();
    expect([refusal, closed.code]).toEqual([expect.objectContaining({ code: 'HUB_ERR_STORAGE' }), 1013]);
    expect([api.status, api.body.error, api.body.cause]).toEqual([503, 'HUB_ERR_STORAGE', 'busy']);
    expect(h.hub.registry.has('w-late')).toBe(false);
    // Once the lock is gone both go through, and the device's frames are stored once.
    const b2 = await device(h, 'w-b', tokens[1]);
    b2.send(3);
    await eventually(() => expect(b2.acked).toBe(3), 5000);
    const recoveredMs = performance.now() - releasedAt;
    expect((await call(base, h.hub.tls.cert, 'POST', '/api/devices', { token: h.hub.adminToken, body: { id: 'w-late' } })).status).toBe(201);

    expect(h.logs.filter((l) => l.includes('HUB_ERR_INTERNAL'))).toEqual([]);
    expect(a.device.frames.filter((f) => f.type === 'error')).toEqual([]);
    // The writes waited on timers, not on the event loop: it never stalled for the bound's 2 s or for a 5 s
    // busy timeout (the margin is a shared machine's scheduling).
    expect(maxLag).toBeLessThan(1000);
    for (const d of [a, b2]) expect(d.check(join(h.dataDir, 'hearth.db'))).toMatchObject({ missing: 0, duplicated: 0 });
    tabulate({ fault: 'write lock held 300 ms, then 3 s (HELLO, new metric, API)', recoveredMs, ledgers: [a, b2], db: join(h.dataDir, 'hearth.db') });
  }, 30_000);
});

describe('compaction in its worker under load while devices greet and add metrics [faults 2]', () => {
  // The ingest benchmark's conditions that reverted the first version, scaled to a test: a loader keeps the
  // hub and its compaction worker busy, and fresh devices greet with new capabilities and send new metrics,
  // each a write on the hub's connection while compaction's write transactions run.
  it('welcomes every device and acknowledges every frame while compaction writes; no refusal, none lost or doubled', async () => {
    const dataDir = tempDir('hearth-compact-');
    const fleet = provisionFleet(dataDir, 40, (i) => ({ id: `load-${i}` }));
    const late = Array.from({ length: 60 }, (_, i) => `late-${i}`);
    const store = new HubStore({ path: join(dataDir, 'hearth.db') });
    store.open();
    const tokens = late.map((id) => {
      const { record, token } = newDeviceCredentials(id, id, 'thermostat', Date.now());
      store.addDevice(record);
      return token;
    });
    store.close();
    const port = await freePort();
    const hub = await spawnHub(dataDir, port, ['--ingest-journal', 'false', '--devices-max-frames-per-second', '100000']);
    cleanups.push(() => hub.proc.kill('SIGKILL'));
    const base = `https://127.0.0.1:${port}`;
    const ca = readFileSync(join(dataDir, 'tls', 'hub-cert.pem'), 'utf8');
    const admin = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
    const compaction = async () => (await call(base, ca, 'GET', '/api/hub', { token: admin })).body.storage.compaction as { passes: number; transactions: number; mode: string };
    const loader = spawnNode(fileURLToPath(new URL('../dist/bench/ingest-load.js', import.meta.url)), ['--url', `wss://127.0.0.1:${port}`, '--credentials', fleet, '--seconds', '60', '--window', '32']);
    cleanups.push(() => loader.proc.kill('SIGKILL'));
    await eventually(async () => expect((await compaction()).passes).toBeGreaterThanOrEqual(1), 60_000);
    const before = await compaction();
    expect(before.mode).toBe('worker');

    const ledgers: SentLedger[] = [];
    for (let i = 0; i < late.length; i += 10) {
      const group = await Promise.all(late.slice(i, i + 10).map(async (id, j) => {
        const { device: raw } = await RawDevice.greet(`wss://127.0.0.1:${port}`, id, tokens[i + j]!, hello());
        const l = new SentLedger(raw, id);
        l.send(5); // the first needs the series of a metric new to the hub
        return l;
      }));
      ledgers.push(...group);
    }
    await eventually(() => expect(ledgers.filter((l) => l.acked !== 5).map((l) => l.deviceId)).toEqual([]), 20_000);
    const after = await compaction();
    expect(after.transactions).toBeGreaterThan(before.transactions); // compaction wrote meanwhile
    expect(ledgers.flatMap((l) => l.device.frames.filter((f) => f.type === 'error'))).toEqual([]);
    const refused = String((await call(base, ca, 'GET', '/metrics')).body).split('\n').filter((l) => l.startsWith('hearth_frames_refused_total{'));
    expect(refused).toEqual([]);
    loader.proc.kill('SIGKILL');
    hub.proc.kill('SIGTERM');
    expect(await hub.exited).toBe(0);
    for (const l of ledgers) expect(l.check(join(dataDir, 'hearth.db'))).toMatchObject({ missing: 0, duplicated: 0 });
    tabulate({ fault: `compaction worker under load (${after.transactions - before.transactions} transactions), 60 devices greet`, recoveredMs: null, ledgers, db: join(dataDir, 'hearth.db') });
  }, 120_000);
});

describe('disk full [faults 1]', () => {
  const mnt = join(tmpdir(), `hearth-tmpfs-${process.pid}`);
  let mounted = false;
  afterAll(() => {
    if (mounted) execFileSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });

  it('on a full 20 MB disk keeps the WAL bounded, resumes within 5 s of 4 MB freed, stays resumed, and stores every reading once', async () => {
    mkdirSync(mnt, { recursive: true });
    if (!facility('mount -t tmpfs', () => execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', mnt], { stdio: 'pipe' }))) return;
    mounted = true;
    const dataDir = join(mnt, 'data');
    const maxWal = 4 * 1024 * 1024;
    const h = await startHub({ dataDir, overrides: { ...DIRECT, 'db.maxWalBytes': maxWal } });
    cleanups.push(() => h.stop());
    const a = await device(h, 'full-a');
    const stopA = a.stream(10, 50); // 200 readings/s
    cleanups.push(stopA);
    let maxWalSeen = 0;
    const walWatch = setInterval(() => (maxWalSeen = Math.max(maxWalSeen, h.hub.store.walBytes())), 20);
    cleanups.push(() => clearInterval(walWatch));
    await eventually(() => expect(a.acked).toBeGreaterThan(100));

    // Fill the disk with 1 MB files until it refuses more.
    const fillers: string[] = [];
    const mb = Buffer.alloc(1024 * 1024, 1);
    for (let i = 0; ; i++) {
      const f = join(mnt, `filler-${i}`);
      try {
        writeFileSync(f, mb);
        fillers.push(f);
      } catch {
        rmSync(f, { force: true });
        break;
      }
    }
    await eventually(() => expect(h.hub.ingest.fault?.cause).toBe('full'), 10_000);
    const ackedAtFault = a.acked;
    const health = await timed(h, '/api/health');
    expect([health.status, health.body.fault?.cause]).toEqual([503, 'full']);
    expect(await metric(h, 'hearth_commit_failures_total{cause="full"}')).toBeGreaterThan(0);
    // Let the fault last: retries, compaction failing too, the devices' backlog growing.
    await eventually(() => expect(h.hub.ingest.stats.commitFailures).toBeGreaterThanOrEqual(6), 10_000);
    expect(a.acked).toBe(ackedAtFault);

    for (const f of fillers.splice(-4)) unlinkSync(f);
    const freedAt = Date.now();
    const sentAtFree = a.sent;
    await eventually(() => expect(a.acked).toBeGreaterThanOrEqual(sentAtFree), 5000);
    const recoveredMs = Date.now() - freedAt;
    expect(recoveredMs).toBeLessThan(5000);
    // Stays resumed: 5 s more at the same rate are acknowledged as they come.
    const until = a.sent + 1000;
    await eventually(() => expect(a.sent).toBeGreaterThanOrEqual(until), 10_000);
    await eventually(() => expect(a.acked).toBeGreaterThanOrEqual(until), 3000);
    expect(h.hub.ingest.fault).toBeUndefined();
    stopA();
    await eventually(() => expect(a.acked).toBe(a.sent), 5000);

    expect(maxWalSeen).toBeLessThanOrEqual(maxWal);
    expect(h.logs.filter((l) => l.includes('storage write failed'))).toHaveLength(1);
    expect(h.logs.filter((l) => l.includes('compaction failed')).length).toBeLessThanOrEqual(1);
    await h.stop();
    expect(a.check(join(dataDir, 'hearth.db'))).toMatchObject({ missing: 0, duplicated: 0 });
    tabulate({ fault: 'disk full (20 MB tmpfs), then 4 MB freed', recoveredMs, ledgers: [a], db: join(dataDir, 'hearth.db') });
  }, 60_000);
});

describe('read-only database [faults 2]', () => {
  it('reopens by itself once the file is writable again (chattr +i as root) and stores every reading once', async () => {
    const dataDir = tempDir('hearth-ro-');
    const h = await startHub({ dataDir, overrides: DIRECT });
    cleanups.push(() => h.stop());
    const db = join(dataDir, 'hearth.db');
    const files = [db, `${db}-wal`];
    const a = await device(h, 'ro-a');
    a.send(10);
    await eventually(() => expect(a.acked).toBe(10));
    if (!facility('chattr +i', () => execFileSync('chattr', ['+i', ...files], { stdio: 'pipe' }))) return;
    cleanups.push(() => void execFileSync('chattr', ['-i', ...files]));
    const stopA = a.stream(5, 50);
    cleanups.push(stopA);
    await eventually(() => expect(['readonly', 'ioerr', 'cantopen']).toContain(h.hub.ingest.fault?.cause), 10_000);
    const cause = h.hub.ingest.fault!.cause;
    expect((await timed(h, '/api/health')).body.fault.cause).toBe(cause);
    expect(await metric(h, `hearth_commit_failures_total{cause="${cause}"}`)).toBeGreaterThan(0);
    await eventually(() => expect(h.hub.ingest.stats.commitFailures).toBeGreaterThanOrEqual(3), 10_000);

    execFileSync('chattr', ['-i', ...files]);
    const restoredAt = Date.now();
    const sentAtRestore = a.sent;
    await eventually(() => expect(a.acked).toBeGreaterThanOrEqual(sentAtRestore), 5000);
    const recoveredMs = Date.now() - restoredAt;
    expect(recoveredMs).toBeLessThan(5000);
    stopA();
    await eventually(() => expect(a.acked).toBe(a.sent), 5000);
    expect((await timed(h, '/readyz')).status).toBe(200);
    expect(statSync(db).size).toBeGreaterThan(0);
    expect(a.check(db)).toMatchObject({ missing: 0, duplicated: 0 });
    tabulate({ fault: `read-only database (chattr +i; ${cause}), then writable`, recoveredMs, ledgers: [a], db });
  }, 40_000);
});

describe('SIGTERM whose final commit fails [faults 1]', () => {
  it('exits 1 (docs/operations.md), and the device keeps what was not acknowledged', async () => {
    const dataDir = tempDir('hearth-term-');
    const dbFile = join(dataDir, 'hearth.db');
    const store = new HubStore({ path: dbFile });
    store.open();
    const { record, token } = newDeviceCredentials('term-a', 'term', 'thermostat', Date.now());
    store.addDevice(record);
    store.close();
    const port = await freePort();
    // A long commit interval keeps the frames pending until the shutdown's final commit.
    const hub = await spawnHub(dataDir, port, ['--ingest-journal', 'false', '--ingest-commit-interval-ms', '60000']);
    cleanups.push(() => hub.proc.kill('SIGKILL'));
    const { device: raw } = await RawDevice.greet(`wss://127.0.0.1:${port}`, 'term-a', token, hello());
    const a = new SentLedger(raw, 'term-a');
    a.send(20);
    const ca = readFileSync(join(dataDir, 'tls', 'hub-cert.pem'), 'utf8');
    await eventually(async () => {
      const r = await call(`https://127.0.0.1:${port}`, ca, 'GET', '/metrics');
      expect(String(r.body)).toContain('hearth_frames_received_total 20');
    });
    const other = new Database(dbFile);
    cleanups.push(() => other.close());
    other.exec('BEGIN IMMEDIATE');
    hub.proc.kill('SIGTERM');
    expect(await hub.exited).toBe(1);
    other.exec('ROLLBACK');
    expect(a.acked).toBe(0);
    expect(a.check(dbFile)).toMatchObject({ stored: 0 });
    // Nothing acknowledged, nothing stored: the device still holds all 20 (missing here means "not yet stored").
    tabulate({ fault: 'SIGTERM while the final commit fails (exit 1)', recoveredMs: null, ledgers: [a], db: dbFile });
  }, 30_000);
});
