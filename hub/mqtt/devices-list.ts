import { setImmediate as nextTurn } from 'node:timers/promises';
import type { DeviceFacade } from '../facade.js';
import type { Timers } from '../timers.js';
import { bridgeDevice } from './bridge-device.js';
import type { Publisher } from './publisher.js';
import { RETAINED, type Topics } from './topics.js';

/** `<base>/bridge/devices` goes out at most once per this, and only when its content changed. */
const DEVICES_LIST_INTERVAL_MS = 1000;
/**
 * ...or per this many times what building the last list took, if longer: a 10,000-device list takes tens of
 * ms, and once a second through a reconnect storm that was main-thread time the handshakes needed.
 */
const DEVICES_LIST_COST_FACTOR = 20;
/** Devices serialised per event-loop turn (see publish()). */
const LIST_SLICE = 2_000;

export interface DevicesListOptions {
  facade: DeviceFacade;
  publisher: Publisher;
  topics: Topics;
  /** Devices whose id can be a topic level. */
  usable: (id: string) => boolean;
  /** Runs a publish in the mirror's order. */
  enqueue: (job: () => Promise<void>) => Promise<void>;
  now: () => number;
  timers: Timers;
}

/**
 * Coalesces `<base>/bridge/devices`: at most one publish per DEVICES_LIST_INTERVAL_MS, and none when the list
 * did not change. Building the whole list on every connect was 69% of the main thread while a fleet
 * reconnected after a hub restart (issue §3); now 1,000 reconnects cost a few lists, and a large fleet's list
 * (whose build time is measured) at most 1/DEVICES_LIST_COST_FACTOR of the main thread.
 */
export class DevicesList {
  readonly #o: DevicesListOptions;
  #timer: object | undefined;
  #done: Promise<void> | undefined;
  #last = '';
  #lastAt = -Infinity;
  /** Wall time the last list took to build, ms (real time, not the injected clock: it is a cost). */
  #lastCostMs = 0;

  constructor(opts: DevicesListOptions) {
    this.#o = opts;
  }

  /** Asks for a publish; many asks within the interval make one. */
  schedule(): void {
    if (this.#timer !== undefined) return;
    const interval = Math.max(DEVICES_LIST_INTERVAL_MS, DEVICES_LIST_COST_FACTOR * this.#lastCostMs);
    const wait = Math.max(0, this.#lastAt + interval - this.#o.now());
    this.#done = new Promise<void>((resolve) => {
      this.#timer = this.#o.timers.setTimeout(() => {
        this.#timer = undefined;
        void this.#o.enqueue(() => this.publish(false)).then(resolve);
      }, wait);
    });
  }

  /** Resolves when the scheduled publish (if any) went out. */
  idle(): Promise<void> {
    return this.#done ?? Promise.resolve();
  }

  /**
   * Publishes the list now; unless `force`, only when it differs from the last one sent. Built LIST_SLICE
   * devices at a time with the event loop free between the slices: 100,000 devices took ~300 ms in one piece,
   * seconds on a loaded machine, during which the hub answered nothing (its database beat included).
   */
  async publish(force: boolean): Promise<void> {
    let began = performance.now();
    let cost = 0;
    const devices = this.#o.facade.devices().filter((d) => this.#o.usable(d.id));
    const parts: string[] = [];
    for (let i = 0; i < devices.length; i += LIST_SLICE) {
      if (i > 0) {
        cost += performance.now() - began;
        await nextTurn();
        began = performance.now();
      }
      parts.push(JSON.stringify(devices.slice(i, i + LIST_SLICE).map(bridgeDevice)).slice(1, -1));
    }
    const payload = `[${parts.join(',')}]`;
    this.#lastCostMs = cost + performance.now() - began;
    this.#lastAt = this.#o.now();
    if (!force && payload === this.#last) return;
    this.#last = payload;
    await this.#o.publisher.publish(this.#o.topics.bridgeDevices(), payload, RETAINED.bridgeDevices);
  }
}
