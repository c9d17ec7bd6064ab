// Users through the HTTP API against a real hub: list, add, remove (ending the user's sessions at once), one's
// own password, and a user removed by `hearth user remove` in another process losing their sessions too.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Hub } from '../hub/hub.js';
import { UserStore } from '../hub/auth/user-store.js';
import { startHub } from './support/hub-harness.js';
import { eventually } from './support/eventually.js';
import { call } from './support/http.js';

const CLI = fileURLToPath(new URL('../dist/hub/cli.js', import.meta.url));

describe('users API', () => {
  let hub: Hub;
  let stop: () => Promise<void>;
  let dataDir: string;
  let base: string;
  const api = (method: string, path: string, token: string, body?: unknown) => call(base, hub.tls.cert, method, path, { token, ...(body === undefined ? {} : { body }) });
  const signIn = async (username: string, password: string) => {
    const res = await call(base, hub.tls.cert, 'POST', '/api/session', { body: { username, password } });
    expect(res.status).toBe(200);
    return res.body.token as string;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'hearth-users-'));
    const users = new UserStore({ dataDir });
    await users.add('alice', 'alice password', 'admin');
    await users.add('vic', 'vic password', 'viewer');
    const h = await startHub({ dataDir });
    [hub, stop] = [h.hub, h.stop];
    base = `https://127.0.0.1:${hub.port}`;
  });

  afterAll(async () => {
    await stop?.();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('lists, adds and removes users; removing one ends their sessions at once', async () => {
    const alice = await signIn('alice', 'alice password');
    const listed = await api('GET', '/api/users', alice);
    expect(listed.status).toBe(200);
    expect(listed.body.users.map((u: { name: string; role: string }) => [u.name, u.role])).toEqual([['alice', 'admin'], ['vic', 'viewer']]);

    const added = await api('POST', '/api/users', alice, { name: 'bob', password: 'bob password', role: 'integration' });
    expect(added.status).toBe(201);
    expect(added.body.user).toMatchObject({ name: 'bob', role: 'integration' });
    expect(JSON.stringify(added.body)).not.toContain('bob password');
    const bob = await signIn('bob', 'bob password');
    expect((await api('GET', '/api/session', bob)).body).toMatchObject({ username: 'bob', role: 'integration' });

    const removed = await api('DELETE', '/api/users/bob', alice);
    expect(removed.status).toBe(200);
    expect(removed.body).toEqual({ removed: 'bob', sessionsEnded: 1 });
    expect((await api('GET', '/api/session', bob)).status).toBe(401);
    expect((await call(base, hub.tls.cert, 'POST', '/api/session', { body: { username: 'bob', password: 'bob password' } })).status).toBe(401);
  });

  it('answers bad input with the user store codes and keeps non-admins out', async () => {
    const alice = await signIn('alice', 'alice password');
    const vic = await signIn('vic', 'vic password');
    const cases: [unknown, number, string][] = [
      [{ name: 'vic', password: 'x', role: 'viewer' }, 409, 'HUB_ERR_USER_EXISTS'],
      [{ name: 'no spaces', password: 'x', role: 'viewer' }, 400, 'HUB_ERR_USER_NAME'],
      [{ name: 'carol', password: 'x', role: 'owner' }, 400, 'HUB_ERR_USER_ROLE'],
      [{ name: 'carol', password: '', role: 'viewer' }, 400, 'HUB_ERR_USER_PASSWORD'],
      [{ name: 'carol', role: 'viewer' }, 400, 'HUB_ERR_BAD_REQUEST'],
    ];
    for (const [body, status, code] of cases) {
      const res = await api('POST', '/api/users', alice, body);
      expect([res.status, res.body.error]).toEqual([status, code]);
    }
    expect((await api('GET', '/api/users', vic)).body.error).toBe('HUB_ERR_FORBIDDEN');
    expect((await api('DELETE', '/api/users/alice', vic)).status).toBe(403);
    expect((await api('DELETE', '/api/users/alice', alice)).body.error).toBe('HUB_ERR_BAD_REQUEST');
    expect((await api('DELETE', '/api/users/nobody', alice)).status).toBe(404);
    // One bad request leaves the others' sessions alone.
    expect((await api('GET', '/api/session', vic)).status).toBe(200);
  });

  it('changes one\'s own password only, with the current one', async () => {
    const vic = await signIn('vic', 'vic password');
    expect((await api('PUT', '/api/users/vic/password', vic, { currentPassword: 'wrong', password: 'new vic' })).body.error).toBe('HUB_ERR_BAD_REQUEST');
    expect((await api('PUT', '/api/users/alice/password', vic, { currentPassword: 'vic password', password: 'new' })).status).toBe(403);
    const ok = await api('PUT', '/api/users/vic/password', vic, { currentPassword: 'vic password', password: 'new vic' });
    expect([ok.status, ok.body]).toEqual([200, { changed: 'vic' }]);
    expect((await call(base, hub.tls.cert, 'POST', '/api/session', { body: { username: 'vic', password: 'vic password' } })).status).toBe(401);
    expect(await signIn('vic', 'new vic')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('ends the sessions of a user removed by `hearth user remove` in another process', async () => {
    const alice = await signIn('alice', 'alice password');
    expect((await api('POST', '/api/users', alice, { name: 'dora', password: 'dora password', role: 'viewer' })).status).toBe(201);
    const dora = await signIn('dora', 'dora password');
    execFileSync(process.execPath, [CLI, 'user', 'remove', 'dora', '--data-dir', dataDir], { stdio: 'pipe' });
    await eventually(async () => {
      expect((await api('GET', '/api/session', dora)).status).toBe(401);
    });
    expect((await api('GET', '/api/session', alice)).status).toBe(200);
  });
});
