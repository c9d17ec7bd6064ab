// Two real hubs (in-process) on one PostgreSQL database (issue #16: users, dashboard sessions and the admin
// token live in the shared database): the same admin token, a user added by `hearth user add --db-url` in
// another process signing in on both, a session from hub A working on hub B's API and MQTT broker and ending
// there after signing out on A, and a user removed on one hub (or by the CLI) signed out on the other.
import { afterAll, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import pg from 'pg';
import { describePg } from '../hub/storage/testing/pg-cluster.js';
import { eventually } from './support/eventually.js';
import { startHub } from './support/hub-harness.js';
import { call } from './support/http.js';

const CLI = fileURLToPath(new URL('../dist/hub/cli.js', import.meta.url));
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** `hearth ...` in its own process (dist/), as an operator runs it; HEARTH_* cleared so only the flags count. */
function hearth(args: string[]): { code: number | null; out: string; err: string } {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HEARTH_')));
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

async function sql<R extends pg.QueryResultRow>(url: string, text: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text)).rows;
  } finally {
    await client.end();
  }
}

/** Whether the embedded broker on `port` accepts this user name and password (CONNACK 0). */
async function mqttAccepts(port: number, username: string, password: string): Promise<boolean> {
  try {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username, password, reconnectPeriod: 0, connectTimeout: 5000 });
    await client.endAsync();
    return true;
  } catch (err) {
    if (/Not authorized|Bad username or password/i.test((err as Error).message)) return false;
    throw err;
  }
}

