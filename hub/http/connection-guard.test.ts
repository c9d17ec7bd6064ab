import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { afterAll, describe, expect, it } from '@jest/globals';
import { ConnectionGuard } from './connection-guard.js';

const dir = mkdtempSync(join(tmpdir(), 'hearth-fds-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ConnectionGuard descriptor estimate', () => {
  it('samples anew instead of going below zero when sockets close that the last sample no longer saw', () => {
    const fdDir = mkdtempSync(join(dir, 'fd-'));
    for (let i = 0; i < 3; i++) writeFileSync(join(fdDir, String(i)), '');
    let now = 1_000;
    const guard = new ConnectionGuard({
      ...{ maxPerAddress: 100, capLoopback: false, idleMs: 1000, maxOpenFiles: 0, busyReserve: 0, dropReserve: 0, fdDir },
      now: () => now,
      log: { info: () => undefined },
      warn: { warn: () => undefined } as never,
      onRefused: () => undefined,
    });
    const sockets = Array.from({ length: 10 }, () => Object.assign(new EventEmitter(), { remoteAddress: '10.0.0.1' }) as unknown as Socket);
    for (const s of sockets) expect(guard.admit(s)).toBe(true);
    // Sampled after the ten sockets' descriptors were closed but before their 'close' events: only the
    // directory's files (countOpenFiles leaves out the descriptor it reads the directory with).
    const sampled = guard.openFiles;
    expect(sampled).toBeGreaterThanOrEqual(2);
    expect(sampled).toBeLessThanOrEqual(3);
    for (const s of sockets) s.emit('close');
    now += 1; // well within the sampling period: the estimate alone would be sampled - 10
    expect(guard.openFiles).toBe(sampled);
  });
});
