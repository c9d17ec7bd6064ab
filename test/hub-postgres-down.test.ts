// The HTTP API of a hub whose PostgreSQL is gone (issue #16: a hub cut off from the database): requests that
// need the database answer 503 HUB_ERR_STORAGE with cause `unreachable` and a Retry-After, not a 500, and
// what the hub holds in memory (the device list) is still served.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { PgCluster, pgUnavailable } from '../hub/storage/pg/throwaway-cluster.js';
import { startHub } from './support/hub-harness.js';
import { call } from './support/http.js';

const why = pgUnavailable();
const run = why && process.env.CI !== 'true' ? it.skip : it;
let cluster: PgCluster | undefined;
beforeAll(async () => {
  if (why && process.env.CI === 'true') throw new Error(`${why}; CI=true requires it`);
  if (!why) cluster = await PgCluster.start();
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});

run(`answers 503 HUB_ERR_STORAGE (unreachable) while PostgreSQL is down${why ? ` (skipped: ${why})` : ''}`, async () => {
  const url = await cluster!.createDatabase('down');
  const h = await startHub({ overrides: { 'db.url': url, 'hub.id': 'pg-down' } });
  try {
    const base = `https://127.0.0.1:${h.hub.port}`;
    const api = (method: string, path: string, body?: unknown, token: string | undefined = h.hub.adminToken) => call(base, h.hub.tls.cert, method, path, { token, body });
    expect((await api('POST', '/api/devices', { id: 'hall', name: 'Hall', type: 'thermostat' })).status).toBe(201);
    const history = `/api/devices/hall/events?from=0&to=${Date.now()}`;
    expect((await api('GET', history)).status).toBe(200);

    await cluster!.stop(); // its own cluster: the server and its socket are gone
    const refused = await api('GET', history);
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ error: 'HUB_ERR_STORAGE', cause: 'unreachable' });
    expect(String(refused.body.message)).toMatch(/^storage cannot answer now \(unreachable\): /);
    expect(refused.headers['retry-after']).toBe('2');
    // A write: nothing changed, the same answer.
    const added = await api('POST', '/api/devices', { id: 'porch', name: 'Porch', type: 'sensor' });
    expect([added.status, added.body.error, added.body.cause]).toEqual([503, 'HUB_ERR_STORAGE', 'unreachable']);
    // Signing in looks the user up in the shared database: 503 as well, not a 500.
    const signIn = await api('POST', '/api/session', { username: 'admin', password: 'not this one' }, undefined);
    expect([signIn.status, signIn.body.error, signIn.body.cause]).toEqual([503, 'HUB_ERR_STORAGE', 'unreachable']);
    // What the hub holds in memory is still answered.
    const list = await api('GET', '/api/devices');
    expect(list.status).toBe(200);
    expect((list.body.devices as { id: string }[]).map((d) => d.id)).toEqual(['hall']);
  } finally {
    await h.stop();
  }
}, 60_000);
