import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { ManualClock } from '../../device-sim/manual-clock.js';
import { CLOSE_CODES, encode, fromHex } from '../../protocol/index.js';
import type { CommandResultFrame, Frame } from '../../protocol/types.js';
import { hello } from '../../test/support/fixtures.js';
import { DeviceRegistry } from '../devices/device-registry.js';
import { EventBus } from '../events.js';
import { IngestPipeline, type IngestStore } from '../ingest/ingest-pipeline.js';
import { createLogger } from '../logger.js';
import { BUSY_WRITE_BOUND_MS } from '../storage/busy-retry.js';
import { HUB_BUSY_TIMEOUT_MS, HubStore } from '../storage/hub-store.js';
import { TempStore } from '../testing/temp-store.js';
import { DeviceSession, type SessionDeps } from './device-session.js';
import { RecordingLink } from './testing/recording-link.js';

const GREETING_MS = 10_000;
const COMMIT_MS = 20;
const RATE = 5;
const COMMAND_TIMEOUT_MS = 7000;
const temp = new TempStore();
afterEach(() => temp.cleanup());

/** The real registry and ingest on a temp store, sessions on recording links, time on a manual clock. */
function setUp(devices = ['th1'], storage = { failing: false }, opts: { store?: (now: () => number) => HubStore } = {}) {
  const clock = new ManualClock();
  const store = opts.store?.(() => clock.now()) ?? temp.open(() => clock.now());
  // The real store, whose commits fail while storage.failing is set (a full disk).
  const ingestStore: IngestStore = {
    committedSeqs: () => store.committedSeqs(),
    seriesId: (...args) => store.seriesId(...args),
    commit: (batch) => {
      if (storage.failing) throw new Error('SQLITE_FULL: database or disk is full');
      return store.commit(batch);
    },
  };
  const bus = new EventBus();
  const registry = new DeviceRegistry(store, bus);
  registry.load();
  for (const id of devices) registry.provision(id, id, 'thermostat', clock.now());
  const log = createLogger('silent');
  const ingest = new IngestPipeline(ingestStore, registry, bus, {
    commitIntervalMs: COMMIT_MS, commitMaxReadings: 1000, maxPendingReadings: 10_000, now: () => clock.now(), log, onPressure: () => {}, timers: clock,
  });
  ingest.start();
  const results: [string, CommandResultFrame][] = [];
  const refused: string[] = [];
  const deps: SessionDeps = {
    registry,
    ingest,
    onCommandResult: (id, frame) => results.push([id, frame]),
    welcome: { heartbeatMs: 30_000, maxFrameBytes: 65536, maxReadingsPerFrame: 64, maxBatchSamples: 4096, maxFramesPerSecond: RATE, commandTimeoutMs: COMMAND_TIMEOUT_MS },
    greetingTimeoutMs: GREETING_MS,
    now: () => clock.now(),
    log,
    onRefused: (code) => refused.push(code),
    timers: clock,
  };
  /** Opens a session for `id` (start() attaches it); `greet` also sends HELLO. */
  const open = (id = 'th1', { greet = true, protocol = 'hearth.v1' } = {}) => {
    const link = new RecordingLink(id, protocol);
    const session = new DeviceSession(link, deps);
    session.start();
    const receive = (frame: Frame | Uint8Array, binary = true) => session.onMessage(frame instanceof Uint8Array ? frame : encode(frame), binary);
    if (greet) receive({ type: 'hello', ...hello() });
    return { link, session, receive };
  };
  return { clock, store, registry, ingest, results, refused, open };
}

const reading = (seq: number, value = 20): Frame => ({ type: 'telemetry', seq, ts: 0, readings: [{ metric: 1, value: { type: 'float', value } }] });
const lastError = (link: RecordingLink) => link.sentOf('error').at(-1);

