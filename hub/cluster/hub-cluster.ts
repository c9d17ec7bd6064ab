import type { DeviceRegistry } from '../devices/device-registry.js';
import type { DeviceInfo, EventBus } from '../events.js';
import type { IngestPipeline } from '../ingest/ingest-pipeline.js';
import type { Logger } from '../logger.js';
import { jittered } from '../timers.js';
import { CLAIMS_CHANNEL, COMMANDS_CHANNEL, RESULTS_CHANNEL, type LoggedCommand, type PgCluster, type PgListener } from '../storage/pg/pg-cluster.js';
import type { CommandLogStatus, LatestValue } from '../storage/types.js';
import type { CommandOutcome } from '../events.js';

/** How often a hub records that it runs (hubs.seen_at). */
export const HUB_BEAT_MS = 2_000;
/** A hub whose beat is older than this is dead: the devices it held are offline (a living hub marks them). */
export const HUB_STALE_MS = 10_000;
/**
 * How often the owners and the latest values that changed are read, besides the notifications (which a lost
 * listener misses).
 */
export const OWNERS_EVERY_MS = 5_000;
/** How often they are re-read whole instead, a net under the reads of changes (also at start and after the listener reconnects). */
export const OWNERS_WHOLE_EVERY_MS = 10 * 60_000;
/** Devices per latestOf() query of a whole read. */
const LATEST_PAGE = 1000;

/** A forwarded command waits this much longer than the device's own timeout (the holder times it out first). */
const FORWARD_SLACK_MS = 2_000;

/** Who holds a device, as another hub sees it. */
export interface Holder {
  hubId: string;
  epoch: number;
  connected: boolean;
}

/** What the cluster needs of the command service: sending a command another hub logged and forwarded. */
export interface ForwardedSender {
  sendForwarded(id: number, c: LoggedCommand): Promise<CommandOutcome>;
}

export interface HubClusterOptions {
  hubId: string;
  store: PgCluster;
  registry: Pick<DeviceRegistry, 'session' | 'info' | 'refresh' | 'applyCommitted'>;
  ingest: Pick<IngestPipeline, 'release'>;
  bus: EventBus;
  log: Logger;
  now: () => number;
  /**
   * The database unreachable (no beat for half of HUB_STALE_MS): the gateway closes every device with 1013
   * and refuses new ones, so they move to a hub that can store (message); undefined once a beat works again.
   */
  onCutOff?: (message: string | undefined) => void;
  /** Default HUB_BEAT_MS, HUB_STALE_MS, OWNERS_EVERY_MS (tests go faster). */
  timing?: { beatMs: number; staleMs: number; ownersMs: number };
}

/**
 * One hub among several on one PostgreSQL database (issue #16 section 2):
 * - hands a device over within a second: a claim by another hub (NOTIFY) makes this one close its
 *   connection (4009) and stop committing for it, instead of waiting for its next fenced commit;
 * - knows who holds every device and whether that hub lives (its beat), so the API, the dashboard and the
 *   broker show every device with its holder and availability;
 * - marks a dead hub's devices offline (one living hub does, on the broker too);
 * - forwards commands for devices held elsewhere to their holder and returns its answer.
 * Constructing it does no I/O.
 */
export class HubCluster {
  readonly #o: HubClusterOptions;
  readonly #timing: { beatMs: number; staleMs: number; ownersMs: number };
  readonly #holders = new Map<string, Holder>();
  /** Epoch of each device this hub claimed and still holds. */
  readonly #mine = new Map<string, number>();
  /** Connections ended and not yet marked so in the database (device -> epoch). */
  readonly #ended = new Map<string, number>();
  readonly #hubs = new Map<string, { seenAt: number; stopped: boolean }>();
  readonly #waiting = new Map<number, (answer: { status: CommandLogStatus; message: string }) => void>();
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #running = new Set<Promise<unknown>>();
  #listener: PgListener | undefined;
  #sender: ForwardedSender | undefined;
  #startedAt = 0;
  #stopping = false;
  #failing = false;
  #unsubscribe: (() => void) | undefined;
  #lastBeat = 0;
  /** When the beat watch last ran, and when it last found the event loop had stalled (see #watchBeat). */
  #lastWatch = 0;
  #stallEnd = 0;
  #cutOff = false;
  /** Horizons of the last reads of device_owner and of device_state (PgCluster); undefined: read whole next. */
  #ownersSince: string | undefined;
  #latestSince: string | undefined;
  /** When the next whole read is due (see OWNERS_WHOLE_EVERY_MS). */
  #nextWhole = 0;

