import { describe, expect, it } from '@jest/globals';
import { SESSION_TTL_MS, SessionStore } from './session-store.js';

describe('SessionStore', () => {
  it('creates random 32-byte base64url tokens that expire 12 h after creation by default', () => {
    let now = 1_000_000;
    const store = new SessionStore({ now: () => now });
    const a = store.create('alice', 'admin');
    const b = store.create('alice', 'admin');
    expect(a.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a.token, 'base64url')).toHaveLength(32);
    expect(a.token).not.toBe(b.token);
    expect(a.expiresAt).toBe(now + SESSION_TTL_MS);
    expect(store.verify(a.token)).toEqual({ username: 'alice', role: 'admin', expiresAt: now + SESSION_TTL_MS });
  });

  it('slides the expiry on each use and forgets a session left idle past its TTL', () => {
    let now = 0;
    const store = new SessionStore({ ttlMs: 1000, now: () => now });
    const { token } = store.create('bob', 'viewer');
    now = 900;
    expect(store.verify(token)?.expiresAt).toBe(1900);
    now = 1899;
    expect(store.verify(token)?.role).toBe('viewer');
    now = 1899 + 1000;
    expect(store.verify(token)).toBeNull();
    expect(store.size).toBe(0);
  });

  it('revokes one token, or every session of a user', () => {
    const store = new SessionStore();
    const a = store.create('alice', 'admin');
    const b = store.create('alice', 'admin');
    const c = store.create('carol', 'integration');
    expect(store.revoke(a.token)).toBe(true);
    expect(store.revoke(a.token)).toBe(false);
    expect(store.verify(a.token)).toBeNull();
    expect(store.revokeUser('alice')).toBe(1);
    expect(store.verify(b.token)).toBeNull();
    expect(store.verify(c.token)?.username).toBe('carol');
  });

  it('refuses tokens of the wrong shape without looking them up', () => {
    const store = new SessionStore();
    store.create('alice', 'admin');
    for (const bad of ['', 'x'.repeat(65), 'not-a-token']) expect(store.verify(bad)).toBeNull();
    expect(store.verify(undefined as unknown as string)).toBeNull();
    expect(store.revoke('')).toBe(false);
  });

  it('drops the least recently used session beyond maxSessions', () => {
    const store = new SessionStore({ maxSessions: 3 });
    const [a, b, c] = [store.create('a', 'viewer'), store.create('b', 'viewer'), store.create('c', 'viewer')];
    store.verify(a.token);
    const d = store.create('d', 'viewer');
    expect(store.size).toBe(3);
    expect(store.verify(b.token)).toBeNull();
    for (const t of [a, c, d]) expect(store.verify(t.token)).not.toBeNull();
  });

  it('sweeps expired sessions when new ones are created', () => {
    let now = 0;
    const store = new SessionStore({ ttlMs: 1000, now: () => now });
    for (let i = 0; i < 5; i++) store.create(`u${i}`, 'viewer');
    now = 120_000;
    store.create('late', 'viewer');
    expect(store.size).toBe(1);
  });
});
