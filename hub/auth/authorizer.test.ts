import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { isThenable } from '../storage/maybe-promise.js';
import { Authorizer } from './authorizer.js';
import { UserStore } from './user-store.js';

describe('Authorizer users and sessions', () => {
  const make = () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hearth-authorizer-'));
    const auth = new Authorizer({ dataDir, devices: { deviceCredentials: () => undefined }, log: pino({ level: 'silent' }) });
    return { dataDir, auth, done: () => rmSync(dataDir, { recursive: true, force: true }) };
  };

  it('removing a user ends their sessions at once, and only theirs', async () => {
    const { auth, done } = make();
    try {
      await auth.start();
      await auth.addUser('bob', 'bob password', 'viewer');
      await auth.addUser('carol', 'carol password', 'viewer');
      const bob = (await auth.signIn('bob', 'bob password'))!;
      const bob2 = (await auth.signIn('bob', 'bob password'))!;
      const carol = (await auth.signIn('carol', 'carol password'))!;
      expect(auth.removeUser('bob')).toEqual({ sessionsEnded: 2 });
      expect(auth.authorizeBearer(bob.token)).toBeNull();
      expect(auth.authorizeBearer(bob2.token)).toBeNull();
      expect(auth.authorizeBearer(carol.token)).toEqual({ role: 'viewer', username: 'carol' });
      expect(auth.removeUser('bob')).toBeNull();
      expect((await auth.listUsers()).map((u) => u.name)).toEqual(['admin', 'carol']);
    } finally {
      done();
    }
  });

  it('reconcileUsers ends the sessions of users removed or given another role in users.json by another process', async () => {
    const { dataDir, auth, done } = make();
    try {
      await auth.start();
      await auth.addUser('bob', 'bob password', 'viewer');
      await auth.addUser('carol', 'carol password', 'admin');
      await auth.addUser('dave', 'dave password', 'viewer');
      const bob = (await auth.signIn('bob', 'bob password'))!;
      const carol = (await auth.signIn('carol', 'carol password'))!;
      const dave = (await auth.signIn('dave', 'dave password'))!;
      expect(auth.reconcileUsers()).toBe(0);
      // What `hearth user remove bob` and a re-add of carol as viewer do, on their own UserStore.
      const cli = new UserStore({ dataDir });
      cli.load();
      cli.remove('bob');
      cli.remove('carol');
      await cli.add('carol', 'carol password', 'viewer');
      expect(auth.reconcileUsers()).toBe(2);
      expect(auth.authorizeBearer(bob.token)).toBeNull();
      expect(auth.authorizeBearer(carol.token)).toBeNull();
      expect(auth.authorizeBearer(dave.token)).toEqual({ role: 'viewer', username: 'dave' });
      expect(auth.reconcileUsers()).toBe(0);
    } finally {
      done();
    }
  });

  it('changes a password only with the current one', async () => {
    const { auth, done } = make();
    try {
      await auth.start();
      await auth.addUser('bob', 'old', 'viewer');
      expect(await auth.changePassword('bob', 'wrong', 'new')).toBe('wrong');
      expect(await auth.changePassword('nobody', 'old', 'new')).toBe('unknown');
      expect(await auth.changePassword('bob', 'old', 'new')).toBe('ok');
      expect(await auth.signIn('bob', 'old')).toBeNull();
      expect((await auth.signIn('bob', 'new'))?.username).toBe('bob');
    } finally {
      done();
    }
  });

  it('on SQLite (no shared database) answers sessions, sign-out and users at once, never with a Promise', async () => {
    const { auth, done } = make();
    try {
      await auth.start();
      await auth.addUser('ann', 'ann password', 'viewer');
      const { token } = (await auth.signIn('ann', 'ann password'))!;
      const answers = [auth.authorizeBearer(token), auth.authorizeBearer(auth.adminToken), auth.session(token), auth.listUsers(), auth.signOut(token), auth.removeUser('ann')];
      expect(answers.map((a) => isThenable(a))).toEqual([false, false, false, false, false, false]);
      expect(answers[0]).toEqual({ role: 'viewer', username: 'ann' });
      expect(answers[4]).toBe(true);
      expect(answers[5]).toEqual({ sessionsEnded: 0 });
    } finally {
      done();
    }
  });
});