describePg('credentials shared by two hubs on one PostgreSQL database', (cluster) => {
  it('same admin token, CLI users on both, a session from A on B (API and MQTT) ended by signing out on A, removed users signed out everywhere', async () => {
    const url = await cluster().createDatabase('shared');
    const mqttOn = { 'mqtt.embedded': true, 'mqtt.port': 0, 'mqtt.tlsPort': null, 'mqtt.websocket': false };
    // Started at once: one admin token, one first admin user, whichever wins.
    const [a, b] = await Promise.all([
      startHub({ overrides: { 'db.url': url, 'hub.id': 'hub-a' } }),
      startHub({ overrides: { 'db.url': url, 'hub.id': 'hub-b', ...mqttOn } }),
    ]);
    try {
      expect(a.hub.adminToken).toMatch(/^ha1_/);
      expect(b.hub.adminToken).toBe(a.hub.adminToken);
      expect(await sql(url, 'SELECT count(*)::int AS n FROM admin_token')).toEqual([{ n: 1 }]);
      expect(readFileSync(join(b.dataDir, 'admin.token'), 'utf8').trim()).toBe(a.hub.adminToken); // the README's flow reads the file
      expect(await sql(url, 'SELECT name FROM users')).toEqual([{ name: 'admin' }]);

      const baseA = `https://127.0.0.1:${a.hub.port}`;
      const baseB = `https://127.0.0.1:${b.hub.port}`;
      const onA = (method: string, path: string, token: string, body?: unknown) => call(baseA, a.hub.tls.cert, method, path, { token, ...(body === undefined ? {} : { body }) });
      const onB = (method: string, path: string, token: string, body?: unknown) => call(baseB, b.hub.tls.cert, method, path, { token, ...(body === undefined ? {} : { body }) });
      const signIn = async (on: typeof onA, username: string, password: string) => {
        const res = await on('POST', '/api/session', '', { username, password });
        return res.status === 200 ? (res.body.token as string) : res.status;
      };
      expect((await onB('GET', '/api/users', a.hub.adminToken)).status).toBe(200); // A's token is B's too

      // `hearth user add --db-url` in another process: both hubs accept the password at once.
      const added = hearth(['user', 'add', 'dora', '--role', 'integration', '--password', 'dora password', '--db-url', url]);
      expect(added).toMatchObject({ code: 0, out: 'user dora added with role integration\n' });
      expect(hearth(['user', 'list', '--json', '--db-url', url]).out).toContain('"name": "dora"');
      const dora = await signIn(onA, 'dora', 'dora password');
      expect(dora).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(await signIn(onB, 'dora', 'dora password')).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(await signIn(onB, 'dora', 'wrong')).toBe(401);

      // A's session on B: the API, the session endpoint, and the broker as MQTT user `session`.
      const token = dora as string;
      expect((await onB('GET', '/api/devices', token)).status).toBe(200);
      expect((await onB('GET', '/api/session', token)).body).toMatchObject({ username: 'dora', role: 'integration' });
      const mqttPort = b.hub.mqtt!.addresses().tcp!.port;
      expect(await mqttAccepts(mqttPort, 'session', token)).toBe(true);
      expect(await mqttAccepts(mqttPort, 'dora', 'dora password')).toBe(true);

      expect((await onA('DELETE', '/api/session', token)).body).toEqual({ revoked: true });
      expect((await onA('GET', '/api/devices', token)).status).toBe(401); // on A at once
      await eventually(async () => expect((await onB('GET', '/api/devices', token)).status).toBe(401), { timeoutMs: 3000 });
      expect((await onB('DELETE', '/api/session', token)).body).toEqual({ revoked: false });
      expect(await mqttAccepts(mqttPort, 'session', token)).toBe(false);

      // Removed over A's API: B's session of that user ends; removed by the CLI: A's ends.
      expect((await onA('POST', '/api/users', a.hub.adminToken, { name: 'eve', password: 'eve password', role: 'viewer' })).status).toBe(201);
      const eveOnB = (await signIn(onB, 'eve', 'eve password')) as string;
      expect((await onA('DELETE', '/api/users/eve', a.hub.adminToken)).body).toEqual({ removed: 'eve', sessionsEnded: 1 });
      await eventually(async () => expect((await onB('GET', '/api/session', eveOnB)).status).toBe(401), { timeoutMs: 3000 });
      expect(await signIn(onB, 'eve', 'eve password')).toBe(401);

      const doraOnA = (await signIn(onA, 'dora', 'dora password')) as string;
      expect((await onA('GET', '/api/session', doraOnA)).status).toBe(200);
      execFileSync(process.execPath, [CLI, 'user', 'remove', 'dora', '--db-url', url], { stdio: 'pipe' });
      await eventually(async () => expect((await onA('GET', '/api/session', doraOnA)).status).toBe(401), { timeoutMs: 3000 });
      expect(await mqttAccepts(mqttPort, 'dora', 'dora password')).toBe(false);
    } finally {
      // Before the cluster stops (describePg's afterAll): a hub's upkeep must not find it gone.
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('the CLI answers bad input on --db-url with clear errors and exit codes', async () => {
    const url = await cluster().createDatabase('cli');
    const dataDir = mkdtempSync(join(tmpdir(), 'hearth-shared-cli-'));
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    expect(hearth(['user', 'add', 'no spaces', '--role', 'viewer', '--password', 'x', '--db-url', url])).toMatchObject({
      code: 1,
      err: expect.stringContaining('HUB_ERR_USER_NAME: user names are 1-64 of A-Z a-z 0-9 _ . -'),
    });
    expect(hearth(['user', 'add', 'ann', '--role', 'king', '--password', 'x', '--db-url', url])).toMatchObject({ code: 2, err: expect.stringContaining('--role must be one of') });
    expect(hearth(['user', 'add', 'ann', '--role', 'viewer', '--password', 'x', '--db-url', url, '--data-dir', dataDir]).code).toBe(0);
    expect(hearth(['user', 'add', 'ann', '--role', 'viewer', '--password', 'y', '--db-url', url])).toMatchObject({
      code: 1,
      err: expect.stringContaining('HUB_ERR_USER_EXISTS: user ann already exists'),
    });
    expect(hearth(['user', 'remove', 'nobody', '--db-url', url])).toMatchObject({ code: 1, err: 'hearth: no user "nobody"\n' });
    expect(hearth(['user', 'list', '--db-url', 'mysql://h/db'])).toMatchObject({ code: 3, err: expect.stringContaining('db.url') });
    const dead = hearth(['user', 'list', '--db-url', 'postgres://u@127.0.0.1:1/nothing']);
    expect(dead).toMatchObject({ code: 1, err: expect.stringContaining('cannot connect to PostgreSQL at 127.0.0.1:1/nothing') });
    expect(hearth(['user', 'list', '--db-url', url, '--data-dir', dataDir]).out).toMatch(/^ann\s+viewer\s+\d{4}-/);
    // Nothing went to a users.json: with db.url the database is the only home of users.
    expect(existsSync(join(dataDir, 'users.json'))).toBe(false);
  });
});
