// The page's own capacity, without a hub: synthetic MQTT messages at a fixed rate go through the same checks,
// store, frame scheduler and home view as live ones, while animation frames are counted. bench/dashboard.ts
// bundles this separately (it is not part of the app bundle) and runs it in Chromium.
import { Topics, type BridgeDevice } from '../../hub/mqtt/topics.js';
import { DeviceStore } from './device-store.js';
import { FrameScheduler } from './frame-scheduler.js';
import { HomeView } from './home-view.js';
import { applyLiveMessage, parseLiveMessage } from './live-topics.js';

export interface SyntheticLoadOptions {
  devices: number;
  /** State messages per second, each carrying 3 readings. */
  messagesPerSecond: number;
  seconds: number;
}

export interface SyntheticLoadResult {
  messages: number;
  renders: number;
  frames: number;
  elapsedMs: number;
  longestFrameMs: number;
}

const ROOMS = ['Kitchen', 'Living room', 'Bedroom', 'Office', 'Hall', 'Garage'];

/** Feeds `messagesPerSecond` thermostat state messages into a home view mounted in `root` for `seconds`. */
export function runSyntheticLoad(root: HTMLElement, opts: SyntheticLoadOptions): Promise<SyntheticLoadResult> {
  const topics = new Topics();
  const devices: BridgeDevice[] = Array.from({ length: opts.devices }, (_, i) => ({
    id: `t${i}`, name: `Thermostat ${i}`, room: ROOMS[i % ROOMS.length]!, type: 'thermostat', model: 'T1', firmware: '1', online: true, lastSeen: null,
    capabilities: [
      { name: 'temperature', valueType: 'float', unit: '°C', deviceClass: 'temperature', writable: false, event: false },
      { name: 'humidity', valueType: 'float', unit: '%', deviceClass: 'humidity', writable: false, event: false },
      { name: 'setpoint', valueType: 'float', unit: '°C', deviceClass: 'temperature', writable: true, event: false, min: 5, max: 30 },
    ],
  }));
  let view: HomeView | null = null;
  const scheduler = new FrameScheduler(() => view?.render(store.takeDirty()));
  const store = new DeviceStore(() => scheduler.request());
  store.setDevices(devices, true);
  view = new HomeView({ store, send: () => {}, canWrite: true, now: () => Date.now(), addDevice: null });
  root.replaceChildren(view.element);

  // Two frames first: the initial layout of every tile is a one-off cost, not part of the steady state measured.
  const frame = () => new Promise<number>((r) => requestAnimationFrame(r));
  return frame().then(frame).then(() => new Promise((resolve) => {
    const start = performance.now();
    const end = start + opts.seconds * 1000;
    let sent = 0;
    let frames = 0;
    let longest = 0;
    let last = start;
    const pump = setInterval(() => {
      const now = performance.now();
      const due = Math.floor(((Math.min(now, end) - start) / 1000) * opts.messagesPerSecond);
      const ts = Date.now();
      for (; sent < due; sent++) {
        const d = sent % opts.devices;
        const v = 18 + (sent % 97) / 10;
        const text = `{"temperature":{"value":${v},"ts":${ts + sent}},"humidity":{"value":${40 + (sent % 13)},"ts":${ts + sent}},"setpoint":{"value":21,"ts":1}}`;
        const message = parseLiveMessage(topics.base, topics.state(`t${d}`), text);
        if (message) applyLiveMessage(store, message, ts);
      }
    }, 10);
    const tick = (t: number) => {
      frames++;
      longest = Math.max(longest, t - last);
      last = t;
      if (t < end) {
        requestAnimationFrame(tick);
        return;
      }
      clearInterval(pump);
      scheduler.stop();
      resolve({ messages: sent, renders: scheduler.runs, frames, elapsedMs: t - start, longestFrameMs: longest });
    };
    requestAnimationFrame(tick);
  }));
}
