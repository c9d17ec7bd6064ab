import { describe, it, expect } from '@jest/globals';
import { decode, encode } from '../../protocol/index.js';
import type { Capability, Value } from '../../protocol/index.js';
import { Rng } from '../rng.js';
import { MODELS, thermostat, light, smartPlug, motionSensor, doorContact, airQuality } from './index.js';
import type { DeviceModel, ModelEvent } from './model.js';
import { commandValueProblem, hourOfDay } from './values.js';

const DAY = 86_400_000;
const START = Date.UTC(2025, 5, 2); // midnight UTC

/** Runs a model for `ms` of device time in `stepMs` steps; returns every reading and event. */
function simulate<S>(model: DeviceModel<S>, ms: number, stepMs: number, seed = 'model-test') {
  const rng = new Rng(seed);
  const state = model.init(START, rng);
  const readings: { ts: number; metric: number; value: Value }[] = [];
  const events: ModelEvent[] = [];
  for (let t = START + stepMs; t <= START + ms; t += stepMs) {
    const out = model.step(state, t, rng);
    for (const r of out.readings) readings.push({ ts: t, ...r });
    events.push(...out.events);
  }
  return { state, readings, events };
}

function valueFits(cap: Capability, v: Value): boolean {
  return commandValueProblem(cap, v) === null;
}

const series = (readings: { ts: number; metric: number; value: Value }[], metric: number) =>
  readings.filter((r) => r.metric === metric).map((r) => ({ ts: r.ts, v: Number(r.value.value) }));

