// The file of other integrations' retained messages: what goes in, what comes back, its limits.
import { afterAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RetainedStore } from './retained-store.js';
import { memoryLogger } from './testing/mqtt-test-kit.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-retained-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
const open = (limits?: { topics: number; bytes: number }) => {
  const file = path.join(dir, `r${++n}.json`);
  const logger = memoryLogger();
  return { file, logger, store: new RetainedStore({ path: file, logger, ...(limits ? { limits } : {}) }) };
};

describe('RetainedStore', () => {
  it('gives back what was recorded, with binary payloads and MQTT 5 properties; an empty payload deletes', async () => {
    const { file, store, logger } = open();
    expect(store.load()).toEqual([]);
    store.record('a/bin', Buffer.from([0, 255, 10]), 1, { contentType: 'application/octet-stream', correlationData: Buffer.from('id-1'), topicAlias: 3 });
    store.record('a/text', Buffer.from('on'), 0, undefined);
    store.record('a/gone', Buffer.from('x'), 2, undefined);
    store.record('a/gone', Buffer.alloc(0), 0, undefined);
    await store.flush();
    const again = new RetainedStore({ path: file, logger });
    const loaded = again.load();
    expect(loaded.map((m) => m.topic).sort()).toEqual(['a/bin', 'a/text']);
    const bin = loaded.find((m) => m.topic === 'a/bin')!;
    expect([...bin.payload]).toEqual([0, 255, 10]);
    expect(bin.qos).toBe(1);
    // Topic aliases belong to one connection: not kept.
    expect(bin.properties).toEqual({ contentType: 'application/octet-stream', correlationData: Buffer.from('id-1') });
  });

  it('past its topic limit a new topic is not kept (logged once); updates of kept topics still are', async () => {
    const { file, store, logger } = open({ topics: 2, bytes: 1000 });
    store.record('t/1', Buffer.from('a'), 0, undefined);
    store.record('t/2', Buffer.from('b'), 0, undefined);
    store.record('t/3', Buffer.from('c'), 0, undefined);
    store.record('t/4', Buffer.from('d'), 0, undefined);
    store.record('t/1', Buffer.from('a2'), 0, undefined);
    await store.flush();
    const loaded = new RetainedStore({ path: file, logger }).load();
    expect(loaded.map((m) => [m.topic, m.payload.toString()]).sort()).toEqual([['t/1', 'a2'], ['t/2', 'b']]);
    expect(logger.records.filter((r) => /over the limit/.test(r.msg))).toHaveLength(1);
  });

  it('past its byte limit an update drops the kept value rather than bring an old one back after a restart', async () => {
    const { file, store, logger } = open({ topics: 10, bytes: 10 });
    store.record('b/1', Buffer.from('12345'), 0, undefined);
    store.record('b/1', Buffer.from('12345678901'), 0, undefined);
    await store.flush();
    expect(new RetainedStore({ path: file, logger }).load()).toEqual([]);
  });

  it('keeps a Message Expiry Interval as a deadline: served with the time left, not served once passed', async () => {
    const { file, store, logger } = open();
    store.record('e/long', Buffer.from('l'), 0, { messageExpiryInterval: 3600 });
    store.record('e/short', Buffer.from('s'), 0, { messageExpiryInterval: 60 });
    await store.flush();
    const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as { messages: Record<string, { expiresAt: number }> };
    stored.messages['e/short']!.expiresAt = Date.now() - 1; // as if the hub had been down past it
    fs.writeFileSync(file, JSON.stringify(stored));
    const loaded = new RetainedStore({ path: file, logger }).load();
    expect(loaded.map((m) => m.topic)).toEqual(['e/long']);
    const left = loaded[0]!.properties!['messageExpiryInterval'] as number;
    expect(left).toBeGreaterThan(3500);
    expect(left).toBeLessThanOrEqual(3600);
  });

  it('a file that does not parse is moved aside and logged', () => {
    const { file, store, logger } = open();
    fs.writeFileSync(file, '{"version": 1, "messages": {"x": {"payload": 5}}}');
    expect(store.load()).toEqual([]);
    expect(fs.existsSync(`${file}.corrupt`)).toBe(true);
    expect(logger.records.some((r) => r.level === 'error')).toBe(true);
  });
});
