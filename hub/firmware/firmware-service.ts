import { OTA_LIMITS } from '../../protocol/ota-constants.js';
import type { Frame, HelloFrame } from '../../protocol/types.js';
import type { DeviceRegistry } from '../devices/device-registry.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import type { FirmwareTable, FirmwareUpdateRecord } from '../storage/firmware-table.js';
import type { HubStore } from '../storage/hub-store.js';
import { ChunkPacer } from './chunk-pacer.js';
import { FirmwareError } from './firmware-error.js';
import { FirmwareImages } from './firmware-images.js';
import { planRollout, type RolloutTarget } from './rollout-plan.js';
import { imageInfo, updateStatus, type FirmwareImageInfo, type FirmwareUpdateStatus } from './update-status.js';
import { UpdateTransfer, type UpdateSession } from './update-transfer.js';

export interface FirmwareServiceOptions {
  dataDir: string;
  store: HubStore;
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

/** What the HTTP API and the MQTT bridge ask of firmware updates (through the facade). */
export interface FirmwareControl {
  /** Largest image addImage takes from the API (firmware.maxImageBytes). */
  readonly maxImageBytes: number;
  images(): FirmwareImageInfo[];
  addImage(bytes: Uint8Array, model: string, version: string): FirmwareImageInfo;
  /** Queues updates to `version`; throws FirmwareError (unknown device, model or version). */
  update(target: RolloutTarget, version: string): { queued: FirmwareUpdateStatus[]; skipped: { device: string; reason: string }[] };
  /** The newest updates, of one device when given, newest first. */
  updates(limit: number, deviceId?: string): FirmwareUpdateStatus[];
  /** The version each model's newest image has (Home Assistant's latest_version). */
  latestVersion(model: string): string | undefined;
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
/** How often the scheduler looks for work the CLI queued and for deferred updates whose time came. */
const TICK_MS = 1000;

/**
 * Firmware updates: the images, the rollout scheduler (at most `concurrency` transfers at once) and the device
 * side of section 14, driven by the device sessions (onHello, onFrame, onClose). Every state change is saved
 * before it is announced (`firmware.update` on the bus), so a restarted hub resumes where it stopped.
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

  readonly maxImageBytes: number;

  constructor(o: FirmwareServiceOptions) {
    this.#o = o;
    this.maxImageBytes = o.maxImageBytes;
    this.#images = new FirmwareImages(o.dataDir, () => o.store.firmware);
    this.#chunkBytes = Math.min(o.chunkBytes, OTA_LIMITS.maxChunkBytes);
    const clock = o.clock ?? (() => performance.now());
    this.#pacer = new ChunkPacer({ bytesPerSecond: o.maxBytesPerSecond ?? 0, turnBudgetMs: TURN_BUDGET_MS, maxChunksPerTurn: MAX_CHUNKS_PER_TURN, clock });
  }

  start(): void {
    this.#running = true;
    this.#timer = setInterval(() => this.#schedule(), TICK_MS);
    this.#timer.unref();
  }

  stop(): void {
    this.#running = false;
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const t of this.#transfers.values()) this.#persist(t);
    this.#transfers.clear();
  }

  get #table(): FirmwareTable {
    return this.#o.store.firmware;
  }

  // ---- the device side, called by DeviceSession ---------------------------------------------------

  /** After WELCOME: settles an update the HELLO reports on [FP-14.7], then offers work if any [FP-14.3]. */
  onHello(session: UpdateSession, hello: HelloFrame): void {
    if (!this.#running) return;
    const id = session.deviceId;
    const stale = this.#transfers.get(id);
    if (stale && stale.session !== session) this.#drop(stale);
    const open = this.#table.openUpdate(id);
    if (open) {
      if (hello.firmware === open.version) this.#finish(open, 'done', null);
      else if (open.verified) this.#finish(open, 'rolled_back', `came back with ${hello.firmware}`);
      else if (hello.updates !== true) this.#finish(open, 'failed', 'not_updatable: its HELLO does not set UPDATES');
    }
    if (hello.updates === true) this.#sessions.set(id, session);
    else this.#sessions.delete(id);
    this.#schedule();
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
            this.#o.store.write(() => this.#table.save(r, now));
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
    if (!this.#running) return;
    if (this.#sessions.get(session.deviceId) === session) this.#sessions.delete(session.deviceId);
    const t = this.#transfers.get(session.deviceId);
    if (t && t.session === session) this.#drop(t);
    this.#schedule();
  }

  // ---- FirmwareControl ------------------------------------------------------------------------------

  images(): FirmwareImageInfo[] {
    return this.#table.images().map(imageInfo);
  }

  addImage(bytes: Uint8Array, model: string, version: string): FirmwareImageInfo {
    const record = this.#o.store.write(() => this.#images.add(bytes, model, version, this.#o.now()));
    for (const d of this.#o.registry.list()) if ((d.model || d.type) === model) this.#o.bus.emit('device.updated', { device: d });
    return imageInfo(record);
  }

  update(target: RolloutTarget, version: string): { queued: FirmwareUpdateStatus[]; skipped: { device: string; reason: string }[] } {
    const plan = planRollout(this.#o.registry.list(), target, version, this.#table);
    const queued: FirmwareUpdateStatus[] = [];
    for (const c of plan.create) {
      const running = this.#transfers.get(c.deviceId);
      if (running) this.#drop(running);
      const id = this.#o.store.write(() => this.#table.createUpdate(c.deviceId, c.image, c.fromVersion, this.#o.now()));
      const record = this.#table.update(id)!;
      queued.push(updateStatus(record));
      this.#announce(record);
    }
    this.#schedule();
    return { queued, skipped: plan.skipped };
  }

  updates(limit: number, deviceId?: string): FirmwareUpdateStatus[] {
    return this.#table.updates(limit, deviceId).map(updateStatus);
  }

  latestVersion(model: string): string | undefined {
    let latest: string | undefined;
    for (const i of this.#table.images()) if (i.model === model) latest = i.version;
    return latest;
  }

  // ---- scheduling -----------------------------------------------------------------------------------

  /** Starts transfers while slots are free: resumes first, then the oldest queued [FP-14.6]. */
  #schedule(): void {
    let busy = 0;
    for (const t of this.#transfers.values()) if (t.phase !== 'verifying') busy++;
    if (busy >= this.#o.concurrency || this.#sessions.size === 0) return;
    const now = this.#o.now();
    const ready = this.#table
      .openUpdates()
      .filter((u) => u.state !== 'verifying' && this.#sessions.has(u.deviceId) && !this.#transfers.has(u.deviceId) && (u.retryAt === null || u.retryAt <= now))
      .sort((a, b) => Number(b.state === 'transferring') - Number(a.state === 'transferring') || a.id - b.id);
    for (const u of ready) {
      if (busy >= this.#o.concurrency) break;
      const image = this.#images.load(u.sha256);
      if (!image) {
        this.#finish(u, 'failed', 'image_missing: its file in the data directory is gone or damaged');
        continue;
      }
      const t = new UpdateTransfer(u, this.#sessions.get(u.deviceId)!, image, this.#chunkBytes);
      this.#transfers.set(u.deviceId, t);
      busy++;
      t.session.send(t.offer());
    }
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
    this.#o.store.write(() => this.#table.save(r, this.#o.now()));
    this.#announce(r);
  }

  #persist(t: UpdateTransfer): void {
    this.#o.store.write(() => this.#table.save(t.record, this.#o.now()));
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