describe('device models', () => {
  it.each(Object.values(MODELS).map((m) => [m.name, m] as const))('%s declares capabilities a HELLO can carry [FP-6.1]', (_name, model) => {
    const hello = { type: 'hello' as const, model: model.model, firmware: model.firmware, lastAckedSeq: 0, capabilities: [...model.capabilities] };
    expect(decode(encode(hello))).toEqual(hello);
    expect(model.capabilities.some((c) => !c.event)).toBe(true);
  });

  it.each(Object.values(MODELS).map((m) => [m.name, m] as const))('%s produces readings and events that match its capabilities for a whole day', (_name, model) => {
    const { readings, events } = simulate(model, DAY, 60_000);
    expect(readings.length).toBeGreaterThan(0);
    const misfits = [...readings.map((r) => ({ ...r, event: false })), ...events.map((e) => ({ ...e, event: true }))].filter((r) => {
      const cap = model.capabilities.find((c) => c.id === r.metric);
      return cap === undefined || cap.event !== r.event || !valueFits(cap, r.value);
    });
    expect(misfits).toEqual([]);
    // Every step's readings fit in one TELEMETRY frame.
    const state = model.init(START, new Rng('x'));
    const frame = { type: 'telemetry' as const, seq: 1, ts: START, readings: model.step(state, START + 1000, new Rng('x')).readings };
    expect(decode(encode(frame))).toEqual(frame);
  });

  it('the same seed replays the same readings; another seed differs', () => {
    expect(simulate(airQuality, 3_600_000, 10_000, 'a').readings).toEqual(simulate(airQuality, 3_600_000, 10_000, 'a').readings);
    expect(simulate(airQuality, 3_600_000, 10_000, 'a').readings).not.toEqual(simulate(airQuality, 3_600_000, 10_000, 'b').readings);
  });

  it('thermostat: temperature drifts toward a new setpoint', () => {
    const rng = new Rng('drift');
    const state = thermostat.init(START, rng);
    const setpoint = thermostat.capabilities.find((c) => c.name === 'setpoint')!;
    expect(thermostat.applyCommand(state, setpoint, { type: 'float', value: 27 })).toEqual({ status: 'ok', message: '' });
    const before = state.room;
    let t = START;
    for (let i = 0; i < 120; i++) thermostat.step(state, (t += 60_000), rng);
    expect(state.room).toBeGreaterThan(before + 3);
    expect(Math.abs(state.room - 27)).toBeLessThan(2);
    expect(thermostat.readings(state).find((r) => r.metric === setpoint.id)!.value).toEqual({ type: 'float', value: 27 });
  });

  it('air quality follows the daily curve: CO2 is higher in the evening than before dawn', () => {
    const { readings } = simulate(airQuality, 3 * DAY, 300_000);
    const co2 = series(readings, 1);
    const mean = (h0: number, h1: number) => {
      const xs = co2.filter((p) => hourOfDay(p.ts) >= h0 && hourOfDay(p.ts) < h1).map((p) => p.v);
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    expect(mean(19, 22)).toBeGreaterThan(mean(2, 5) + 150);
  });

  it('smart plug: energy accumulates while on and stands still while off', () => {
    const rng = new Rng('plug');
    const state = smartPlug.init(START, rng);
    const on = smartPlug.capabilities.find((c) => c.name === 'on')!;
    smartPlug.applyCommand(state, on, { type: 'bool', value: true });
    let t = START;
    const energy = () => smartPlug.readings(state).find((r) => r.metric === 3)!.value.value as number;
    const e0 = energy();
    for (let i = 0; i < 60; i++) smartPlug.step(state, (t += 60_000), rng);
    const e1 = energy();
    expect(e1).toBeGreaterThan(e0);
    smartPlug.applyCommand(state, on, { type: 'bool', value: false });
    for (let i = 0; i < 60; i++) smartPlug.step(state, (t += 60_000), rng);
    expect(energy()).toBe(e1);
    expect(smartPlug.readings(state).find((r) => r.metric === 2)!.value).toEqual({ type: 'float', value: 0 });
  });

  it.each([
    ['motion_sensor', motionSensor],
    ['door_contact', doorContact],
  ] as const)('%s: events come in bursts and the battery drains', (_name, model) => {
    const { readings, events } = simulate(model as DeviceModel, 7 * DAY, 60_000);
    expect(events.length).toBeGreaterThan(20);
    // Bursty: gaps between events vary far more than a steady (Poisson) stream's would (CV > 1).
    const ts = events.map((e) => e.ts).sort((a, b) => a - b);
    const gaps = ts.slice(1).map((t, i) => t - ts[i]!);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / gaps.length);
    expect(sd / mean).toBeGreaterThan(1.2);
    const battery = series(readings, 2).map((p) => p.v);
    expect(battery[battery.length - 1]!).toBeLessThan(battery[0]!);
    expect(battery.filter((b, i) => i > 0 && b > battery[i - 1]!)).toEqual([]);
  });

  it('motion sensor: every burst ends in "clear", and states alternate sensibly', () => {
    const { events } = simulate(motionSensor, 2 * DAY, 60_000);
    const values = events.map((e) => e.value.value);
    expect(values[0]).toBe(true);
    for (let i = 1; i < values.length; i++) if (values[i] === false) expect(values[i - 1]).toBe(true);
  });

  it('door contact: open and closed alternate, each open followed by a close', () => {
    const { events } = simulate(doorContact, 2 * DAY, 60_000);
    const values = events.map((e) => e.value.value);
    values.forEach((v, i) => expect(v).toBe(i % 2 === 0 ? 1 : 0));
    for (let i = 1; i < events.length; i++) expect(events[i]!.ts).toBeGreaterThanOrEqual(events[i - 1]!.ts);
  });

  it('commands: valid values apply; wrong type or range is invalid with a reason', () => {
    const brightness = light.capabilities.find((c) => c.name === 'brightness')!;
    expect(commandValueProblem(brightness, { type: 'int', value: 40 })).toBeNull();
    expect(commandValueProblem(brightness, { type: 'int', value: 101 })).toMatch(/between 0 and 100/);
    expect(commandValueProblem(brightness, { type: 'float', value: 40 })).toMatch(/takes a int, got a float/);
    const setpoint = thermostat.capabilities.find((c) => c.name === 'setpoint')!;
    expect(commandValueProblem(setpoint, { type: 'float', value: 4.5 })).toMatch(/between 5 and 30/);
    const state = light.init(START, new Rng('l'));
    expect(light.applyCommand(state, brightness, { type: 'int', value: 40 }).status).toBe('ok');
    expect(light.readings(state)).toContainEqual({ metric: brightness.id, value: { type: 'int', value: 40 } });
  });
});
