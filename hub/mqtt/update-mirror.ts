// Firmware updates on MQTT [FP-14]: the retained `<base>/<device>/update` JSON of every updatable device
// (Home Assistant's update entity reads it; progress shows there), and the Install button.
import type { DeviceInfo } from '../events.js';
import type { DeviceFacade } from '../facade.js';
import { andThen, isThenable } from '../storage/maybe-promise.js';
import type { MaybePromise } from '../storage/store-contract.js';
import type { MqttLogger } from './logger.js';
import { UPDATE_INSTALL_PAYLOAD } from './discovery/update-entity.js';
import type { FirmwareUpdatePayload, TopicMessage, Topics } from './topics.js';

export interface UpdateMirrorOptions {
  facade: DeviceFacade;
  topics: Topics;
  /** The HubMirror's ordered publish queue. */
  publish: (message: TopicMessage) => Promise<void>;
  logger: MqttLogger;
  /** Whether this hub publishes the device's update topic (HubMirror.cares: on a shared broker, not every hub does); default all. */
  cares?: (deviceId: string) => boolean;
}

const OPEN = new Set(['queued', 'transferring', 'verifying']);

/**
 * Devices whose update state publishAll() looks up at once. On PostgreSQL each is two queries: a Promise.all over
 * 100,000 devices queued 200,000 of them on the pool, whose wait timeout then rejected (bench devices100k).
 */
export const PUBLISH_ALL_CONCURRENCY = 8;

/** Publishes each updatable device's firmware state on change and installs on request; listens to the bus only. */
export class UpdateMirror {
  readonly #o: UpdateMirrorOptions;
  #detach: (() => void)[] = [];

  constructor(o: UpdateMirrorOptions) {
    this.#o = o;
  }

  /** Follows `firmware.update` and `device.updated` (a new version in HELLO). */
  attach(): void {
    const bus = this.#o.facade.bus;
    this.#detach = [
      bus.on('firmware.update', (u) => void this.#publishLogged(u.device)),
      // Asked once the emit returns: a HELLO's device.updated comes just before the registry marks the device online here.
      bus.on('device.updated', (p) => queueMicrotask(() => void (this.#cares(p.device.id) && this.#publishLogged(p.device.id)))),
    ];
  }

  detach(): void {
    for (const off of this.#detach) off();
    this.#detach = [];
  }

  /**
   * Publishes the state of every updatable device (at start, after a reconnect to the broker and after Home
   * Assistant's birth), PUBLISH_ALL_CONCURRENCY devices at a time. Never rejects: a device whose state could
   * not be read (the database unreachable, say) is left out, and one warning counts them.
   */
  async publishAll(): Promise<void> {
    const ids = this.#o.facade.devices().map((d) => d.id).filter((id) => this.#cares(id));
    // Each model's latest version read once for the pass, not once per device (on PostgreSQL, a query each).
    const latest = new Map<string, MaybePromise<string | undefined>>();
    let next = 0;
    let failed = 0;
    let first: unknown;
    const lane = async (): Promise<void> => {
      while (next < ids.length) {
        const id = ids[next++]!;
        try {
          await this.#publishDevice(id, latest);
        } catch (err) {
          if (failed++ === 0) first = err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PUBLISH_ALL_CONCURRENCY, ids.length) }, lane));
    if (failed > 0) {
      this.#o.logger.warn({ failed, devices: ids.length, err: String(first) }, 'firmware update state not published for some devices; the next change or republish sends it');
    }
  }

  #cares(deviceId: string): boolean {
    return this.#o.cares?.(deviceId) ?? true;
  }

  /** #publishDevice for a bus event: a failure is logged, never left unhandled (it would stop the hub). */
  async #publishLogged(deviceId: string): Promise<void> {
    try {
      await this.#publishDevice(deviceId);
    } catch (err) {
      this.#o.logger.warn({ device: deviceId, err: String(err) }, 'firmware update state not published');
    }
  }

  /** Home Assistant's Install: an update of the device to its model's latest version. */
  install(deviceId: string, payload: Buffer, source: string): void {
    const fw = this.#o.facade.firmware;
    const device = this.#o.facade.device(deviceId);
    const log = this.#o.logger;
    if (!fw || !device || payload.toString('utf8').trim() !== UPDATE_INSTALL_PAYLOAD) {
      return log.warn({ device: deviceId, source }, `ignored: ${this.#o.topics.updateInstall(deviceId)} takes "${UPDATE_INSTALL_PAYLOAD}" for a known device`);
    }
    const refused = (err: Error) => log.warn({ device: deviceId, source, err: err.message }, 'install refused');
    try {
      const done = andThen(fw.latestVersion(device.model || device.type), (latest) => {
        if (latest === undefined) return log.warn({ device: deviceId, source }, 'install: no firmware image for its model');
        return andThen(fw.update({ device: deviceId }, latest), ({ queued, skipped }) => {
          log.info({ device: deviceId, source, version: latest, queued: queued.length, skipped: skipped.map((s) => s.reason) }, 'install requested over MQTT');
        });
      });
      if (isThenable(done)) done.then(undefined, refused);
    } catch (err) {
      refused(err as Error);
    }
  }

  async #publishDevice(deviceId: string, latest?: Map<string, MaybePromise<string | undefined>>): Promise<void> {
    const device = this.#o.facade.device(deviceId);
    if (!device?.updatable || !this.#o.facade.firmware) return;
    const payload = await this.payload(device, latest);
    await this.#o.publish({ kind: 'update', topic: this.#o.topics.update(deviceId), payload });
  }

  /** The retained payload of one device (at once on SQLite, a Promise on PostgreSQL); `latest`: versions by model, filled as read. */
  payload(device: DeviceInfo, latest?: Map<string, MaybePromise<string | undefined>>): MaybePromise<FirmwareUpdatePayload> {
    const fw = this.#o.facade.firmware!;
    const model = device.model || device.type;
    const version = (): MaybePromise<string | undefined> => {
      if (!latest) return fw.latestVersion(model);
      let v = latest.get(model);
      if (v === undefined && !latest.has(model)) {
        v = fw.latestVersion(model);
        // A failed read is not kept: the next device of the model asks again.
        if (isThenable(v)) v.then(undefined, () => latest.delete(model));
        latest.set(model, v);
      }
      return v;
    };
    return andThen(fw.updates(1, device.id), (updates) =>
      andThen(version(), (newest) => {
        const last = updates[0];
        const installed = device.firmware;
        const latest = newest ?? installed;
        const open = last !== undefined && OPEN.has(last.state);
        return {
          installed_version: installed,
          latest_version: open ? last.version : latest,
          in_progress: open,
          update_percentage: last?.state === 'transferring' ? last.percent : null,
          state: last?.state ?? null,
          version: last?.version ?? null,
          reason: last?.reason ?? null,
        };
      }),
    );
  }
}
