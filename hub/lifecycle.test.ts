import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { Lifecycle, type Part } from './lifecycle.js';
import { createLogger } from './logger.js';

function recorder() {
  const events: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const part = (name: string, opts: { failStart?: boolean; failStop?: boolean; async?: boolean } = {}): Part => ({
    name,
    start: async () => {
      if (opts.async) await Promise.resolve();
      events.push(`start ${name}`);
      if (opts.failStart) throw new Error(`${name} broke`);
    },
    stop: () => {
      events.push(`stop ${name}`);
      if (opts.failStop) throw new Error(`${name} would not stop`);
    },
  });
  return { events, logs, part, log: createLogger('debug', { pretty: false, destination: sink }) };
}

describe('Lifecycle', () => {
  it('starts parts in order, each after the previous one finished, and stops them in reverse', async () => {
    const r = recorder();
    const life = new Lifecycle(r.log);
    await life.start([r.part('storage', { async: true }), r.part('https'), r.part('devices', { async: true })]);
    await life.stop();
    expect(r.events).toEqual(['start storage', 'start https', 'start devices', 'stop devices', 'stop https', 'stop storage']);
    await life.stop();
    expect(r.events).toHaveLength(6); // a second stop has nothing left to stop
  });

  it('when a part fails to start: logs its name, stops the parts already started (newest first), and rejects', async () => {
    const r = recorder();
    const life = new Lifecycle(r.log);
    await expect(life.start([r.part('storage'), r.part('https'), r.part('mqtt', { failStart: true }), r.part('devices')])).rejects.toThrow('mqtt broke');
    expect(r.events).toEqual(['start storage', 'start https', 'start mqtt', 'stop https', 'stop storage']);
    expect(r.logs).toContainEqual(expect.objectContaining({ level: 50, part: 'mqtt', err: 'mqtt broke', msg: expect.stringContaining('mqtt failed to start') }));
  });

  it('a part that fails to stop is logged and the others still stop', async () => {
    const r = recorder();
    const life = new Lifecycle(r.log);
    await life.start([r.part('storage'), r.part('https', { failStop: true }), r.part('devices')]);
    await life.stop();
    expect(r.events.slice(3)).toEqual(['stop devices', 'stop https', 'stop storage']);
    expect(r.logs).toContainEqual(expect.objectContaining({ level: 50, part: 'https', err: 'https would not stop' }));
  });
});
