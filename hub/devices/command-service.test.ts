import { afterEach, describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../device-sim/manual-clock.js';
import type { CommandFrame, Frame } from '../../protocol/types.js';
import { hello } from '../../test/support/fixtures.js';
import { EventBus, type CommandOutcome } from '../events.js';
import type { HubStore } from '../storage/hub-store.js';
import { TempStore } from '../testing/temp-store.js';
import { CommandService } from './command-service.js';
import { DeviceRegistry, type SessionHandle } from './device-registry.js';

const TIMEOUT_MS = 10_000;
const temp = new TempStore();
afterEach(() => temp.cleanup());

/** The device end of a live session: the COMMAND frames the service sent. */
class DeviceSpy implements SessionHandle {
  readonly sent: Frame[] = [];
  send(frame: Frame): void {
    this.sent.push(frame);
  }
  fail(): void {}
  get commands(): CommandFrame[] {
    return this.sent.filter((f): f is CommandFrame => f.type === 'command');
  }
}

interface Setup {
  clock: ManualClock;
  store: HubStore;
  registry: DeviceRegistry;
  commands: CommandService;
  outcomes: CommandOutcome[];
  /** Provisions th1 and, unless `greeted` is false, connects and greets it; returns its session. */
  thermostat(opts?: { greeted?: boolean }): DeviceSpy;
}

function setUp(): Setup {
  const clock = new ManualClock();
  const store = temp.open(() => clock.now());
  const bus = new EventBus();
  const outcomes: CommandOutcome[] = [];
  bus.on('command.result', (o) => outcomes.push(o));
  const registry = new DeviceRegistry(store, bus);
  registry.load();
  const commands = new CommandService({ registry, store, bus, timeoutMs: TIMEOUT_MS, now: () => clock.now(), timers: clock });
  const thermostat = ({ greeted = true } = {}) => {
    registry.provision('th1', 'Hall', 'thermostat', clock.now());
    const session = new DeviceSpy();
    if (greeted) {
      registry.attach('th1', session);
      registry.greet('th1', { type: 'hello', ...hello() }, clock.now());
    }
    return session;
  };
  return { clock, store, registry, commands, outcomes, thermostat };
}

describe('CommandService', () => {
  it('a command for no such device is invalid, logged nowhere', async () => {
    const { commands, store, outcomes } = setUp();
    const outcome = await commands.send('ghost', 'on', true, 'test');
    expect(outcome).toEqual({ commandId: 0, deviceId: 'ghost', command: 'on', status: 'invalid', message: 'no device "ghost"' });
    expect(store.commands('ghost', 10)).toEqual([]);
    expect(outcomes).toEqual([outcome]);
  });

  it('a device that never said HELLO is offline, not lacking the command', async () => {
    const { commands, thermostat } = setUp();
    thermostat({ greeted: false });
    expect(await commands.send('th1', 'setpoint', 21, 'test')).toMatchObject({ commandId: 0, status: 'offline', message: 'device "th1" is offline' });
  });

  it('a valid command to a device that went offline is logged and answered offline', async () => {
    const { commands, registry, store, thermostat } = setUp();
    const session = thermostat();
    registry.detach('th1', session);
    const outcome = await commands.send('th1', 'setpoint', 21, 'test');
    expect(outcome).toMatchObject({ status: 'offline', message: 'device "th1" is offline' });
    expect(outcome.commandId).toBeGreaterThan(0);
    expect(store.commands('th1', 10)).toEqual([expect.objectContaining({ id: outcome.commandId, command: 'setpoint', status: 'offline', source: 'test' })]);
    expect(session.commands).toEqual([]);
  });

  it('a command the device does not declare writable is unsupported [FP-7.7]', async () => {
    const { commands, thermostat } = setUp();
    const session = thermostat();
    expect(await commands.send('th1', 'temperature', 20, 'test')).toMatchObject({ commandId: 0, status: 'unsupported', message: 'device "th1" has no writable "temperature"' });
    expect(await commands.send('th1', 'volume', 3, 'test')).toMatchObject({ status: 'unsupported', message: 'device "th1" has no writable "volume"' });
    expect(session.commands).toEqual([]);
  });

  it('input that does not fit the capability is invalid, with the problem named, and never sent [FP-7.7]', async () => {
    const { commands, store, thermostat } = setUp();
    const session = thermostat();
    expect(await commands.send('th1', 'setpoint', 99, 'test')).toMatchObject({ commandId: 0, status: 'invalid', message: 'setpoint must be between 5 and 30, got 99' });
    expect(await commands.send('th1', 'mode', 'turbo', 'test')).toMatchObject({ status: 'invalid', message: 'mode takes one of off, heat, eco, got "turbo"' });
    expect(session.commands).toEqual([]);
    expect(store.commands('th1', 10)).toEqual([]);
  });

  it('sends COMMAND with the capability id and typed value, and pairs the device result with its caller', async () => {
    const { clock, commands, store, outcomes, thermostat } = setUp();
    const session = thermostat();
    const pending = commands.send('th1', 'mode', 'eco', 'mqtt:ha');
    const [frame] = session.commands;
    expect(frame).toEqual({ type: 'command', id: expect.any(Number), metric: 5, value: { type: 'enum', value: 2 } });
    commands.onResult('th2', { type: 'command_result', id: frame!.id, status: 'ok', message: '' }); // another device's: ignored
    commands.onResult('th1', { type: 'command_result', id: frame!.id + 1, status: 'ok', message: '' }); // unknown id: ignored
    expect(outcomes).toEqual([]);
    clock.advance(5);
    commands.onResult('th1', { type: 'command_result', id: frame!.id, status: 'failed', message: 'valve stuck' });
    expect(await pending).toEqual({ commandId: frame!.id, deviceId: 'th1', command: 'mode', status: 'failed', message: 'valve stuck' });
    expect(store.commands('th1', 1)[0]).toMatchObject({ id: frame!.id, source: 'mqtt:ha', status: 'failed', message: 'valve stuck', finishedAt: clock.now() });
    expect(outcomes.map((o) => o.status)).toEqual(['failed']);
    expect(clock.pendingDelays()).toEqual([]); // its timeout was cancelled
  });

  it('a device that does not answer in time gets timeout; its late result is ignored [FP-7.7]', async () => {
    const { clock, commands, outcomes, thermostat } = setUp();
    const session = thermostat();
    const pending = commands.send('th1', 'setpoint', '21.5', 'test');
    expect(clock.pendingDelays()).toEqual([TIMEOUT_MS]);
    clock.advance(TIMEOUT_MS - 1);
    expect(outcomes).toEqual([]);
    clock.advance(1);
    expect(await pending).toMatchObject({ status: 'timeout', message: `no result within ${TIMEOUT_MS} ms` });
    commands.onResult('th1', { type: 'command_result', id: session.commands[0]!.id, status: 'ok', message: '' });
    expect(outcomes.map((o) => o.status)).toEqual(['timeout']);
  });

  it('stop() answers every waiting command offline and cancels their timeouts', async () => {
    const { clock, commands, thermostat } = setUp();
    thermostat();
    const first = commands.send('th1', 'setpoint', 20, 'test');
    const second = commands.send('th1', 'mode', 'off', 'test');
    commands.stop();
    expect(await first).toMatchObject({ status: 'offline', message: 'hub shutting down' });
    expect(await second).toMatchObject({ status: 'offline', message: 'hub shutting down' });
    expect(clock.pendingDelays()).toEqual([]);
  });

  it('a command whose connection ends before its result is answered offline at once, not at the timeout [FP-7.7]', async () => {
    const { clock, commands, registry, store, thermostat } = setUp();
    const first = thermostat();
    const pending = commands.send('th1', 'setpoint', 20, 'test');
    // The device reconnects: a command sent on the new connection is not the old one's to answer.
    const second = new DeviceSpy();
    registry.attach('th1', second);
    registry.greet('th1', { type: 'hello', ...hello() }, clock.now());
    const later = commands.send('th1', 'mode', 'off', 'test');
    commands.connectionEnded(first);
    const outcome = await pending;
    expect(outcome).toMatchObject({ status: 'offline', message: 'the connection ended before the device answered' });
    expect(store.commands('th1', 10).find((c) => c.id === outcome.commandId)).toMatchObject({ status: 'offline', finishedAt: clock.now() });
    expect(clock.pendingDelays()).toEqual([TIMEOUT_MS]); // only the second command's timeout is left
    commands.onResult('th1', { type: 'command_result', id: second.commands[0]!.id, status: 'ok', message: '' });
    expect(await later).toMatchObject({ status: 'ok' });
  });

  it('timeoutMs is the answer time WELCOME announces [FP-6.2]', () => {
    expect(setUp().commands.timeoutMs).toBe(TIMEOUT_MS);
  });

  it('answers a result, or a timeout, while storage cannot record it (the outcome stands; the log keeps it as sent)', async () => {
    const { commands, store, clock, thermostat, outcomes } = setUp();
    const session = thermostat();
    const answered = commands.send('th1', 'setpoint', 21, 'test');
    const timedOut = commands.send('th1', 'setpoint', 22, 'test');
    store.close(); // every write now throws HUB_ERR_STORE_CLOSED, as a failing disk throws SQLITE_FULL
    const [first] = session.commands;
    commands.onResult('th1', { type: 'command_result', id: first!.id, status: 'ok', message: '' });
    expect(await answered).toMatchObject({ status: 'ok' });
    clock.advance(TIMEOUT_MS);
    expect(await timedOut).toMatchObject({ status: 'timeout' });
    expect(outcomes.map((o) => o.status)).toEqual(['ok', 'timeout']);
  });
});
