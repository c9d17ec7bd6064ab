// Restart-proof discovery and state (issue §2) on the embedded broker with an injected clock: Home Assistant's
// birth message re-publishes after the configured random delay and at the configured rate, state goes out on
// change (and on the heartbeat), and bridge/devices is coalesced however many devices reconnect.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually } from '../../test/support/eventually.js';
import type { MqttClient } from 'mqtt';
import { ManualClock } from '../../device-sim/manual-clock.js';
import { RatePacer } from './rate-pacer.js';
import { BridgeFixture } from './testing/bridge-fixture.js';
import { SAMPLE_CAPS as C, device } from './testing/sample-devices.js';
import { record, waitForMessage, type Received } from './testing/mqtt-test-kit.js';
import { Topics } from './topics.js';

const topics = new Topics();
const float = (value: number) => ({ type: 'float' as const, value });

describe('restart-proof MQTT (embedded broker, manual clock)', () => {
  const fx = new BridgeFixture();
  const clock = new ManualClock(1_000_000);
  let client: MqttClient;
  let got: Received[];
  const FLEET = Array.from({ length: 40 }, (_, i) => `s${String(i).padStart(2, '0')}`);

  beforeAll(async () => {
    fx.facade.upsertDevice(device({ id: 'th1', type: 'thermostat', online: true, capabilities: [C.temperature] }));
    for (const id of FLEET) fx.facade.upsertDevice(device({ id, capabilities: [C.temperature] }));
    fx.facade.pushReadings('th1', [{ metric: 'temperature', value: float(20), ts: 1 }]);
    await fx.open({
      allowAnonymous: true,
      anonymousRole: 'admin',
      rediscoverDelayMs: 4000,
      rediscoverRate: 10,
      stateHeartbeatMs: 60_000,
      healthIntervalMs: 0,
      now: () => clock.now(),
      timers: clock,
      random: () => 0.5,
    });
    await fx.bridge.idle();
    client = await fx.client(null);
    got = record(client);
    await client.subscribeAsync(['hearth/#', 'homeassistant/#']);
    await waitForMessage(got, topics.bridgeDevices());
  });
  afterAll(() => fx.close());

  const live = (topic: string) => got.filter((m) => m.topic === topic && !m.retain);

  it('homeassistant/status online re-publishes discovery and state after the random delay, at the configured rate', async () => {
    got.length = 0;
    await client.publishAsync('homeassistant/status', 'online');
    await eventually(() => clock.pendingDelays().includes(2000), { timeoutMs: 5000, what: 'the re-publish to be scheduled 0.5 x 4000 ms out' });
    expect(live('homeassistant/device/hearth_th1/config')).toHaveLength(0);
    clock.advance(2000);
    // 41 devices: 41 discovery configs and availabilities, then states; 10 a second, so the first second stops at 10.
    await waitForMessage(got, 'homeassistant/device/hearth_s00/config', (m) => !m.retain);
    await eventually(() => clock.pendingDelays().length > 0, { timeoutMs: 5000, what: 'the pacer to wait for the next second' });
    const liveSent = () => got.filter((m) => !m.retain && !m.topic.includes('/bridge/') && m.topic !== 'homeassistant/status').length;
    expect(liveSent()).toBe(10);
    // 164 paced publishes at 10 a second: about 17 windows.
    for (let second = 0; second < 30 && !got.some((m) => m.topic === 'hearth/th1/state' && !m.retain); second++) {
      const before = liveSent();
      clock.advance(1000);
      await eventually(() => liveSent() > before, { timeoutMs: 5000, what: 'the next paced second' });
      await eventually(() => clock.pendingDelays().length > 0 || got.some((m) => m.topic === 'hearth/th1/state' && !m.retain), { timeoutMs: 5000, what: 'the pacer to wait again' });
    }
    const state = got.find((m) => m.topic === 'hearth/th1/state' && !m.retain)!;
    expect(JSON.parse(state.payload)).toEqual({ temperature: { value: 20, ts: 1 } });
  });

  it('publishes state on change only, at most once per stateMinIntervalMs, and an unchanged one again after stateHeartbeatMs', async () => {
    got.length = 0;
    // The re-publish above just sent th1's state: its interval (the default 100 ms) ends first.
    clock.advance(100);
    fx.facade.pushReadings('th1', [{ metric: 'temperature', value: float(21), ts: 2 }]);
    await waitForMessage(got, 'hearth/th1/state', (m) => m.payload.includes('21'));
    fx.facade.pushReadings('th1', [{ metric: 'temperature', value: float(21), ts: 3 }]);
    fx.facade.pushReadings('th1', [{ metric: 'temperature', value: float(22), ts: 4 }]);
    // Within the interval: the lossless stream carries both readings at once, the state waits for its end.
    await waitForMessage(got, 'hearth/th1/readings', (m) => m.payload.includes('"ts":4'));
    await eventually(() => clock.pendingDelays().includes(100), { timeoutMs: 5000, what: "the held state's timer at the interval's end" });
    expect(live('hearth/th1/state')).toHaveLength(1);
    clock.advance(100);
    await waitForMessage(got, 'hearth/th1/state', (m) => m.payload.includes('22'));
    // The repeated 21 went out on the lossless stream, not as a state.
    expect(live('hearth/th1/state').map((m) => JSON.parse(m.payload).temperature.value)).toEqual([21, 22]);
    expect(live('hearth/th1/temperature').map((m) => m.payload)).toEqual(['21', '22']);
    clock.advance(60_000);
    fx.facade.pushReadings('th1', [{ metric: 'temperature', value: float(22), ts: 5 }]);
    await waitForMessage(got, 'hearth/th1/state', (m) => m.payload.includes('"ts":5'));
    expect(live('hearth/th1/state')).toHaveLength(3);
  });

  it('coalesces bridge/devices: 40 reconnects cost one list, and none when nothing in it changed', async () => {
    got.length = 0;
    for (const id of FLEET) fx.facade.setOnline(id, true);
    await eventually(() => got.filter((m) => m.topic.endsWith('/availability')).length === FLEET.length, { timeoutMs: 5000, what: 'every availability' });
    clock.advance(1000);
    await waitForMessage(got, topics.bridgeDevices());
    await fx.bridge.idle();
    const lists = got.filter((m) => m.topic === topics.bridgeDevices());
    expect(lists).toHaveLength(1);
    expect((JSON.parse(lists[0]!.payload) as { online: boolean }[]).filter((d) => d.online)).toHaveLength(FLEET.length + 1);
    // An update that changes nothing in the list (as a CLI reconcile may announce) publishes no list.
    fx.facade.bus.emit('device.updated', { device: fx.facade.device('th1')! });
    await eventually(() => clock.pendingDelays().length > 0, { timeoutMs: 5000, what: 'the list to be scheduled' });
    clock.advance(1000);
    await fx.bridge.idle();
    expect(got.filter((m) => m.topic === topics.bridgeDevices())).toHaveLength(1);
  });
});

describe('RatePacer', () => {
  it('lets perSecond units through per second and holds the next until the window turns', async () => {
    const clock = new ManualClock(0);
    const pacer = new RatePacer(3, () => clock.now(), clock);
    let done = 0;
    const all = (async () => {
      for (let i = 0; i < 7; i++) {
        await pacer.take();
        done += 1;
      }
    })();
    await eventually(() => done === 3 && clock.pendingDelays().length === 1, { timeoutMs: 1000, what: 'the first window to fill' });
    expect(clock.pendingDelays()).toEqual([1000]);
    clock.advance(1000);
    await eventually(() => done === 6, { timeoutMs: 1000, what: 'the second window' });
    clock.advance(1000);
    await all;
    expect(done).toBe(7);
  });
});
