import type { Pending } from './pending-batch.js';

/**
 * The claims this hub holds (several hubs on PostgreSQL, issue #16 section 2): each device's ownership
 * epoch, stamped on the batches that take its frames, and how to take a fenced device back out of them.
 * Empty on SQLite, where nothing is ever stamped.
 */
export class DeviceFences {
  readonly #epochs = new Map<string, number>();
  /** Device of each series seen while fencing, to take a fenced device's readings out of a batch. */
  readonly #seriesDevice = new Map<number, string>();

  /** Whether any device is claimed (false on SQLite: the ingest path skips the rest). */
  get active(): boolean {
    return this.#epochs.size > 0;
  }

  holds(deviceId: string): boolean {
    return this.#epochs.has(deviceId);
  }

  claim(deviceId: string, epoch: number): void {
    this.#epochs.set(deviceId, epoch);
  }

  /** This hub no longer holds the device (another claimed it); its queued batches keep their stamps. */
  release(deviceId: string): void {
    this.#epochs.delete(deviceId);
  }

  /** Records the device's epoch in the batch taking its frame, and which device the frame's series belong to. */
  stamp(pending: Pending, deviceId: string, series: readonly number[]): void {
    const epoch = this.#epochs.get(deviceId);
    if (epoch === undefined) return;
    (pending.fence ??= new Map()).set(deviceId, epoch);
    for (const id of series) this.#seriesDevice.set(id, deviceId);
  }

  /**
   * A commit of `fenced` was refused for `devices`: their frames leave it and every queued batch of the same
   * claim, and their connections there are lost (4009, unacknowledged). Returns the devices whose current
   * claim that was (this hub lost them; an older claim of a device it claimed again is only cleaned up) and
   * how many readings left the queue.
   */
  drop(devices: readonly string[], fenced: Pending, queue: readonly Pending[]): { lost: Array<{ deviceId: string; epoch: number }>; readings: number } {
    const lost: Array<{ deviceId: string; epoch: number }> = [];
    let readings = 0;
    for (const deviceId of devices) {
      const epoch = fenced.fence?.get(deviceId);
      if (epoch !== undefined && this.#epochs.get(deviceId) === epoch) {
        this.#epochs.delete(deviceId);
        lost.push({ deviceId, epoch });
      }
      for (const pending of queue) if (pending.fence?.get(deviceId) === epoch) readings += this.#withoutDevice(pending, deviceId);
    }
    return { lost, readings };
  }

  #withoutDevice(pending: Pending, deviceId: string): number {
    const { batch } = pending;
    const before = batch.readings.length;
    batch.readings = batch.readings.filter((r) => this.#seriesDevice.get(r.series) !== deviceId);
    batch.events = batch.events.filter((e) => e.deviceId !== deviceId);
    batch.seqs.delete(deviceId);
    batch.lastSeen.delete(deviceId);
    pending.notify.delete(deviceId);
    pending.fence?.delete(deviceId);
    for (const channel of pending.ackTo) {
      if (channel.deviceId !== deviceId) continue;
      pending.ackTo.delete(channel);
      channel.lost?.('another hub took this device over; send the unacknowledged frames there');
    }
    return before - batch.readings.length;
  }
}
