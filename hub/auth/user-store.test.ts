import { afterAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { USERS_FILE, UserStore, UserStoreError } from './user-store.js';

const dirs: string[] = [];
function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-users-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return (err as UserStoreError).code;
  }
  return undefined;
}

describe('UserStore', () => {
  it('starts empty without a file, adds users and verifies their passwords', async () => {
    const dir = tmpDir();
    const store = new UserStore({ dataDir: dir, now: () => 1234 });
    store.load();
    expect(store.isEmpty()).toBe(true);
    const added = await store.add('alice', 'correct horse', 'admin');
    expect(added).toEqual({ name: 'alice', role: 'admin', createdAt: 1234 });
    expect(store.isEmpty()).toBe(false);
    expect(await store.verify('alice', 'correct horse')).toBe('admin');
    expect(await store.verify('alice', 'wrong')).toBeNull();
    expect(await store.verify('bob', 'correct horse')).toBeNull();
  });

  it('persists to users.json with mode 0600, salted scrypt hashes and no plain password', async () => {
    const dir = tmpDir();
    const store = new UserStore({ dataDir: dir });
    await store.add('alice', 'pw-alice', 'integration');
    await store.add('bob', 'pw-alice', 'viewer');
    const file = path.join(dir, USERS_FILE);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const text = fs.readFileSync(file, 'utf8');
    expect(text).not.toContain('pw-alice');
    const data = JSON.parse(text) as { users: { salt: string; hash: string; kdf: { N: number } }[] };
    expect(data.users).toHaveLength(2);
    const [a, b] = data.users;
    expect(Buffer.from(a!.salt, 'base64')).toHaveLength(16);
    expect(a!.kdf.N).toBe(16384);
    // Same password, different salt: different hash.
    expect(a!.salt).not.toBe(b!.salt);
    expect(a!.hash).not.toBe(b!.hash);
    // No temp files left behind by the atomic write.
    expect(fs.readdirSync(dir)).toEqual([USERS_FILE]);

    const reloaded = new UserStore({ dataDir: dir });
    reloaded.load();
    expect(reloaded.list().map((u) => [u.name, u.role])).toEqual([
      ['alice', 'integration'],
      ['bob', 'viewer'],
    ]);
    expect(await reloaded.verify('bob', 'pw-alice')).toBe('viewer');
  });

  it('list() never shows hashes or salts', async () => {
    const store = new UserStore({ dataDir: tmpDir() });
    await store.add('carol', 'secret', 'viewer');
    const [u] = store.list();
    expect(Object.keys(u!).sort()).toEqual(['createdAt', 'name', 'role']);
  });

  it('refuses duplicates, bad names, roles and passwords with stable codes', async () => {
    const store = new UserStore({ dataDir: tmpDir() });
    await store.add('dave', 'pw', 'viewer');
    expect(await codeOf(store.add('dave', 'other', 'admin'))).toBe('HUB_ERR_USER_EXISTS');
    expect(await codeOf(store.add('', 'pw', 'admin'))).toBe('HUB_ERR_USER_NAME');
    expect(await codeOf(store.add('a b', 'pw', 'admin'))).toBe('HUB_ERR_USER_NAME');
    expect(await codeOf(store.add('x'.repeat(65), 'pw', 'admin'))).toBe('HUB_ERR_USER_NAME');
    expect(await codeOf(store.add('ok.name-1_2', 'pw', 'root' as never))).toBe('HUB_ERR_USER_ROLE');
    expect(await codeOf(store.add('erin', '', 'viewer'))).toBe('HUB_ERR_USER_PASSWORD');
    expect(store.list().map((u) => u.name)).toEqual(['dave']);
  });

  it('refuses a duplicate even when two adds of one name race', async () => {
    const store = new UserStore({ dataDir: tmpDir() });
    const results = await Promise.allSettled([store.add('frank', 'a', 'viewer'), store.add('frank', 'b', 'admin')]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((rejected.reason as UserStoreError).code).toBe('HUB_ERR_USER_EXISTS');
  });

  it('removes users', async () => {
    const dir = tmpDir();
    const store = new UserStore({ dataDir: dir });
    await store.add('gina', 'pw', 'viewer');
    expect(store.remove('gina')).toBe(true);
    expect(store.remove('gina')).toBe(false);
    expect(store.isEmpty()).toBe(true);
    expect(await store.verify('gina', 'pw')).toBeNull();
    const reloaded = new UserStore({ dataDir: dir });
    reloaded.load();
    expect(reloaded.isEmpty()).toBe(true);
  });

  it('verify() sees users added by another process (the CLI) without a restart', async () => {
    const dir = tmpDir();
    const hub = new UserStore({ dataDir: dir });
    hub.load();
    const cli = new UserStore({ dataDir: dir });
    cli.load();
    await cli.add('henry', 'pw-h', 'integration');
    expect(await hub.verify('henry', 'pw-h')).toBe('integration');
    cli.remove('henry');
    expect(await hub.verify('henry', 'pw-h')).toBeNull();
  });

  it('load() refuses a corrupt file with HUB_ERR_USERS_FILE', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, USERS_FILE), '{"version": 1, "users": [{"name": "x"}]}');
    expect(await codeOf(() => new UserStore({ dataDir: dir }).load())).toBe('HUB_ERR_USERS_FILE');
    fs.writeFileSync(path.join(dir, USERS_FILE), 'not json');
    expect(await codeOf(() => new UserStore({ dataDir: dir }).load())).toBe('HUB_ERR_USERS_FILE');
  });
});
