import { OTA_LIMITS } from '../../protocol/ota-constants.js';
import type { Frame, HelloFrame } from '../../protocol/types.js';
import type { DeviceRegistry } from '../devices/device-registry.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import type { FirmwareImageRecord, FirmwareUpdateRecord } from '../storage/firmware-table.js';
import { allOf, andThen, isThenable } from '../storage/maybe-promise.js';
import type { FirmwareStoreContract, ImageBytesContract, MaybePromise } from '../storage/store-contract.js';
import { ChunkPacer } from './chunk-pacer.js';
import type { FirmwareControl, RolloutResult } from './firmware-control.js';
import { FileImageBytes, FirmwareImages, type LoadedImage } from './firmware-images.js';
import { FirmwareWrites } from './firmware-writes.js';
import { planRollout, type RolloutDevice, type RolloutTarget } from './rollout-plan.js';
import { imageInfo, updateStatus, type FirmwareImageInfo, type FirmwareUpdateStatus } from './update-status.js';
import { UpdateTransfer, type UpdateSession } from './update-transfer.js';

export type { FirmwareControl } from './firmware-control.js';

/** The store firmware updates run on: SQLite (HubStore, answers at once) or PostgreSQL (PgStore, Promises). */
export interface FirmwareStore {
  readonly firmware: FirmwareStoreContract;
  /** Every device, revoked ones included: what a rollout plans from on PostgreSQL (see #devices). */
  listDevices(): MaybePromise<(RolloutDevice & { revokedAt: number | null })[]>;
  /** SQLite: runs a write through the store's busy retry, at once. Absent (PostgreSQL): writes queue in order. */
  write?<T>(fn: () => T): T;
}

export interface FirmwareServiceOptions {
  dataDir: string;
  store: FirmwareStore;
  /** Where image bytes live; default files in `<dataDir>/firmware` (PostgreSQL: the database, shared by hubs). */
  imageBytes?: ImageBytesContract;
  registry: DeviceRegistry;
  bus: EventBus;
  /** Transfers running at once across the fleet (firmware.concurrency). */
  concurrency: number;
  /** UPDATE_OFFER chunkSize (firmware.chunkBytes), at most maxChunkBytes [FP-14.9]. */
  chunkBytes: number;
  /** Wait before offering again after a defer with retryAfterS 0 (firmware.deferSeconds) [FP-14.4]. */
  deferSeconds: number;
  maxImageBytes: number;
  /** Chunk bytes per second across all transfers (firmware.maxBytesPerSecond); 0 or absent: no limit. */
  maxBytesPerSecond?: number;
  now: () => number;
  /** Monotonic ms for the chunk pump's pacing (default performance.now). */
  clock?: () => number;
  log: Logger;
}

/**
 * Time the chunk pump may spend per event-loop turn, across all transfers, so ACKs and commands of other
 * devices never wait long behind chunks [FP-14.10]: a 16 KiB chunk costs some 50-100 us to frame and encrypt.
 */
const TURN_BUDGET_MS = 1;
/** Chunks per turn at most, whatever the clock says. */
const MAX_CHUNKS_PER_TURN = 16;
/**
 * Progress is saved at most this often per transfer (and always on a change of state, a disconnect and at
 * stop): the resume offset comes from the device's accept [FP-14.6], so the saved one is for display after a
 * restart, and a write per UPDATE_PROGRESS (hundreds a second in a rollout) delayed other devices' commits.
 */
const PROGRESS_SAVE_MS = 1000;
/**
 * Progress is announced in steps of this many percent (and always on a change of state): each announcement
 * is a retained MQTT publish of the device's update entity, and one per percent (400 a second in a rollout
 * of 10 transfers) cost the event loop more than the chunks themselves.
 */
const PROGRESS_STEP_PERCENT = 5;
/** How often the scheduler looks for work the CLI (or, on PostgreSQL, another hub) queued and for deferred updates whose time came. */
const TICK_MS = 1000;

