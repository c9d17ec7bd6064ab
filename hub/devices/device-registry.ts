import type { Capability, Frame, HelloFrame, Value } from '../../protocol/types.js';
import { newDeviceCredentials } from '../auth/device-tokens.js';
import type { DeviceInfo, EventBus } from '../events.js';
import type { CurrentValue } from '../facade.js';
import { valueToJson } from '../../protocol/value-form.js';
import { andThen, isThenable } from '../storage/maybe-promise.js';
import type { HubStoreContract, MaybePromise } from '../storage/store-contract.js';
import type { DeviceRecord, LatestValue } from '../storage/types.js';

/** What the registry needs of a live session. */
export interface SessionHandle {
  send(frame: Frame): void;
  /** Sends ERROR {code, message} then closes with the code's close code. */
  fail(code: 'HUB_ERR_REPLACED' | 'HUB_ERR_REVOKED' | 'HUB_ERR_STORAGE', message: string): void;
}

interface Runtime {
  record: DeviceRecord;
  capsById: Map<number, Capability>;
  capsByName: Map<string, Capability>;
  session: SessionHandle | undefined;
  online: boolean;
  values: Map<string, { value: Value; ts: number }>;
}

/** What the registry needs of storage: the device rows and each device's latest values. */
export type RegistryStore = Pick<
  HubStoreContract,
  'listDevices' | 'latest' | 'addDevice' | 'getDevice' | 'revokeDevice' | 'renameDevice' | 'setDeviceRoom' | 'removeDevice' | 'updateDeviceHello'
> & {
  /** The latest values of many devices in one query (PostgreSQL), for load(): a round trip per device took 26 s for 100,000. */
  latestMany?(deviceIds: readonly string[]): Promise<Map<string, LatestValue[]>>;
  /** Devices in id order after `after`, `limit` at most (PostgreSQL), for reconcile(). */
  listDevicesPage?(after: string | undefined, limit: number): Promise<DeviceRecord[]>;
};

/** Devices per listDevicesPage() query of reconcile(). */
const RECONCILE_PAGE = 2000;

/** Devices per latestMany() query while loading. */
const LOAD_PAGE = 1000;

/**
 * Provisioned devices in memory: credentials, capabilities, live session, online state and current values.
 * Its writes answer as the store does: at once on SQLite, as Promises on PostgreSQL (memory changes once
 * the write is done, either way).
 */
export class DeviceRegistry {
  readonly #store: RegistryStore;
  readonly #bus: EventBus;
  readonly #devices = new Map<string, Runtime>();
  /** Ids being looked up in the database (PostgreSQL) for a device this hub did not know yet. */
  readonly #adopting = new Map<string, Promise<Runtime | undefined>>();

  constructor(store: RegistryStore, bus: EventBus) {
    this.#store = store;
    this.#bus = bus;
  }

  /** Loads every non-revoked device and its latest stored values. */
  load(): MaybePromise<void> {
    const records = this.#store.listDevices();
    if (isThenable(records)) return this.#loadAsync(records);
    for (const record of records) if (record.revokedAt === null) this.#load(record, this.#store.latest(record.id) as LatestValue[]);
  }

