// Users, dashboard sessions and the admin token in the PostgreSQL database that several hubs share (db.url):
// two Authorizers on one database stand for two hubs (the full hubs are in test/hub-shared-auth.test.ts).
// Clocks are injected, so the 1 s recheck and the once-a-minute slide are asserted at their edges.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { PgStore } from '../storage/pg/pg-store.js';
import { describePg } from '../storage/testing/pg-cluster.js';
import { Authorizer } from './authorizer.js';
import { digest } from './session-store.js';
import { SESSION_RECHECK_MS, SESSION_SLIDE_EVERY_MS, SharedSessionStore, UNKNOWN_TOKEN_MS } from './shared-session-store.js';
import { SharedUserStore } from './shared-user-store.js';
import { sql } from '../storage/testing/pg-sql.js';

const dirs: string[] = [];
const stores: PgStore[] = [];
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'hearth-shared-auth-'));
  dirs.push(d);
  return d;
};

async function openStore(url: string): Promise<PgStore> {
  const store = new PgStore({ url, poolSize: 2 });
  stores.push(store);
  await store.open();
  return store;
}

const T0 = 1_800_000_000_000;

describePg('credentials shared in PostgreSQL', (cluster) => {
  /** Two "hubs" (Authorizers, each with its own data directory and store) on one new database, one clock. */
  async function twoHubs(clock: { t: number }) {
    const url = await cluster().createDatabase('auth');
    const make = async () => {
      const store = await openStore(url);
      const auth = new Authorizer({ dataDir: tempDir(), devices: { deviceCredentials: () => undefined }, log: pino({ level: 'silent' }), now: () => clock.t, shared: store.auth });
      return { store, auth };
    };
    const [a, b] = [await make(), await make()];
    return { url, a: a.auth, b: b.auth, storeA: a.store };
  }

  it('two hubs starting at once store one admin token and one first admin user; each writes it to admin.token', async () => {
    const clock = { t: T0 };
    const { url, a, b } = await twoHubs(clock);
    await Promise.all([a.start(), b.start()]);
    expect(a.adminToken).toMatch(/^ha1_[A-Za-z0-9_-]{32}$/);
    expect(b.adminToken).toBe(a.adminToken);
    expect(await sql(url, 'SELECT token FROM admin_token')).toEqual([{ token: a.adminToken }]);
    expect(await sql(url, 'SELECT name, role FROM users')).toEqual([{ name: 'admin', role: 'admin' }]);
    // Both answer the admin token, whichever hub stored it.
    expect(await b.authorizeBearer(a.adminToken)).toEqual({ role: 'admin', username: 'admin-token' });
  });

  it('the first hub keeps the token its admin.token already had (a hub moved from SQLite); a later hub replaces its own with it', async () => {
    const url = await cluster().createDatabase('auth');
    const [dirA, dirB] = [tempDir(), tempDir()];
    writeFileSync(join(dirA, 'admin.token'), 'ha1_kept-from-sqlite-0123456789abcdefghij\n');
    writeFileSync(join(dirB, 'admin.token'), 'ha1_another-hubs-old-token-0123456789abcd\n');
    const hub = async (dataDir: string) => {
      const auth = new Authorizer({ dataDir, devices: { deviceCredentials: () => undefined }, log: pino({ level: 'silent' }), shared: (await openStore(url)).auth });
      await auth.start();
      return auth;
    };
    const a = await hub(dirA);
    const b = await hub(dirB);
    expect(a.adminToken).toBe('ha1_kept-from-sqlite-0123456789abcdefghij');
    expect(b.adminToken).toBe(a.adminToken);
    expect(readFileSync(join(dirB, 'admin.token'), 'utf8')).toBe(`${a.adminToken}\n`);
    expect(await b.authorizeBearer('ha1_another-hubs-old-token-0123456789abcd')).toBeNull();
  });

  it('a user added on one hub signs in on the other; a session from A works on B, also as MQTT user session', async () => {
    const clock = { t: T0 };
    const { a, b } = await twoHubs(clock);
    await a.start();
    await b.start();
    await a.addUser('carol', 'carol password', 'integration');
    const grant = await b.signIn('carol', 'carol password');
    expect(grant).toMatchObject({ role: 'integration', username: 'carol', expiresAt: T0 + 12 * 3600_000 });
    expect(await b.signIn('carol', 'wrong')).toBeNull();
    expect(await a.authorizeBearer(grant!.token)).toEqual({ role: 'integration', username: 'carol' });
    expect(await a.authorize({ kind: 'password', username: 'session', password: grant!.token })).toEqual({ role: 'integration', username: 'carol' });
    expect(await a.authorize({ kind: 'password', username: 'carol', password: 'carol password' })).toEqual({ role: 'integration', username: 'carol' });
    expect((await a.listUsers()).map((u) => u.name)).toEqual(['admin', 'carol']);
  });

  it('only the digest of a session token is stored', async () => {
    const clock = { t: T0 };
    const { url, a } = await twoHubs(clock);
    await a.start();
    await a.addUser('dan', 'dan password', 'viewer');
    const { token } = (await a.signIn('dan', 'dan password'))!;
    const rows = await sql<{ token_hash: string }>(url, 'SELECT token_hash FROM dashboard_sessions');
    expect(rows).toEqual([{ token_hash: digest(token) }]);
    expect(JSON.stringify(await sql(url, 'SELECT * FROM dashboard_sessions'))).not.toContain(token);
  });

  it('signing out on A ends the session on A at once and on B by the next recheck (1 s); removing the user ends the rest', async () => {
    const clock = { t: T0 };
    const { a, b } = await twoHubs(clock);
    await a.start();
    await b.start();
    await a.addUser('erin', 'erin password', 'viewer');
    const one = (await a.signIn('erin', 'erin password'))!.token;
    const two = (await a.signIn('erin', 'erin password'))!.token;
    expect(await b.session(one)).toMatchObject({ username: 'erin' }); // B has confirmed it just now
    expect(await a.signOut(one)).toBe(true);
    expect(await a.session(one)).toBeNull();
    expect(await a.signOut(one)).toBe(false);
    clock.t += SESSION_RECHECK_MS;
    expect(await b.session(one)).toBeNull();

    expect(await b.session(two)).toMatchObject({ username: 'erin' });
    expect(await a.removeUser('erin')).toEqual({ sessionsEnded: 1 });
    expect(await a.removeUser('erin')).toBeNull();
    clock.t += SESSION_RECHECK_MS;
    expect(await b.session(two)).toBeNull();
    expect(await b.signIn('erin', 'erin password')).toBeNull();
  });

  it('a user removed and added again with another role (the CLI, elsewhere) loses the old sessions', async () => {
    const clock = { t: T0 };
    const { url, a, b } = await twoHubs(clock);
    await a.start();
    await a.addUser('fay', 'fay password', 'admin');
    const { token } = (await a.signIn('fay', 'fay password'))!;
    const cli = new SharedUserStore((await openStore(url)).auth);
    expect(await cli.remove('fay')).toBe(true);
    await cli.add('fay', 'fay password', 'viewer');
    expect(await b.session(token)).toBeNull();
    clock.t += SESSION_RECHECK_MS;
    expect(await a.session(token)).toBeNull();
  });

  it('the expiry slides at most once a minute in the database, and a session unused for the TTL lapses', async () => {
    const clock = { t: T0 };
    const { url, a, b } = await twoHubs(clock);
    await a.start();
    await a.addUser('gus', 'gus password', 'viewer');
    const { token } = (await a.signIn('gus', 'gus password'))!;
    const stored = async () => (await sql<{ expires_at: string }>(url, 'SELECT expires_at FROM dashboard_sessions')).map((r) => Number(r.expires_at));
    const TTL = 12 * 3600_000;
    for (let t = 1; t < SESSION_SLIDE_EVERY_MS / 1000; t += 10) {
      clock.t = T0 + t * 1000;
      expect(await a.session(token)).not.toBeNull();
      expect(await b.session(token)).not.toBeNull();
    }
    expect(await stored()).toEqual([T0 + TTL]); // rechecked every time, written never
    clock.t = T0 + SESSION_SLIDE_EVERY_MS + 1000;
    expect(await a.session(token)).toEqual({ username: 'gus', role: 'viewer', expiresAt: clock.t + TTL });
    expect(await stored()).toEqual([clock.t + TTL]);
    clock.t += TTL;
    expect(await b.session(token)).toBeNull();
  });

  it('keeps at most maxSessions (the soonest-expiring go) and sweeps expired sessions', async () => {
    const clock = { t: T0 };
    const url = await cluster().createDatabase('auth');
    const store = await openStore(url);
    await new SharedUserStore(store.auth).add('hal', 'hal password', 'viewer');
    const sessions = new SharedSessionStore(store.auth, { now: () => clock.t, maxSessions: 3, ttlMs: 60_000 });
    const tokens: string[] = [];
    for (let i = 0; i < 5; i++) {
      clock.t = T0 + i * 1000;
      tokens.push((await sessions.create('hal', 'viewer')).token);
    }
    const hashes = await sql<{ token_hash: string }>(url, 'SELECT token_hash FROM dashboard_sessions ORDER BY expires_at');
    expect(hashes.map((r) => r.token_hash)).toEqual(tokens.slice(2).map(digest));
    expect(await sessions.verify(tokens[0]!)).toBeNull();
    clock.t = T0 + 4000 + 60_000 + 120_000; // every one expired, and a sweep is due
    sessions.sweep();
    await eventuallyEmpty(url);
    expect(sessions.size).toBe(0);
  });

  it('asks the database about an unknown token once a minute, not on every request; a real session is unaffected', async () => {
    const clock = { t: T0 };
    const url = await cluster().createDatabase('auth');
    const store = await openStore(url);
    await new SharedUserStore(store.auth).add('ivy', 'ivy password', 'viewer');
    let asked = 0;
    const rows = new Proxy(store.auth, {
      get: (target, key) => {
        if (key === 'liveSession') return (...args: Parameters<typeof target.liveSession>) => (asked++, target.liveSession(...args));
        const value = Reflect.get(target, key) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const sessions = new SharedSessionStore(rows, { now: () => clock.t });
    const madeUp = 'A'.repeat(43);
    expect(await sessions.verify(madeUp)).toBeNull();
    for (let i = 0; i < 50; i++) expect(await sessions.verify(madeUp)).toBeNull();
    expect(asked).toBe(1);
    clock.t += UNKNOWN_TOKEN_MS; // remembered for a minute, then asked again
    expect(await sessions.verify(madeUp)).toBeNull();
    expect(asked).toBe(2);
    // A session signed in on another hub (another store on the database) is found here at its first use.
    const other = new SharedSessionStore((await openStore(url)).auth, { now: () => clock.t });
    const { token } = await other.create('ivy', 'viewer');
    expect(await sessions.verify(token)).toMatchObject({ username: 'ivy', role: 'viewer' });
    // Signed out there: unknown here after the recheck, and then not asked about again for a minute.
    await other.revoke(token);
    clock.t += SESSION_RECHECK_MS;
    const before = asked;
    expect(await sessions.verify(token)).toBeNull();
    expect(await sessions.verify(token)).toBeNull();
    expect(asked).toBe(before + 1);
  });

  it('refuses bad input with clear errors: names, roles, passwords, taken names, and rows that break the CHECKs', async () => {
    const { url, a } = await twoHubs({ t: T0 });
    await a.start();
    await expect(a.addUser('no spaces', 'pw', 'viewer')).rejects.toThrow(/^HUB_ERR_USER_NAME: user names are 1-64/);
    await expect(a.addUser('ivy', 'pw', 'root' as never)).rejects.toThrow(/^HUB_ERR_USER_ROLE: role must be one of admin, integration, viewer/);
    await expect(a.addUser('ivy', '', 'viewer')).rejects.toThrow(/^HUB_ERR_USER_PASSWORD: the password must not be empty/);
    await a.addUser('ivy', 'ivy password', 'viewer');
    await expect(a.addUser('ivy', 'other', 'admin')).rejects.toThrow(/^HUB_ERR_USER_EXISTS: user ivy already exists/);
    expect(await a.changePassword('ivy', 'wrong', 'new')).toBe('wrong');
    expect(await a.changePassword('nobody', 'x', 'new')).toBe('unknown');
    expect(await a.changePassword('ivy', 'ivy password', 'new ivy')).toBe('ok');
    expect(await a.signIn('ivy', 'new ivy')).not.toBeNull();
    expect(await a.authorizeBearer('x'.repeat(65))).toBeNull(); // not token-shaped: no lookup
    expect(await a.authorizeBearer('not-a-session')).toBeNull();
    const bad = (text: string, params: unknown[]) => sql(url, text, params).then(() => 'accepted', (err: Error) => err.message);
    const user = 'INSERT INTO users (name, role, created_at, salt, hash, kdf_n, kdf_r, kdf_p, kdf_keylen) VALUES ($1, $2, 0, $3, $3, $4, 8, 1, 32)';
    expect(await bad(user, ['bad name', 'viewer', 'c2FsdA==', 16384])).toMatch(/violates check constraint "users_name_check"/);
    expect(await bad(user, ['jo', 'root', 'c2FsdA==', 16384])).toMatch(/users_role_check/);
    expect(await bad(user, ['jo', 'viewer', 'c2FsdA==', 2 ** 21])).toMatch(/users_kdf_n_check/);
    const session = 'INSERT INTO dashboard_sessions (token_hash, username, role, created_at, expires_at) VALUES ($1, $2, $3, 0, 1)';
    expect(await bad(session, ['a-raw-token-not-a-digest', 'ivy', 'viewer'])).toMatch(/dashboard_sessions_token_hash_check/);
    expect(await bad(session, [digest('t'), 'nobody', 'viewer'])).toMatch(/violates foreign key constraint/);
    expect(await bad('INSERT INTO admin_token (id, token, created_at) VALUES (2, $1, 0)', ['ha1_0123456789abcdefghij'])).toMatch(/admin_token_id_check/);
  });
});

async function eventuallyEmpty(url: string): Promise<void> {
  // The sweep runs in the background: poll for its effect (bounded), never sleep for it.
  const deadline = Date.now() + 5000;
  for (;;) {
    const [row] = await sql<{ n: string }>(url, 'SELECT count(*) AS n FROM dashboard_sessions');
    if (Number(row!.n) === 0) return;
    if (Date.now() > deadline) throw new Error(`expired sessions were not swept: ${row!.n} remain`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