/**
 * Firmware updates: the images, the rollout scheduler (at most `concurrency` transfers at once) and the device
 * side of section 14, driven by the device sessions (onHello, onFrame, onClose). Every state change is saved
 * before it is announced (`firmware.update` on the bus), so a restarted hub resumes where it stopped. On
 * PostgreSQL (writes and reads ordered by FirmwareWrites) a device that moves to another hub on the same
 * database resumes there from what it confirms [FP-14.6].
 */
export class FirmwareService implements FirmwareControl {
  readonly #o: FirmwareServiceOptions;
  readonly #images: FirmwareImages;
  /** Live sessions of devices whose HELLO set UPDATES [FP-14.1]. */
  readonly #sessions = new Map<string, UpdateSession>();
  readonly #transfers = new Map<string, UpdateTransfer>();
  #pumping = false;
  readonly #pacer: ChunkPacer;
  readonly #chunkBytes: number;
  /** When each update's progress was last saved (PROGRESS_SAVE_MS). */
  readonly #savedAt = new WeakMap<FirmwareUpdateRecord, number>();
  #timer: NodeJS.Timeout | undefined;
  /** Between stop() and the store closing, sessions still end: nothing is scheduled or saved then. */
  #running = false;
  readonly #db: FirmwareWrites;
  /** Sessions that ended, for onHello's read of the store that resolves after the close (PostgreSQL). */
  readonly #closed = new WeakSet<UpdateSession>();
  /** A pass of #schedule is running (it awaits the store on PostgreSQL); #again: another was asked for meanwhile. */
  #scheduling = false;
  #again = false;

  readonly maxImageBytes: number;

  constructor(o: FirmwareServiceOptions) {
    this.#o = o;
    this.maxImageBytes = o.maxImageBytes;
    this.#db = new FirmwareWrites(o.store.write && ((fn) => o.store.write!(fn)), o.log);
    this.#images = new FirmwareImages(o.imageBytes ?? new FileImageBytes(o.dataDir), () => o.store.firmware);
    this.#chunkBytes = Math.min(o.chunkBytes, OTA_LIMITS.maxChunkBytes);
    const clock = o.clock ?? (() => performance.now());
    this.#pacer = new ChunkPacer({ bytesPerSecond: o.maxBytesPerSecond ?? 0, turnBudgetMs: TURN_BUDGET_MS, maxChunksPerTurn: MAX_CHUNKS_PER_TURN, clock });
  }

  start(): void {
    this.#running = true;
    this.#timer = setInterval(() => this.#schedule(), TICK_MS);
    this.#timer.unref();
  }

  /** Saves every transfer's progress; on PostgreSQL resolves once the queued writes are done. */
  stop(): MaybePromise<void> {
    this.#running = false;
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const t of this.#transfers.values()) this.#persist(t);
    this.#transfers.clear();
    return this.#db.settled();
  }