describe('DeviceSession', () => {
  it('closes with 4004 when no HELLO arrives within the greeting timeout [FP-7.1]', () => {
    const s = setUp();
    const { link } = s.open('th1', { greet: false });
    s.clock.advance(GREETING_MS - 1);
    expect(link.closed).toBeNull();
    s.clock.advance(1);
    expect(lastError(link)).toEqual({ type: 'error', code: 'HUB_ERR_GREETING_TIMEOUT', message: `no HELLO within ${GREETING_MS} ms` });
    expect(link.closed).toEqual({ code: CLOSE_CODES.GREETING_TIMEOUT, reason: 'HUB_ERR_GREETING_TIMEOUT' });
    expect(s.refused).toEqual(['HUB_ERR_GREETING_TIMEOUT']);
  });

  it('closes with 4003 when the first frame is not HELLO [FP-7.1]', () => {
    const s = setUp();
    const { link, receive } = s.open('th1', { greet: false });
    receive(reading(1));
    expect(lastError(link)).toEqual({ type: 'error', code: 'HUB_ERR_GREETING_REQUIRED', message: 'the first frame must be HELLO, got telemetry' });
    expect(link.closed?.code).toBe(CLOSE_CODES.GREETING_REQUIRED);
    expect(s.ingest.stats.framesAccepted).toBe(0);
  });

  it('answers HELLO with WELCOME (hub time, nextSeq after what is stored, the limits) and puts the device online [FP-7.2, FP-8.4]', () => {
    const s = setUp();
    const first = s.open();
    first.receive(reading(1));
    first.receive(reading(2));
    s.clock.advance(COMMIT_MS);
    first.session.onClose(1000, '');
    s.clock.advance(5);
    const { link } = s.open();
    expect(link.sentOf('welcome')).toEqual([{
      type: 'welcome', hubTime: s.clock.now(), nextSeq: 3, heartbeatMs: 30_000, maxFrameBytes: 65536, maxReadingsPerFrame: 64, maxBatchSamples: 4096, maxFramesPerSecond: RATE,
    }]);
    expect(s.registry.info('th1')).toMatchObject({ online: true, model: 'test-thermo' });
    s.clock.advance(GREETING_MS);
    expect(link.closed).toBeNull(); // the greeting timer stopped with the HELLO
  });

  it('acknowledges data frames on the connection they came on, once committed [FP-8.2]', () => {
    const s = setUp(['th1', 'th2']);
    const a = s.open('th1');
    const b = s.open('th2');
    a.receive(reading(1));
    b.receive(reading(1));
    b.receive(reading(2));
    expect([a.link.sentOf('ack'), b.link.sentOf('ack')]).toEqual([[], []]);
    s.clock.advance(COMMIT_MS);
    expect(a.link.sentOf('ack')).toEqual([{ type: 'ack', seq: 1 }]);
    expect(b.link.sentOf('ack')).toEqual([{ type: 'ack', seq: 2 }]);
    expect(s.store.committedSeqs()).toEqual(new Map([['th1', 1], ['th2', 2]]));
  });

  it('limits data frames with a token bucket: maxFramesPerSecond sustained, bursts of twice that, then 4008 [FP-9.2]', () => {
    const s = setUp();
    const { link, receive } = s.open();
    let seq = 0;
    for (let i = 0; i < 2 * RATE; i++) receive(reading(++seq)); // the full burst
    s.clock.advance(1000); // refills RATE tokens
    for (let i = 0; i < RATE; i++) receive(reading(++seq));
    s.clock.advance(1000 / RATE); // one more
    receive(reading(++seq));
    expect(link.closed).toBeNull();
    expect(s.ingest.stats.framesAccepted).toBe(seq);
    receive(reading(++seq));
    expect(lastError(link)).toEqual({ type: 'error', code: 'HUB_ERR_RATE_LIMITED', message: `more than ${RATE} data frames per second` });
    expect(link.closed?.code).toBe(CLOSE_CODES.RATE_LIMITED);
    expect(s.ingest.stats.framesAccepted).toBe(seq - 1);
  });

  it('does not charge a device for the hub\'s own stall: frames queued while reading was paused, or the event loop blocked, are excused [FP-9.2]', () => {
    const s = setUp();
    const { link, session, receive } = s.open();
    let seq = 0;
    for (let i = 0; i < 2 * RATE; i++) receive(reading(++seq)); // the full burst: the bucket is empty
    session.pause();
    s.clock.advance(5000); // the hub does not read for 5 s; the device's frames queue in TCP
    session.resume();
    // What arrives now: 5 s of the refill (capped at the burst) plus 5 s excused for the pause.
    for (let i = 0; i < 2 * RATE + 5 * RATE; i++) receive(reading(++seq));
    expect(link.closed).toBeNull();
    session.excuse(1000); // a blocked event loop (the gateway measures it)
    for (let i = 0; i < RATE; i++) receive(reading(++seq));
    expect(link.closed).toBeNull();
    expect(s.ingest.stats.framesAccepted).toBe(seq);
    receive(reading(++seq)); // past the excuse, the limit is the device's again
    expect(link.closed?.code).toBe(CLOSE_CODES.RATE_LIMITED);
  });

  it('counts data frames only: COMMAND_RESULT and extension frames take no token [FP-9.2]', () => {
    const s = setUp();
    const { link, receive } = s.open();
    for (let i = 0; i < 5 * RATE; i++) {
      receive({ type: 'command_result', id: i, status: 'ok', message: '' });
      receive({ type: 'extension', code: 0xa0, payload: new Uint8Array([i]) });
    }
    for (let seq = 1; seq <= 2 * RATE; seq++) receive(reading(seq)); // the whole burst is still there
    expect(link.closed).toBeNull();
    expect(s.ingest.stats.framesAccepted).toBe(2 * RATE);
  });

  it('refuses a frame that does not fit the declared capabilities with 4005 after acknowledging the frames before it [FP-7.5, FP-7.6]', () => {
    const s = setUp();
    const { link, receive } = s.open();
    receive(reading(1));
    receive({ type: 'telemetry', seq: 2, ts: 0, readings: [{ metric: 2, value: { type: 'float', value: 101 } }] });
    // The ACK of seq 1 precedes the ERROR, so the refused frame is the oldest the device still holds.
    expect(link.sent.slice(1)).toEqual([
      { type: 'ack', seq: 1 },
      { type: 'error', code: 'HUB_ERR_CAPABILITY', message: 'seq 2: metric 2 (humidity) value 101 is outside 0..100' },
    ]);
    expect(link.closed?.code).toBe(CLOSE_CODES.CAPABILITY_VIOLATION);
    s.clock.advance(COMMIT_MS);
    expect(s.store.committedSeqs().get('th1')).toBe(1);
    expect(s.refused).toEqual(['HUB_ERR_CAPABILITY']);
  });

  it('acknowledges, and does not check, a resent copy of a frame already stored [FP-7.5, FP-8.7]', () => {
    const s = setUp();
    const first = s.open();
    first.receive(reading(1));
    s.clock.advance(COMMIT_MS);
    expect(first.link.sentOf('ack')).toEqual([{ type: 'ack', seq: 1 }]);
    first.session.onClose(1006, '');
    // A resent copy of stored seq 1 that this HELLO's capabilities would refuse (metric 99 is not declared).
    const second = s.open();
    second.receive({ type: 'telemetry', seq: 1, ts: 0, readings: [{ metric: 99, value: { type: 'float', value: 1 } }], resend: true });
    expect(second.link.sentOf('ack')).toEqual([{ type: 'ack', seq: 1 }]);
    expect(second.link.closed).toBeNull();
    expect(s.refused).toEqual([]);
  });

  it('closes with 1011, not 4005, when storage cannot commit the frames before a refused one [FP-7.5]', () => {
    const storage = { failing: true };
    const s = setUp(['th1'], storage);
    const { link, receive } = s.open();
    receive(reading(1));
    receive({ type: 'telemetry', seq: 2, ts: 0, readings: [{ metric: 2, value: { type: 'float', value: 101 } }] });
    expect(link.sentOf('ack')).toEqual([]);
    expect(lastError(link)?.code).toBe('HUB_ERR_INTERNAL');
    expect(link.closed?.code).toBe(CLOSE_CODES.INTERNAL_ERROR);
  });

  it('puts commandTimeoutMs in WELCOME only for a hearth.v1.1 session [FP-6.2, FP-2.2]', () => {
    const s = setUp();
    const v10 = s.open('th1');
    expect(v10.link.sentOf('welcome')[0]).not.toHaveProperty('commandTimeoutMs');
    const v11 = s.open('th1', { protocol: 'hearth.v1.1' });
    expect(v11.link.sentOf('welcome')[0]).toMatchObject({ commandTimeoutMs: COMMAND_TIMEOUT_MS, nextSeq: 1 });
  });

  it('sends ERROR HUB_ERR_SHUTDOWN before the 1001 close at shutdown [FP-10.5]', () => {
    const s = setUp();
    const { link, session } = s.open();
    session.closeGoingAway();
    expect(lastError(link)).toEqual({ type: 'error', code: 'HUB_ERR_SHUTDOWN', message: 'hub shutting down' });
    expect(link.sent.at(-1)?.type).toBe('error');
    expect(link.closed).toEqual({ code: CLOSE_CODES.GOING_AWAY, reason: 'hub shutting down' });
  });

  it.each([
    ['a second HELLO', { type: 'hello', ...hello() }, 'a device does not send hello twice'],
    ['WELCOME', { type: 'welcome', hubTime: 1, heartbeatMs: 1, nextSeq: 1, maxFrameBytes: 1, maxReadingsPerFrame: 1, maxBatchSamples: 1, maxFramesPerSecond: 1 }, 'a device does not send welcome'],
    ['ACK', { type: 'ack', seq: 1 }, 'a device does not send ack'],
    ['COMMAND', { type: 'command', id: 1, metric: 3, value: { type: 'float', value: 20 } }, 'a device does not send command'],
    ['ERROR', { type: 'error', code: 'X', message: '' }, 'a device does not send error'],
  ] as [string, Frame, string][])('%s from a device closes with 1002 [FP-7.3]', (_what, frame, message) => {
    const s = setUp();
    const { link, receive } = s.open();
    receive(frame);
    expect(lastError(link)).toEqual({ type: 'error', code: 'HUB_ERR_UNEXPECTED_FRAME', message });
    expect(link.closed?.code).toBe(CLOSE_CODES.PROTOCOL_ERROR);
  });

  it('ignores an unknown extension frame; answers a frame that does not decode with its PROTO_ERR code and close code [FP-10.2, FP-11.2]', () => {
    const s = setUp();
    const { link, receive } = s.open();
    receive(fromHex('1080010203')); // header v1, type 0x80 (extension), payload
    expect(link.closed).toBeNull();
    receive(fromHex('1002')); // a TELEMETRY header and nothing else
    expect(lastError(link)).toMatchObject({ type: 'error', code: 'PROTO_ERR_TRUNCATED' });
    expect(link.closed).toEqual({ code: CLOSE_CODES.INVALID_PAYLOAD, reason: 'PROTO_ERR_TRUNCATED' });
    expect(s.refused).toEqual(['PROTO_ERR_TRUNCATED']);
  });

  it('refuses a text message with 1003', () => {
    const s = setUp();
    const { link, receive } = s.open();
    receive(new TextEncoder().encode('{"type":"telemetry"}'), false);
    expect(lastError(link)?.code).toBe('HUB_ERR_TEXT_FRAME');
    expect(link.closed?.code).toBe(CLOSE_CODES.UNSUPPORTED_DATA);
  });

  it('hands COMMAND_RESULT to the command service with the device id [FP-7.7]', () => {
    const s = setUp();
    const { receive } = s.open();
    receive({ type: 'command_result', id: 9, status: 'ok', message: '' });
    expect(s.results).toEqual([['th1', { type: 'command_result', id: 9, status: 'ok', message: '' }]]);
  });

  it('a newer connection of the device replaces this one with 4009 [FP-10.3]', () => {
    const s = setUp();
    const old = s.open();
    const current = s.open();
    expect(lastError(old.link)).toEqual({ type: 'error', code: 'HUB_ERR_REPLACED', message: 'another connection of this device took over' });
    expect(old.link.closed?.code).toBe(CLOSE_CODES.REPLACED);
    old.session.onClose(CLOSE_CODES.REPLACED, '');
    expect(s.registry.info('th1')?.online).toBe(true); // the replaced session's end leaves the new one online
    expect(s.registry.session('th1')).toBe(current.session);
  });

  it('revoking the device closes its session with 4010 [FP-10.3]', () => {
    const s = setUp();
    const { link } = s.open();
    s.registry.revoke('th1', s.clock.now());
    expect(lastError(link)).toEqual({ type: 'error', code: 'HUB_ERR_REVOKED', message: 'device "th1" was revoked' });
    expect(link.closed?.code).toBe(CLOSE_CODES.REVOKED);
  });

  it('closeGoingAway() closes with 1001 and keeps reading so the handshake completes; later frames are ignored [FP-10.5]', () => {
    const s = setUp();
    const { link, session, receive } = s.open();
    session.pause();
    expect(link.paused).toBe(true);
    session.closeGoingAway();
    expect(link.paused).toBe(false);
    expect(link.closed).toEqual({ code: CLOSE_CODES.GOING_AWAY, reason: 'hub shutting down' });
    const sent = link.sent.length;
    receive(reading(1));
    session.send({ type: 'ack', seq: 1 });
    expect(link.sent.length).toBe(sent);
    expect(s.ingest.stats.framesAccepted).toBe(0);
  });

  it('sends UPDATE_CHUNK without permessage-deflate, every other frame as negotiated [FP-10.4] [FP-14.10]', () => {
    const s = setUp();
    const { link, session } = s.open();
    const chunk: Frame = { type: 'update_chunk', updateId: 1, offset: 0, crc32: 0, data: new Uint8Array(2048) };
    session.send(chunk);
    session.send({ type: 'ack', seq: 1 });
    expect(link.uncompressed).toEqual([chunk]);
    expect(link.sentOf('ack')).toEqual([{ type: 'ack', seq: 1 }]);
  });

  it('onClose() takes the device offline and resolves closed', async () => {
    const s = setUp();
    const { session } = s.open();
    expect(s.registry.info('th1')?.online).toBe(true);
    session.onClose(1000, 'bye');
    await session.closed;
    expect(s.registry.info('th1')?.online).toBe(false);
    expect(s.clock.pendingDelays()).toEqual([]);
  });

  describe('a write the session needs meets a lock held elsewhere [issue "Faults" 2]', () => {
    const stores: HubStore[] = [];
    const others: Database.Database[] = [];
    afterEach(() => {
      for (const o of others.splice(0)) o.close();
      for (const st of stores.splice(0)) st.close();
    });
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    /** The hub's own busy timeout on a fresh file, and a second connection that holds its write lock. */
    function locked() {
      const path = join(mkdtempSync(join(tmpdir(), 'hearth-unit-')), 'hub.db');
      const s = setUp(['th1'], { failing: false }, { store: (now) => {
        const st = new HubStore({ path, busyTimeoutMs: HUB_BUSY_TIMEOUT_MS, now });
        st.open();
        stores.push(st);
        return st;
      } });
      const other = new Database(path);
      others.push(other);
      other.exec('BEGIN IMMEDIATE');
      return { ...s, release: () => other.exec('ROLLBACK') };
    }

    it('waits on timers with the link paused, holds later frames in order, then welcomes and takes them', async () => {
      const s = locked();
      const { link, receive } = s.open('th1', { greet: false });
      receive({ type: 'hello', ...hello() }); // capabilities differ from the stored none: a write
      receive(reading(1)); // and a metric new to the hub: another
      receive(reading(2));
      expect([link.paused, link.sentOf('welcome'), link.closed]).toEqual([true, [], null]);
      s.clock.advance(40);
      await settle();
      expect(link.sentOf('welcome')).toEqual([]);
      s.release();
      s.clock.advance(80);
      await settle();
      expect(link.sentOf('welcome')).toHaveLength(1);
      expect([link.paused, link.closed, s.ingest.stats.framesAccepted]).toEqual([false, null, 2]);
      expect(s.registry.info('th1')?.online).toBe(true);
      s.clock.advance(COMMIT_MS);
      expect(link.sentOf('ack').at(-1)).toEqual({ type: 'ack', seq: 2 });
    });

    it(`closes with 1013 HUB_ERR_STORAGE once the lock outlasts ${BUSY_WRITE_BOUND_MS} ms, having taken nothing`, async () => {
      const s = locked();
      const { link, receive } = s.open('th1', { greet: false });
      receive({ type: 'hello', ...hello() });
      for (let t = 0; t <= BUSY_WRITE_BOUND_MS + 400 && !link.closed; t += 100) {
        s.clock.advance(100);
        await settle();
      }
      expect(lastError(link)).toMatchObject({ code: 'HUB_ERR_STORAGE' });
      expect(link.closed).toEqual({ code: CLOSE_CODES.TRY_AGAIN_LATER, reason: 'HUB_ERR_STORAGE' });
      expect(link.sentOf('welcome')).toEqual([]);
      expect(s.refused).toEqual(['HUB_ERR_STORAGE']);
      expect(s.store.getDevice('th1')?.capabilities).toEqual([]);
    });

    it('closes with 1013 at once for a fault that is not a lock (a closed store)', () => {
      const s = setUp();
      s.store.close();
      const { link } = s.open('th1');
      expect(link.closed).toEqual({ code: CLOSE_CODES.TRY_AGAIN_LATER, reason: 'HUB_ERR_STORAGE' });
      expect(lastError(link)?.message).toMatch(/^storage cannot record this HELLO now \(closed\)/);
    });
  });
});