  constructor(o: HubClusterOptions) {
    this.#o = o;
    this.#timing = o.timing ?? { beatMs: HUB_BEAT_MS, staleMs: HUB_STALE_MS, ownersMs: OWNERS_EVERY_MS };
  }

  get hubId(): string {
    return this.#o.hubId;
  }

  /** The command service that sends commands forwarded to this hub (set once, before start). */
  set sender(s: ForwardedSender) {
    this.#sender = s;
  }

  async start(): Promise<void> {
    this.#startedAt = this.#o.now();
    const listener = (this.#listener = this.#o.store.listener());
    listener.on('notification', (channel, payload) => this.#onNotification(channel, payload));
    listener.on('listening', (again) => {
      if (!again) return;
      this.#o.log.warn('PostgreSQL listener connected again: re-reading device owners');
      this.#ownersSince = undefined;
      this.#track(this.#refreshOwners());
    });
    listener.on('lost', (err) => this.#o.log.warn({ err: err.message }, 'PostgreSQL listener connection lost; connecting again'));
    await listener.start();
    await this.#beat();
    await this.#refreshOwners();
    this.#every(this.#timing.beatMs, 'beat', () => this.#beat());
    this.#lastWatch = this.#o.now();
    const watch = setInterval(() => this.#watchBeat(), this.#watchEveryMs);
    watch.unref();
    this.#timers.push(watch);
    this.#every(this.#timing.ownersMs, 'owners', () => this.#refreshOwners());
    this.#unsubscribe = this.#o.bus.on('availability', ({ device, online }) => {
      if (!online) this.#disconnected(device.id);
    });
  }

  /** Marks this hub's devices not connected and itself stopped (after the device gateway closed them). */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#unsubscribe?.();
    for (const t of this.#timers.splice(0)) clearInterval(t);
    for (const resolve of this.#waiting.values()) resolve({ status: 'offline', message: 'hub shutting down' });
    this.#waiting.clear();
    await Promise.allSettled([...this.#running]);
    await this.#o.store.stopped(this.#o.hubId).catch((err: Error) => this.#o.log.warn({ err: err.message }, 'could not mark this hub stopped in PostgreSQL'));
    await this.#listener?.stop();
  }

  /** This hub claimed the device under `epoch` (DeviceClaimer, at HELLO). */
  claimed(deviceId: string, epoch: number): void {
    const known = this.#holders.get(deviceId);
    this.#mine.set(deviceId, epoch);
    if (known && known.epoch > epoch && known.hubId !== this.#o.hubId) {
      // Another hub's newer claim was announced before this one's answer came: it is lost already (after
      // the WELCOME being sent now, so the device sees a plain 4009).
      const { hubId, epoch: theirs } = known;
      setImmediate(() => this.#mine.get(deviceId) === epoch && this.#letGo(deviceId, hubId, theirs));
      return;
    }
    this.#holders.set(deviceId, { hubId: this.#o.hubId, epoch, connected: true });
  }

  /** The living hub, other than this one, that has the device connected; undefined when none does. */
  remoteHolder(deviceId: string): string | undefined {
    const h = this.#holders.get(deviceId);
    return h && h.connected && h.hubId !== this.#o.hubId && this.#alive(h.hubId) ? h.hubId : undefined;
  }

  /** `info` as every hub shows it: online when this hub or another living one has it connected, and its holder. */
  view(info: DeviceInfo): DeviceInfo & { hub: string | null } {
    if (info.online) return { ...info, hub: this.#o.hubId };
    const remote = this.remoteHolder(info.id);
    return { ...info, online: remote !== undefined, hub: remote ?? null };
  }

  /** Whether a hub other than this one beats (the MQTT bridge then leaves `<base>/bridge/state` online at stop). */
  othersAlive(): boolean {
    for (const id of this.#hubs.keys()) if (id !== this.#o.hubId && this.#alive(id)) return true;
    return false;
  }

  /**
   * Whether this hub is the caretaker: the living hub with the lowest id (in string order). On a broker the hubs
   * share, it publishes the retained topics of the devices no hub holds, and the installation's device list.
   * Two hubs may both think so for a beat while one starts or dies: they publish the same retained values.
   */
  caretaker(): boolean {
    const self = this.#o.hubId;
    for (const id of this.#hubs.keys()) if (id < self && this.#alive(id)) return false;
    return true;
  }

  /** The hubs on this database with their state, for GET /api/hub. */
  hubs(): Array<{ id: string; alive: boolean; seenAt: number }> {
    return [...this.#hubs].map(([id, h]) => ({ id, alive: id === this.#o.hubId || this.#alive(id), seenAt: h.seenAt })).sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * Sends logged command `id` through the hub holding the device and resolves with its answer; 'timeout'
   * when none comes within the device's timeout and some slack.
   */
  forward(id: number, hubId: string, timeoutMs: number): Promise<{ status: CommandLogStatus; message: string }> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        resolve({ status: 'timeout', message: `hub ${hubId} did not answer within ${timeoutMs + FORWARD_SLACK_MS} ms` });
      }, timeoutMs + FORWARD_SLACK_MS);
      this.#waiting.set(id, (answer) => (clearTimeout(timer), resolve(answer)));
      this.#o.store.forward(id, hubId).catch((err: Error) => {
        this.#waiting.delete(id);
        clearTimeout(timer);
        resolve({ status: 'failed', message: `could not reach hub ${hubId}: ${err.message}` });
      });
    });
  }

  #onNotification(channel: string, payload: string): void {
    const parts = payload.split(' ');
    if (channel === CLAIMS_CHANNEL) {
      const [deviceId, hubId, epoch, connected] = [parts[0]!, parts[1]!, Number(parts[2]), parts[3] === '1'];
      this.#observe({ deviceId, hubId, epoch, connected }, true);
    } else if (channel === COMMANDS_CHANNEL) {
      if (parts[1] === this.#o.hubId) this.#track(this.#runForwarded(Number(parts[0])));
    } else if (channel === RESULTS_CHANNEL) {
      const resolve = this.#waiting.get(Number(parts[0]));
      if (!resolve) return;
      this.#waiting.delete(Number(parts[0]));
      resolve({ status: parts[1] as CommandLogStatus, message: parts.slice(2).join(' ') });
    }
  }

  /** A holder row seen (notification or re-read): newer epochs win; a device another hub claimed is let go. */
  #observe(row: { deviceId: string; hubId: string; epoch: number; connected: boolean }, heard = false): void {
    const known = this.#holders.get(row.deviceId);
    if (known && known.epoch > row.epoch) return;
    this.#holders.set(row.deviceId, { hubId: row.hubId, epoch: row.epoch, connected: row.connected });
    // A hub heard claiming is alive, even before this one read its first beat.
    if (heard && row.connected) {
      const h = this.#hubs.get(row.hubId);
      if (!h || h.stopped || h.seenAt < this.#o.now() - this.#timing.beatMs) this.#hubs.set(row.hubId, { seenAt: this.#o.now(), stopped: false });
    }
    // Claimed elsewhere after a HELLO stored there: its capabilities may be new to this hub.
    // (Re-reads of the owner table leave that to the registry's own reconcile.)
    if (heard && row.hubId !== this.#o.hubId && row.connected && (!known || known.epoch < row.epoch)) {
      const refreshed = this.#o.registry.refresh(row.deviceId);
      if (refreshed instanceof Promise) this.#track(refreshed);
    }
    const mine = this.#mine.get(row.deviceId);
    if (mine !== undefined && row.epoch > mine && row.hubId !== this.#o.hubId) this.#letGo(row.deviceId, row.hubId, row.epoch);
  }

  /** Another hub claimed the device: nothing more is committed for it here, and its connection closes (4009). */
  #letGo(deviceId: string, hubId: string, epoch: number): void {
    this.#mine.delete(deviceId);
    this.#o.ingest.release(deviceId);
    const session = this.#o.registry.session(deviceId);
    this.#o.log.info({ device: deviceId, holder: hubId, epoch }, 'another hub claimed this device; closing its connection here (4009)');
    session?.fail('HUB_ERR_REPLACED', `hub ${hubId} holds this device now`);
  }

  #disconnected(deviceId: string): void {
    const epoch = this.#mine.get(deviceId);
    if (epoch === undefined) return;
    this.#mine.delete(deviceId);
    const h = this.#holders.get(deviceId);
    if (h && h.epoch === epoch) h.connected = false;
    if (this.#stopping) return; // stop() marks them all at once
    this.#ended.set(deviceId, epoch);
    if (this.#ended.size === 1) setImmediate(() => this.#flushEnded());
  }

  /** The connections that ended in this turn of the event loop, marked in one statement. */
  #flushEnded(): void {
    if (this.#ended.size === 0 || this.#stopping) return;
    const ended = new Map(this.#ended);
    this.#ended.clear();
    this.#track(this.#o.store.disconnected(this.#o.hubId, ended).catch((err: Error) => this.#failed('mark devices disconnected', err)));
  }

  async #runForwarded(id: number): Promise<void> {
    const logged = await this.#o.store.unanswered(id);
    if (!logged || !this.#sender) return; // answered meanwhile (timed out at the sender)
    const outcome = await this.#sender.sendForwarded(id, logged);
    await this.#o.store.answer(id, outcome.status, outcome.message);
  }

  /** Whether this hub cut itself off: it cannot reach the database (see onCutOff). */
  get cutOff(): boolean {
    return this.#cutOff;
  }

  get #watchEveryMs(): number {
    return Math.max(100, this.#timing.beatMs / 4);
  }

  /**
   * Cuts this hub off when no beat was answered for half the stale time. A tick that comes late means this
   * hub's own event loop stalled (a busy process on a loaded machine: 9 s at the caretaker hub in bench
   * devices100k), when no answer could be read: the time then counts again from the end of the stall, and a
   * database that answers is not taken for one that does not.
   */
  #watchBeat(): void {
    const now = this.#o.now();
    if (now - this.#lastWatch > 2 * this.#watchEveryMs) this.#stallEnd = now;
    this.#lastWatch = now;
    const limit = this.#timing.staleMs / 2;
    const since = now - Math.max(this.#lastBeat, this.#stallEnd);
    if (this.#cutOff || this.#stopping || since <= limit) return;
    this.#cutOff = true;
    const message = `this hub cannot reach the database (no answer for ${limit} ms); connect to another hub of the installation`;
    this.#o.log.error({ sinceMs: now - this.#lastBeat }, 'PostgreSQL unreachable: closing every device (1013) and refusing new ones until it answers again');
    this.#o.onCutOff?.(message);
  }

  async #beat(): Promise<void> {
    const hubs = await this.#o.store.beat(this.#o.hubId, this.#o.now(), this.#startedAt);
    this.#lastBeat = this.#o.now();
    if (this.#cutOff) {
      this.#cutOff = false;
      this.#o.log.warn('PostgreSQL answers again: taking devices');
      this.#o.onCutOff?.(undefined);
    }
    this.#hubs.clear();
    for (const [id, h] of hubs) this.#hubs.set(id, h);
    if (this.#failing) this.#o.log.warn('PostgreSQL reachable again for the hub beat');
    this.#failing = false;
    for (const [id, h] of hubs) {
      if (id === this.#o.hubId || h.stopped || this.#alive(id)) continue;
      if (![...this.#holders.values()].some((d) => d.hubId === id && d.connected)) continue;
      const released = await this.#o.store.releaseDead(id);
      if (released.length > 0) this.#o.log.warn({ hub: id, devices: released.length }, 'a hub stopped beating; its devices are offline until they connect to another');
      for (const deviceId of released) {
        const holder = this.#holders.get(deviceId);
        if (holder?.hubId === id) holder.connected = false;
        const info = this.#o.registry.info(deviceId);
        if (info && !info.online) this.#o.bus.emit('availability', { device: info, online: false });
      }
      for (const holder of this.#holders.values()) if (holder.hubId === id) holder.connected = false;
    }
  }

  /**
   * Reads the owners changed since the previous read, then the latest values of the devices other hubs
   * committed since (their commits never pass this hub's ingest), so this hub's API shows their state within
   * OWNERS_EVERY_MS; at a cost in proportion to what changed, not to the fleet. Reads it all instead at start,
   * after the listener reconnects and every OWNERS_WHOLE_EVERY_MS.
   */
  async #refreshOwners(): Promise<void> {
    const { store, hubId } = this.#o;
    if (this.#ownersSince === undefined || this.#latestSince === undefined || this.#o.now() >= this.#nextWhole) {
      const latestSince = this.#latestSince;
      const owners = await store.owners();
      for (const row of owners.rows) this.#observe(row);
      const remote = [...this.#holders.keys()].filter((id) => this.remoteHolder(id) !== undefined);
      // A page of devices per query, the event loop free between them: in one piece, 83,000 devices' values
      // held each hub's loop for seconds (bench devices100k). The first page's horizon is the earliest.
      let wholeHorizon: string | undefined;
      for (let i = 0; i === 0 || i < remote.length; i += LATEST_PAGE) {
        const page = await store.latestOf(remote.slice(i, i + LATEST_PAGE));
        wholeHorizon ??= page.horizon;
        this.#apply(page.latest);
      }
      // Changes since the previous read too: those of devices no longer connected anywhere.
      const changed = latestSince === undefined ? undefined : await store.latestChanged(latestSince, hubId);
      if (changed) this.#apply(changed.latest);
      [this.#ownersSince, this.#latestSince] = [owners.horizon, changed?.horizon ?? wholeHorizon];
      this.#nextWhole = this.#o.now() + jittered(OWNERS_WHOLE_EVERY_MS);
      return;
    }
    const owners = await store.owners(this.#ownersSince);
    for (const row of owners.rows) this.#observe(row);
    const changed = await store.latestChanged(this.#latestSince, hubId);
    this.#apply(changed.latest);
    [this.#ownersSince, this.#latestSince] = [owners.horizon, changed.horizon];
  }

  #apply(latest: ReadonlyMap<string, LatestValue[]>): void {
    for (const [id, values] of latest) this.#o.registry.applyCommitted(id, values, undefined);
  }

  #alive(hubId: string): boolean {
    const h = this.#hubs.get(hubId);
    return h !== undefined && !h.stopped && this.#o.now() - h.seenAt <= this.#timing.staleMs;
  }

  #every(ms: number, what: string, task: () => Promise<void>): void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      this.#track(task().catch((err: Error) => this.#failed(what, err)).finally(() => (busy = false)));
    }, ms);
    timer.unref();
    this.#timers.push(timer);
  }

  #failed(what: string, err: Error): void {
    if (this.#failing) return;
    this.#failing = true;
    this.#o.log.warn({ err: err.message, task: what }, 'PostgreSQL unreachable for the hubs table; retrying (logged once until it works)');
  }

  #track<T>(p: Promise<T>): void {
    const t = p.catch((err: Error) => this.#failed('notification', err));
    this.#running.add(t);
    void t.finally(() => this.#running.delete(t));
  }
}
