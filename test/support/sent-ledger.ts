// The fault tests' independent record of what a device sent: every value, by seq, kept outside the hub, so
// "0 lost, 0 stored twice" is checked against the device's side, not against anything the hub counted.
import { HubStore } from '../../hub/storage/hub-store.js';
import type { AckFrame } from '../../protocol/types.js';
import type { RawDevice } from './raw-device.js';

const TS0 = 1_700_000_000_000;

/** A device that sends one float reading per frame, seq n carrying value n at TS0 + n, and remembers each. */
export class SentLedger {
  /** The connection it sends on now; a test that reconnects the device sets the new one (seqs go on). */
  device: RawDevice;
  readonly deviceId: string;
  #seq = 0;

  constructor(device: RawDevice, deviceId: string) {
    this.device = device;
    this.deviceId = deviceId;
  }

  /** Highest seq sent. */
  get sent(): number {
    return this.#seq;
  }

  /** Highest seq the hub acknowledged (0 if none). */
  get acked(): number {
    let max = 0;
    for (const f of this.device.frames) if (f.type === 'ack' && (f as AckFrame).seq > max) max = (f as AckFrame).seq;
    return max;
  }

  /** Sends `n` more frames now. */
  send(n = 1): void {
    for (let i = 0; i < n; i++) {
      const seq = ++this.#seq;
      this.device.send({ type: 'telemetry', seq, ts: TS0 + seq, readings: [{ metric: 1, value: { type: 'float', value: seq } }] });
    }
  }

  /** Sends `perTick` frames every `everyMs` until the returned function is called. */
  stream(perTick: number, everyMs: number): () => void {
    const timer = setInterval(() => this.send(perTick), everyMs);
    return () => clearInterval(timer);
  }

  /**
   * Compares the database with what was sent: the values stored for the device, each seq's once. Opens its
   * own connection (the hub may run); returns the counts the test asserts on.
   */
  check(dbPath: string): { sent: number; stored: number; missing: number; duplicated: number } {
    const store = new HubStore({ path: dbPath });
    store.open();
    try {
      const points = store.history({ deviceId: this.deviceId, metric: 'temperature', from: 0, to: Number.MAX_SAFE_INTEGER, step: 'raw', limit: 10_000_000 });
      const seen = new Map<number, number>();
      for (const p of points) seen.set(Number(p.value), (seen.get(Number(p.value)) ?? 0) + 1);
      let missing = 0;
      let duplicated = 0;
      for (let seq = 1; seq <= this.#seq; seq++) {
        const n = seen.get(seq) ?? 0;
        if (n === 0) missing += 1;
        if (n > 1) duplicated += n - 1;
      }
      return { sent: this.#seq, stored: points.length, missing, duplicated };
    } finally {
      store.close();
    }
  }
}
