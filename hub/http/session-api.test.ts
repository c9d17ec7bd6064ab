import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Authorizer, type Principal } from '../auth/authorizer.js';
import { SESSION_TTL_MS, SessionStore } from '../auth/session-store.js';
import { UserStore } from '../auth/user-store.js';
import { bearerToken } from './request.js';
import { createSessionApi } from './session-api.js';

/** The real credential checks over the given sessions (and users); no admin token, no devices. */
function authorizerOf(sessions: SessionStore, users = new UserStore({ dataDir: mkdtempSync(join(tmpdir(), 'hearth-auth-')) })): Authorizer {
  return new Authorizer({ dataDir: tmpdir(), users, sessions, devices: { deviceCredentials: () => undefined }, log: pino({ level: 'silent' }) });
}

describe('bearerToken and the bearer\'s session role', () => {
  const req = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } }) as unknown as IncomingMessage;
  it('reads the bearer token and the role of a live session', () => {
    const store = new SessionStore();
    const auth = authorizerOf(store);
    const sessionRole = (r: IncomingMessage) => {
      const t = bearerToken(r);
      // SQLite: answered at once, no Promise.
      return t === null ? null : ((auth.authorizeBearer(t) as Principal | null)?.role ?? null);
    };
    const { token } = store.create('carol', 'integration');
    expect(bearerToken(req(`Bearer ${token}`))).toBe(token);
    expect(bearerToken(req('Basic abc'))).toBeNull();
    expect(bearerToken(req('Bearer  '))).toBeNull();
    expect(bearerToken(req())).toBeNull();
    expect(sessionRole(req(`Bearer ${token}`))).toBe('integration');
    expect(sessionRole(req('Bearer nope'))).toBeNull();
    expect(sessionRole(req())).toBeNull();
  });
});

describe('session API', () => {
  let server: Server;
  let base: string;
  let dataDir: string;
  let now = 1_000_000;
  const sessions = new SessionStore({ now: () => now });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'hearth-sessions-'));
    const users = new UserStore({ dataDir });
    await users.add('alice', 'correct horse', 'admin');
    await users.add('vic', 'viewer pw', 'viewer');
    const api = createSessionApi({ auth: authorizerOf(sessions, users), now: () => now });
    server = createServer((req, res) => void api(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dataDir, { recursive: true, force: true });
  });

  function call(method: string, path: string, opts: { token?: string; body?: string; type?: string } = {}) {
    return new Promise<{ status: number; body: any; headers: IncomingMessage['headers'] }>((resolve, reject) => {
      const headers: Record<string, string> = {};
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      if (opts.body !== undefined) headers['content-type'] = opts.type ?? 'application/json';
      const req = request(`${base}${path}`, { method, headers }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null, headers: res.headers }));
      });
      req.on('error', reject);
      req.end(opts.body);
    });
  }
  const signIn = (username: string, password: string) => call('POST', '/api/session', { body: JSON.stringify({ username, password }) });

  it('signs in with the right password and answers token, role, user name and expiry', async () => {
    const res = await signIn('alice', 'correct horse');
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({ token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), role: 'admin', username: 'alice', expiresAt: now + SESSION_TTL_MS });
    expect(sessions.verify(res.body.token)?.username).toBe('alice');
  });

  it('refuses a wrong password and an unknown user alike with 401 HUB_ERR_BAD_CREDENTIALS', async () => {
    for (const [user, pw] of [['alice', 'wrong'], ['nobody', 'correct horse'], ['alice', '']]) {
      const res = await signIn(user!, pw!);
      expect([res.status, res.body.error]).toEqual([401, 'HUB_ERR_BAD_CREDENTIALS']);
      expect(typeof res.body.message).toBe('string');
    }
  });

  it('answers 400 for a body that is not JSON credentials', async () => {
    const cases = [
      { body: 'username=alice&password=x', type: 'application/x-www-form-urlencoded' },
      { body: '{oops' },
      { body: '{"username":"alice"}' },
      { body: '{"username":5,"password":"x"}' },
      { body: JSON.stringify({ username: 'a'.repeat(65), password: 'x' }) },
    ];
    for (const c of cases) {
      const res = await call('POST', '/api/session', c);
      expect([res.status, res.body.error]).toEqual([400, 'HUB_ERR_BAD_REQUEST']);
    }
  });

  it('describes the bearer session with GET, ends it with DELETE, and then refuses it', async () => {
    const { body } = await signIn('vic', 'viewer pw');
    const info = await call('GET', '/api/session', { token: body.token });
    expect([info.status, info.body]).toEqual([200, { username: 'vic', role: 'viewer', expiresAt: now + SESSION_TTL_MS }]);
    const out = await call('DELETE', '/api/session', { token: body.token });
    expect([out.status, out.body]).toEqual([200, { revoked: true }]);
    expect((await call('DELETE', '/api/session', { token: body.token })).body).toEqual({ revoked: false });
    const after = await call('GET', '/api/session', { token: body.token });
    expect([after.status, after.body.error]).toEqual([401, 'HUB_ERR_UNAUTHORIZED']);
    expect((await call('GET', '/api/session')).status).toBe(401);
    expect((await call('DELETE', '/api/session')).status).toBe(401);
  });

  it('answers 405 with Allow for other methods and 404 for other paths', async () => {
    const put = await call('PUT', '/api/session');
    expect([put.status, put.body.error, put.headers.allow]).toEqual([405, 'HUB_ERR_METHOD_NOT_ALLOWED', 'GET, POST, DELETE']);
    expect((await call('GET', '/api/sessions')).status).toBe(404);
  });

  it('answers 429 after 10 failed sign-ins from one address, until the minute is over', async () => {
    now += 10 * 60_000;
    for (let i = 0; i < 10; i++) expect((await signIn('alice', `guess ${i}`)).status).toBe(401);
    const blocked = await signIn('alice', 'correct horse');
    expect([blocked.status, blocked.body.error, blocked.headers['retry-after']]).toEqual([429, 'HUB_ERR_TOO_MANY_ATTEMPTS', '60']);
    now += 60_000;
    expect((await signIn('alice', 'correct horse')).status).toBe(200);
  });
});