  async #loadAsync(records: Promise<DeviceRecord[]>): Promise<void> {
    const live = (await records).filter((r) => r.revokedAt === null);
    const many = this.#store.latestMany?.bind(this.#store);
    if (!many) {
      for (const record of live) this.#load(record, await this.#store.latest(record.id));
      return;
    }
    for (let i = 0; i < live.length; i += LOAD_PAGE) {
      const page = live.slice(i, i + LOAD_PAGE);
      const latest = await many(page.map((r) => r.id));
      for (const record of page) this.#load(record, latest.get(record.id) ?? []);
    }
  }

  /** Takes a stored device and its latest values into memory. */
  #load(record: DeviceRecord, latest: readonly LatestValue[]): void {
    const runtime = this.#runtime(record);
    for (const l of latest) runtime.values.set(l.metric, { value: l.value, ts: l.ts });
    this.#devices.set(record.id, runtime);
  }

  /**
   * Re-reads devices after another connection (the CLI, another hub) changed them: new ones appear, revoked
   * ones are cut off. On PostgreSQL a page of devices at a time, the event loop free between pages.
   */
  reconcile(now: number): MaybePromise<void> {
    if (this.#store.listDevicesPage) return this.#reconcilePaged(this.#store.listDevicesPage.bind(this.#store));
    return andThen(this.#store.listDevices(), (records) => this.#reconcile(records, now));
  }

  /**
   * reconcile() in pages: in one piece, 100,000 devices held a hub's event loop for seconds (bench
   * devices100k). A device missing from every page is dropped only if it was here when the pass began: one
   * taken in meanwhile (the change log, a first connection) may have come after its page was read.
   */
  async #reconcilePaged(page: NonNullable<RegistryStore['listDevicesPage']>): Promise<void> {
    const before = new Set(this.#devices.keys());
    let after: string | undefined;
    for (;;) {
      const records = await page(after, RECONCILE_PAGE);
      for (const record of records) {
        before.delete(record.id);
        this.#apply(record);
      }
      if (records.length < RECONCILE_PAGE) break;
      after = records.at(-1)!.id;
    }
    for (const id of before) this.#drop(id, 'removed');
  }

  #reconcile(records: DeviceRecord[], now: number): void {
    const seen = new Set<string>();
    for (const record of records) {
      seen.add(record.id);
      this.#apply(record);
    }
    for (const id of [...this.#devices.keys()]) if (!seen.has(id)) this.#drop(id, 'removed');
    void now;
  }

  /**
   * Takes in what changed since the last look (PostgreSQL's device change log): as reconcile() does for
   * these devices only. A record may come twice; a removed id is one the database no longer has.
   */
  applyChanges(changed: readonly DeviceRecord[], removed: readonly string[]): void {
    for (const id of removed) if (this.#devices.has(id)) this.#drop(id, 'removed');
    for (const record of changed) this.#apply(record);
  }

  #apply(record: DeviceRecord): void {
    const known = this.#devices.get(record.id);
    if (record.revokedAt !== null) {
      if (known) this.#drop(record.id, 'revoked');
    } else if (!known) {
      this.#devices.set(record.id, this.#runtime(record));
      this.#bus.emit('device.updated', { device: this.info(record.id)! });
    } else {
      this.#update(known, record);
    }
  }

  /**
   * Re-reads one device now (several hubs: it said HELLO to another hub, which stored its capabilities), so
   * this hub can validate a command for it; a device gone from the database is dropped as by reconcile().
   */
  refresh(id: string): MaybePromise<void> {
    return andThen(this.#store.getDevice(id), (record) => {
      const known = this.#devices.get(id);
      if (!record) return void (known && this.#drop(id, 'removed'));
      if (record.revokedAt !== null) return void (known && this.#drop(id, 'revoked'));
      if (!known) return void this.#adopted(id, record);
      this.#update(known, record);
    });
  }

  /** Takes a changed stored record (labels, or a HELLO stored by another hub) into memory; the live session and online stay. */
  #update(known: Runtime, record: DeviceRecord): void {
    const r = known.record;
    const labels = r.name !== record.name || r.room !== record.room;
    const hello =
      r.model !== record.model ||
      r.firmware !== record.firmware ||
      (r.updates === true) !== (record.updates === true) ||
      JSON.stringify(r.capabilities) !== JSON.stringify(record.capabilities);
    if (!labels && !hello) return;
    known.record = { ...r, name: record.name, room: record.room, model: record.model, firmware: record.firmware, capabilities: record.capabilities, updates: record.updates === true };
    if (hello) {
      known.capsById = new Map(record.capabilities.map((c) => [c.id, c]));
      known.capsByName = new Map(record.capabilities.map((c) => [c.name, c]));
    }
    this.#bus.emit('device.updated', { device: this.info(record.id)! });
  }

  /** Creates a device and returns its token, shown once; only a salted hash is kept. */
  provision(id: string, name: string, type: string, now: number): MaybePromise<{ device: DeviceInfo; token: string }> {
    const { record: fresh, token } = newDeviceCredentials(id, name, type, now);
    return andThen(this.#store.addDevice(fresh), () =>
      andThen(this.#store.getDevice(id), (record) => {
        this.#devices.set(id, this.#runtime(record!));
        const device = this.info(id)!;
        this.#bus.emit('device.updated', { device });
        return { device, token };
      }),
    );
  }

  /** Revokes a device: its session is closed at once with 4010 and it can no longer connect. */
  revoke(id: string, now: number): MaybePromise<boolean> {
    return andThen(this.#store.revokeDevice(id, now), (ok) => {
      if (ok) this.#drop(id, 'revoked');
      return ok;
    });
  }

  /**
   * Sets the friendly name and/or room (null clears it) of a device and emits device.updated, so MQTT topics
   * and discovery follow; undefined for an unknown device. Values are checked by the caller (the facade).
   */
  rename(id: string, change: { name?: string; room?: string | null }): MaybePromise<DeviceInfo | undefined> {
    const runtime = this.#devices.get(id);
    if (!runtime) return undefined;
    const name = change.name ?? runtime.record.name;
    const room = change.room === undefined ? runtime.record.room : change.room;
    if (name === runtime.record.name && room === runtime.record.room) return this.info(id);
    const renamed = name !== runtime.record.name ? this.#store.renameDevice(id, name) : true;
    return andThen(renamed, () =>
      andThen(room !== runtime.record.room ? this.#store.setDeviceRoom(id, room) : true, () => {
        runtime.record = { ...runtime.record, name, room };
        const device = this.info(id)!;
        this.#bus.emit('device.updated', { device });
        return device;
      }),
    );
  }

  /** Deletes a device and everything stored for it; its session closes with 4010. False when unknown. */
  remove(id: string): MaybePromise<boolean> {
    return andThen(this.#store.removeDevice(id), (ok) => {
      if (ok) this.#drop(id, 'removed');
      return ok;
    });
  }

  /**
   * The stored token hash of a live device, for hub/auth's device check [FP-2.3]; undefined if unknown or
   * revoked. An id not in memory is looked up in the database first: `hearth device add` in another process
   * writes there, and its device is accepted at once, before the CLI change watch notices.
   */
  deviceCredentials(id: string): MaybePromise<{ tokenSalt: string; tokenHash: string } | undefined> {
    const known = this.#devices.get(id);
    if (known) return known.record;
    return andThen(this.#adopt(id), (runtime) => runtime?.record);
  }

  /** Makes `session` the device's live one; an older one is closed with 4009 [FP-10.3]. */
  attach(id: string, session: SessionHandle): void {
    const runtime = this.#devices.get(id);
    if (!runtime) return;
    const previous = runtime.session;
    runtime.session = session;
    previous?.fail('HUB_ERR_REPLACED', 'another connection of this device took over');
  }

  /** Forgets `session` if it is still the live one; returns true when the device went offline. */
  detach(id: string, session: SessionHandle): boolean {
    const runtime = this.#devices.get(id);
    if (!runtime || runtime.session !== session) return false;
    runtime.session = undefined;
    if (runtime.online) this.#setOnline(runtime, false);
    return true;
  }

  /** Records a HELLO: model, firmware and capabilities, then marks the device online (and seen). */
  greet(id: string, hello: HelloFrame, now: number): MaybePromise<void> {
    const runtime = this.#devices.get(id);
    if (!runtime) return;
    runtime.record.lastSeen = Math.max(runtime.record.lastSeen ?? 0, now);
    const changed =
      runtime.record.model !== hello.model ||
      runtime.record.firmware !== hello.firmware ||
      JSON.stringify(runtime.record.capabilities) !== JSON.stringify(hello.capabilities) ||
      (runtime.record.updates === true) !== (hello.updates === true);
    if (!changed) return this.#setOnline(runtime, true);
    const updates = hello.updates === true; // [FP-14.1]
    const stored = this.#store.updateDeviceHello(id, { model: hello.model, firmware: hello.firmware, capabilities: hello.capabilities, updates });
    return andThen(stored, () => {
      runtime.record = { ...runtime.record, model: hello.model, firmware: hello.firmware, capabilities: hello.capabilities, updates };
      runtime.capsById = new Map(hello.capabilities.map((c) => [c.id, c]));
      runtime.capsByName = new Map(hello.capabilities.map((c) => [c.name, c]));
      this.#bus.emit('device.updated', { device: this.info(id)! });
      this.#setOnline(runtime, true);
    });
  }

  session(id: string): SessionHandle | undefined {
    return this.#devices.get(id)?.session;
  }

  capability(id: string, metric: number): Capability | undefined {
    return this.#devices.get(id)?.capsById.get(metric);
  }

  capabilityByName(id: string, name: string): Capability | undefined {
    return this.#devices.get(id)?.capsByName.get(name);
  }

  has(id: string): boolean {
    return this.#devices.has(id);
  }

  /** Applies committed values (newest wins) and the time the device was last heard from. */
  applyCommitted(id: string, values: { metric: string; ts: number; value: Value }[], lastSeen: number | undefined): void {
    const runtime = this.#devices.get(id);
    if (!runtime) return;
    for (const v of values) {
      const current = runtime.values.get(v.metric);
      if (!current || current.ts <= v.ts) runtime.values.set(v.metric, { value: v.value, ts: v.ts });
    }
    if (lastSeen !== undefined) runtime.record.lastSeen = Math.max(runtime.record.lastSeen ?? 0, lastSeen);
  }

  /** Latest committed value of each metric of a device, in its JSON form (enums by option name). */
  currentState(id: string): Record<string, CurrentValue> {
    const out: Record<string, CurrentValue> = {};
    const runtime = this.#devices.get(id);
    if (!runtime) return out;
    for (const [metric, v] of runtime.values) out[metric] = { value: valueToJson(runtime.capsByName.get(metric), v.value), ts: v.ts };
    return out;
  }

  info(id: string): DeviceInfo | undefined {
    const runtime = this.#devices.get(id);
    if (!runtime) return undefined;
    const r = runtime.record;
    return {
      id: r.id,
      name: r.name,
      type: r.type,
      model: r.model,
      firmware: r.firmware,
      capabilities: r.capabilities,
      online: runtime.online,
      lastSeen: r.lastSeen,
      createdAt: r.createdAt,
      room: r.room,
      ...(r.updates === true ? { updatable: true } : {}),
    };
  }

  list(): DeviceInfo[] {
    return [...this.#devices.keys()].sort().map((id) => this.info(id)!);
  }

  get onlineCount(): number {
    let n = 0;
    for (const runtime of this.#devices.values()) if (runtime.online) n += 1;
    return n;
  }

  /** A device the database has and memory does not (added by the CLI or another hub), taken in as reconcile() would. */
  #adopt(id: string): MaybePromise<Runtime | undefined> {
    let record: MaybePromise<DeviceRecord | undefined>;
    try {
      record = this.#store.getDevice(id);
    } catch {
      return undefined; // a failing database: refused as unknown now, the device retries [FP-2.3]
    }
    if (!isThenable(record)) return this.#adopted(id, record);
    let pending = this.#adopting.get(id); // a fleet reconnecting asks for each id once
    if (!pending) {
      pending = record.then((r) => this.#adopted(id, r), () => undefined).finally(() => this.#adopting.delete(id));
      this.#adopting.set(id, pending);
    }
    return pending;
  }

  #adopted(id: string, record: DeviceRecord | undefined): Runtime | undefined {
    if (!record || record.revokedAt !== null) return undefined;
    const known = this.#devices.get(id);
    if (known) return known;
    const runtime = this.#runtime(record);
    this.#devices.set(id, runtime);
    this.#bus.emit('device.updated', { device: this.info(id)! });
    return runtime;
  }

  #runtime(record: DeviceRecord): Runtime {
    return {
      record,
      capsById: new Map(record.capabilities.map((c) => [c.id, c])),
      capsByName: new Map(record.capabilities.map((c) => [c.name, c])),
      session: undefined,
      online: false,
      values: new Map(),
    };
  }

  #setOnline(runtime: Runtime, online: boolean): void {
    runtime.online = online;
    this.#bus.emit('availability', { device: this.info(runtime.record.id)!, online });
  }

  #drop(id: string, why: 'revoked' | 'removed'): void {
    const runtime = this.#devices.get(id);
    if (!runtime) return;
    runtime.session?.fail('HUB_ERR_REVOKED', `device "${id}" was ${why}`); // [FP-10.3]
    runtime.session = undefined;
    if (runtime.online) this.#setOnline(runtime, false);
    const device = this.info(id)!;
    this.#devices.delete(id);
    this.#bus.emit('device.removed', { deviceId: id, device });
  }
}
