import { describe, it, expect, afterEach } from '@jest/globals';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from './manual-clock.js';
import { Outbox } from './outbox.js';
import { StateStore } from './state-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-state-'));
  dirs.push(dir);
  return dir;
}

const telemetry = (v: number) => ({ type: 'telemetry' as const, seq: 0, ts: 1_700_000_000_000, readings: [{ metric: 1, value: { type: 'float' as const, value: v } }] });

describe('StateStore', () => {
  it('saves on a debounce, atomically (no temp file left), and loads back what it saved', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const box = new Outbox();
    const store = new StateStore(dir, 'dev-1', clock, 1000, () => box.snapshot());
    expect(await store.load()).toBeNull();
    box.push(telemetry(1));
    store.markDirty();
    box.push(telemetry(2));
    store.markDirty();
    expect(existsSync(store.file)).toBe(false);
    clock.advance(999);
    expect(existsSync(store.file)).toBe(false);
    clock.advance(1);
    await store.flush(); // waits for the save the timer started
    expect(store.saves).toBe(1);
    expect(readdirSync(dir)).toEqual(['device-dev-1.json']);
    const copy = new Outbox();
    copy.restore((await new StateStore(dir, 'dev-1', clock, 1000, () => copy.snapshot()).load())!);
    expect(copy.entries().map((e) => e.seq)).toEqual([1, 2]);
    expect(copy.nextSeq).toBe(3);
  });

  it('flush() with nothing changed writes nothing', async () => {
    const store = new StateStore(tempDir(), 'dev-2', new ManualClock(), 1000, () => new Outbox().snapshot());
    await store.flush();
    expect(store.saves).toBe(0);
  });

  it('refuses a state file of another device', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'device-dev-3.json'), JSON.stringify({ version: 1, deviceId: 'other', savedAt: 0, outbox: new Outbox().snapshot() }));
    await expect(new StateStore(dir, 'dev-3', new ManualClock(), 1000, () => new Outbox().snapshot()).load()).rejects.toThrow('not a version 1 state file of device dev-3');
    expect(JSON.parse(readFileSync(join(dir, 'device-dev-3.json'), 'utf8')).deviceId).toBe('other');
  });
});