  get #table(): FirmwareStoreContract {
    return this.#o.store.firmware;
  }

  // ---- the device side, called by DeviceSession ---------------------------------------------------

  /** After WELCOME: settles an update the HELLO reports on [FP-14.7], then offers work if any [FP-14.3]. */
  onHello(session: UpdateSession, hello: HelloFrame): void {
    if (!this.#running) return;
    const id = session.deviceId;
    const stale = this.#transfers.get(id);
    if (stale && stale.session !== session) this.#drop(stale);
    const settled = andThen(this.#db.read(() => this.#table.openUpdate(id)), (open) => {
      if (!this.#running || this.#closed.has(session)) return;
      if (open) {
        if (hello.firmware === open.version) this.#finish(open, 'done', null);
        else if (open.verified) this.#finish(open, 'rolled_back', `came back with ${hello.firmware}`);
        else if (hello.updates !== true) this.#finish(open, 'failed', 'not_updatable: its HELLO does not set UPDATES');
      }
      if (hello.updates === true) this.#sessions.set(id, session);
      else this.#sessions.delete(id);
      this.#schedule();
    });
    if (isThenable(settled)) settled.catch((err) => this.#o.log.error({ device: id, err: (err as Error).message }, 'reading the open firmware update failed'));
  }

  /** An update frame from the device; a problem string when it breaks the transfer rules [FP-14.8]. */
  onFrame(session: UpdateSession, frame: Frame): string | null {
    if (!this.#running || (frame.type !== 'update_answer' && frame.type !== 'update_progress' && frame.type !== 'update_result')) return null;
    const t = this.#transfers.get(session.deviceId);
    // Not the update running on this connection: a stale frame, ignored [FP-14.2].
    if (!t || t.session !== session || frame.updateId !== t.record.id) return null;
    const r = t.record;
    switch (frame.type) {
      case 'update_answer': {
        if (t.phase !== 'offered') return null;
        if (frame.decision === 'refuse') return this.#end(t, 'failed', `refused: ${frame.reason || 'no reason given'}`), null;
        if (frame.decision === 'defer') {
          r.retryAt = this.#o.now() + (frame.retryAfterS || this.#o.deferSeconds) * 1000;
          return this.#end(t, 'queued', `deferred: ${frame.reason || 'busy'}`), null;
        }
        const problem = t.accept(frame.offset, frame.window);
        if (problem) return problem;
        if (frame.offset > 0) r.resumes++;
        r.offset = frame.offset;
        r.reason = null;
        r.retryAt = null;
        this.#save(r, frame.offset === r.size ? 'verifying' : 'transferring');
        this.#pump();
        return null;
      }
      case 'update_progress': {
        if (t.phase !== 'sending') return null;
        const step = (offset: number) => Math.floor((offset * 100) / r.size / PROGRESS_STEP_PERCENT);
        const before = step(r.offset);
        const problem = t.progress(frame.offset, frame.window);
        if (problem) return problem;
        r.offset = frame.offset;
        if (frame.offset === r.size) {
          this.#save(r, 'verifying');
          this.#schedule(); // its slot is free
        } else {
          const now = this.#o.now();
          if (now - (this.#savedAt.get(r) ?? 0) >= PROGRESS_SAVE_MS) {
            this.#savedAt.set(r, now);
            this.#db.fire(() => this.#table.save(r, now));
          }
          if (step(r.offset) !== before) this.#announce(r);
          this.#pump();
        }
        return null;
      }
      case 'update_result': {
        if (frame.status === 'verified') {
          r.verified = true;
          r.offset = r.size;
          t.phase = 'verifying';
          this.#save(r, 'verifying');
          this.#schedule();
          return null;
        }
        this.#end(t, 'failed', `${frame.status}${frame.message ? `: ${frame.message}` : ''}`.slice(0, 255));
        return null;
      }
    }
  }

  /** The session ended: its transfer stops where the device last confirmed, to resume later [FP-14.6]. */
  onClose(session: UpdateSession): void {
    this.#closed.add(session);
    if (!this.#running) return;
    if (this.#sessions.get(session.deviceId) === session) this.#sessions.delete(session.deviceId);
    const t = this.#transfers.get(session.deviceId);
    if (t && t.session === session) this.#drop(t);
    this.#schedule();
  }

  // ---- FirmwareControl ------------------------------------------------------------------------------

  images(): MaybePromise<FirmwareImageInfo[]> {
    return andThen(this.#db.read(() => this.#table.images()), (images) => images.map(imageInfo));
  }

  addImage(bytes: Uint8Array, model: string, version: string): MaybePromise<FirmwareImageInfo> {
    return andThen(this.#db.write(() => this.#images.add(bytes, model, version, this.#o.now())), (record) => {
      for (const d of this.#o.registry.list()) if ((d.model || d.type) === model) this.#o.bus.emit('device.updated', { device: d });
      return imageInfo(record);
    });
  }

  update(target: RolloutTarget, version: string): MaybePromise<RolloutResult> {
    const plan = this.#db.read(() => andThen(this.#devices(), (devices) => planRollout(devices, target, version, this.#table)));
    return andThen(plan, ({ create, skipped }) => {
      const queued = allOf(create.map((c) => this.#queue(c.deviceId, c.image, c.fromVersion)));
      return andThen(queued, (list) => (this.#schedule(), { queued: list, skipped }));
    });
  }

  updates(limit: number, deviceId?: string): MaybePromise<FirmwareUpdateStatus[]> {
    return andThen(this.#db.read(() => this.#table.updates(limit, deviceId)), (updates) => updates.map(updateStatus));
  }

  latestVersion(model: string): MaybePromise<string | undefined> {
    return andThen(this.#db.read(() => this.#table.images()), (images) => {
      let latest: string | undefined;
      for (const i of images) if (i.model === model) latest = i.version;
      return latest;
    });
  }

  /**
   * The devices a rollout plans from: the registry's on SQLite (one hub); on PostgreSQL the database's, since
   * a device connected to another hub on it has its HELLO model and firmware there, not in this registry.
   */
  #devices(): MaybePromise<RolloutDevice[]> {
    if (this.#db.atOnce) return this.#o.registry.list();
    return andThen(this.#o.store.listDevices(), (devices) => devices.filter((d) => d.revokedAt === null));
  }

  /** Creates one device's update (a transfer of an older one stops first) and announces it. */
  #queue(deviceId: string, image: FirmwareImageRecord, fromVersion: string): MaybePromise<FirmwareUpdateStatus> {
    const running = this.#transfers.get(deviceId);
    if (running) this.#drop(running);
    const id = this.#db.write(() => this.#table.createUpdate(deviceId, image, fromVersion, this.#o.now()));
    return andThen(
      andThen(id, (created) => this.#table.update(created)),
      (record) => (this.#announce(record!), updateStatus(record!)),
    );
  }

  // ---- scheduling -----------------------------------------------------------------------------------

  /** Starts transfers while slots are free: resumes first, then the oldest queued [FP-14.6]. One pass at a time. */
  #schedule(): void {
    if (this.#scheduling) return void (this.#again = true);
    if (this.#busy() >= this.#o.concurrency || this.#sessions.size === 0) return;
    this.#scheduling = true;
    let pass: MaybePromise<void>;
    try {
      pass = andThen(this.#db.read(() => this.#table.openUpdates()), (open) => this.#startFrom(this.#ready(open), 0));
    } finally {
      if (!isThenable(pass!)) this.#scheduled();
    }
    if (isThenable(pass)) {
      pass.catch((err) => this.#o.log.error({ err: (err as Error).message }, 'scheduling firmware updates failed; will retry')).finally(() => this.#scheduled());
    }
  }

  #scheduled(): void {
    this.#scheduling = false;
    if (this.#again) {
      this.#again = false;
      this.#schedule();
    }
  }

  /** Transfers holding a slot: those not waiting for the device's verdict. */
  #busy(): number {
    let busy = 0;
    for (const t of this.#transfers.values()) if (t.phase !== 'verifying') busy++;
    return busy;
  }

  /** The open updates a live session of this hub can take now, resumes first, then oldest. */
  #ready(open: FirmwareUpdateRecord[]): FirmwareUpdateRecord[] {
    const now = this.#o.now();
    return open
      .filter((u) => u.state !== 'verifying' && this.#sessions.has(u.deviceId) && !this.#transfers.has(u.deviceId) && (u.retryAt === null || u.retryAt <= now))
      .sort((a, b) => Number(b.state === 'transferring') - Number(a.state === 'transferring') || a.id - b.id);
  }

  /** Offers ready[i], ready[i + 1], ... while slots are free, each once its image is loaded (from PostgreSQL: awaited). */
  #startFrom(ready: FirmwareUpdateRecord[], i: number): MaybePromise<void> {
    for (; i < ready.length; i++) {
      if (!this.#running || this.#busy() >= this.#o.concurrency) return;
      const u = ready[i]!;
      const image = this.#images.load(u.sha256);
      if (isThenable(image)) {
        const next = i + 1;
        return image.then((loaded) => (this.#offer(u, loaded), this.#startFrom(ready, next)));
      }
      this.#offer(u, image);
    }
  }

  #offer(u: FirmwareUpdateRecord, image: LoadedImage | undefined): void {
    const session = this.#sessions.get(u.deviceId);
    // The session ended, or another pass started it, while the image was read.
    if (!this.#running || !session || this.#transfers.has(u.deviceId)) return;
    if (!image) return this.#finish(u, 'failed', 'image_missing: its stored bytes are gone or damaged');
    const t = new UpdateTransfer(u, session, image, this.#chunkBytes);
    this.#transfers.set(u.deviceId, t);
    t.session.send(t.offer());
  }

  /** Runs a turn of the chunk pump soon, unless one is pending. */
  #pump(): void {
    if (this.#pumping || !this.#running) return;
    this.#pumping = true;
    setImmediate(() => this.#turn());
  }

  /**
   * One turn of the pump: chunks the windows allow, round-robin over transfers [FP-14.10], for as long as the
   * pacer's time slice lasts and no faster than maxBytesPerSecond; then the event loop reads sockets (other
   * devices' frames, their ACKs go out) before the next turn. TLS-encrypting chunks is main-thread work.
   */
  #turn(): void {
    this.#pumping = false;
    if (!this.#running) return;
    const wait = this.#pacer.waitMs(this.#chunkBytes);
    if (wait > 0) {
      this.#pumping = true;
      setTimeout(() => this.#turn(), wait).unref();
      return;
    }
    this.#pacer.beginTurn();
    let more = true;
    while (more) {
      more = false;
      for (const t of [...this.#transfers.values()]) {
        if (!t.canSend) continue;
        if (!this.#pacer.mayContinue(this.#chunkBytes)) return this.#pump();
        const frame = t.nextChunk();
        t.session.send(frame);
        this.#pacer.spent(frame.data.length);
        more = true;
        // Last in line for the next turn, so the turn's end does not always fall on the same transfers.
        const id = t.session.deviceId;
        if (this.#transfers.get(id) === t) {
          this.#transfers.delete(id);
          this.#transfers.set(id, t);
        }
      }
    }
  }

  // ---- state ----------------------------------------------------------------------------------------

  #save(r: FirmwareUpdateRecord, state: FirmwareUpdateRecord['state']): void {
    r.state = state;
    const now = this.#o.now();
    this.#db.fire(() => this.#table.save(r, now));
    this.#announce(r);
  }

  #persist(t: UpdateTransfer): void {
    const now = this.#o.now();
    this.#db.fire(() => this.#table.save(t.record, now));
  }

  /** Ends the transfer on this connection with the update in `state`. */
  #end(t: UpdateTransfer, state: 'queued' | 'failed', reason: string): void {
    this.#transfers.delete(t.session.deviceId);
    t.record.reason = reason;
    this.#save(t.record, state);
    if (state === 'failed') this.#o.log.warn({ device: t.session.deviceId, update: t.record.id, reason }, 'firmware update failed');
    this.#schedule();
  }

  #drop(t: UpdateTransfer): void {
    this.#transfers.delete(t.session.deviceId);
    this.#persist(t);
  }

  #finish(u: FirmwareUpdateRecord, state: 'done' | 'failed' | 'rolled_back', reason: string | null): void {
    u.reason = reason;
    if (state === 'done') u.offset = u.size;
    this.#save(u, state);
    this.#o.log.info({ device: u.deviceId, update: u.id, version: u.version, state, reason }, 'firmware update finished');
  }

  #announce(r: FirmwareUpdateRecord): void {
    this.#o.bus.emit('firmware.update', updateStatus(r));
  }
}
