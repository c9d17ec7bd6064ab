// One simulated device: the reference implementation of the device side of firmware-protocol.md.
// Behaviour only: bytes and sockets live in DeviceConnection, the delivery rules in Delivery and Outbox.
import { join } from 'node:path';
import { CLOSE_CODES, DEFAULT_COMMAND_TIMEOUT_MS } from '../protocol/index.js';
import type { CommandFrame, CommandResultFrame, ErrorFrame, Frame, WelcomeFrame } from '../protocol/index.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { DeviceConnection, type ConnectionHandler } from './connection.js';
import { Delivery } from './delivery.js';
import { newDeviceCounters, type DeviceCounters } from './device-counters.js';
import { OtaClient } from './ota-client.js';
import type { OtaFaults } from './ota-faults.js';
import { LatencyHistogram } from './latency-histogram.js';
import type { DeviceModel } from './models/model.js';
import { commandValueProblem } from './models/values.js';
import { DEFAULT_OUTBOX_BOUNDS, Outbox, type OutboxBounds } from './outbox.js';
import { Rng } from './rng.js';
import { SendRecord } from './send-record.js';
import { StateStore } from './state-store.js';
import { TypedEmitter } from '../protocol/typed-emitter.js';
import { Watchdog } from './watchdog.js';

export type { DeviceCounters } from './device-counters.js';

/** Heartbeat assumed until a WELCOME names one [FP-6.2]. */
const DEFAULT_HEARTBEAT_MS = 30_000;
/** Silence, in heartbeats, after which the hub is presumed dead [FP-10.1]. */
const SILENT_HEARTBEATS = 3;
/** A rate-limited device waits at least this long before reconnecting [FP-9.2]. */
const RATE_LIMITED_FLOOR_MS = 1000;
/** How long stop() waits for the hub to answer the closing handshake before cutting the connection. */
const CLOSE_HANDSHAKE_MS = 2000;
/** Closes that mean "a frame of yours was refused": drop it rather than resend it forever [FP-7.5, FP-11.1]. */
const REFUSED_FRAME_CLOSES: ReadonlySet<number> = new Set([CLOSE_CODES.CAPABILITY_VIOLATION, CLOSE_CODES.INVALID_PAYLOAD, CLOSE_CODES.LIMIT_EXCEEDED, CLOSE_CODES.MESSAGE_TOO_BIG]);

export interface SimDeviceOptions {
  id: string;
  token: string;
  model: DeviceModel;
  /**
   * `wss://host:port` (or `ws://` for tests), or several hubs of one installation: each reconnect goes to the
   * next address in the list [FP-10.8].
   */
  hubUrl: string | readonly string[];
  /** With several hubs: the index of the first one dialled (a fleet spreads its devices; default 0). */
  firstHub?: number;
  ca?: string | Buffer;
  insecure?: boolean;
  clock?: Clock;
  /** Seeds this device's randomness together with its id (default 'hearth'). */
  seed?: string | number;
  /** Readings per second; 0 sends only on sendNow() (default 1). */
  rate?: number;
  backoff?: BackoffOptions;
  buffer?: Partial<OutboxBounds>;
  /** Directory for the state (snapshot and write-ahead journal); none: state lives in memory only. */
  stateDir?: string;
  /** With stateDir: also keep `device-<id>.record.jsonl` there, every journal line, never compacted. */
  journalRecord?: boolean;
  /** Journal size at which it is folded into the snapshot, bytes (default 4 MiB). */
  compactBytes?: number;
  /** Keep a SendRecord of every generated item and every send (tests). */
  recordSent?: boolean;
  /** Firmware-update faults to inject (section 14); every device accepts updates. */
  ota?: OtaFaults;
}

/** 'revoked' and 'incompatible' (close 4010 / 4001) are final: the device does not reconnect. */
export type DeviceState = 'idle' | 'connecting' | 'greeting' | 'online' | 'waiting' | 'stopping' | 'stopped' | 'revoked' | 'incompatible';

export interface SimDeviceEvents {
  online: WelcomeFrame;
  offline: { code: number; reason: string; httpStatus?: number };
  /** A reconnect is scheduled: its delay, the attempt number and the backoff ceiling it was drawn under. */
  waiting: { delayMs: number; attempt: number; ceilingMs: number };
  ack: { seq: number; frames: number };
  command: { command: CommandFrame; result: CommandResultFrame };
  'hub-error': ErrorFrame;
  drop: { seq: number; items: number };
}

/** One simulated device. The constructor only assigns; start() loads state and dials, stop() drains and closes. */
export class SimDevice extends TypedEmitter<SimDeviceEvents> implements ConnectionHandler {
  readonly id: string;
  readonly model: DeviceModel;
  readonly counters: DeviceCounters = newDeviceCounters();
  readonly latency = new LatencyHistogram();
  readonly record: SendRecord | null;
  readonly outbox: Outbox;
  /** The update agent [FP-14]; `ota.firmware` is the version HELLO reports. */
  readonly ota: OtaClient;
  /** The hub's last ERROR frame and the last refusal, for logs. */
  lastHubError: ErrorFrame | null = null;
  lastRefusal: { status: number; code: string } | null = null;
  readonly #o: SimDeviceOptions;
  readonly #clock: Clock;
  readonly #rng: Rng;
  readonly #backoff: Backoff;
  readonly #store: StateStore | null;
  readonly #delivery: Delivery;
  readonly #watchdog: Watchdog;
  #modelState: unknown = undefined;
  #lifecycle: 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' | 'revoked' | 'incompatible' = 'idle';
  #stopped: Promise<void> | null = null;
  #session: 'none' | 'connecting' | 'greeting' | 'online' = 'none';
  #conn: DeviceConnection | null = null;
  readonly #hubs: readonly string[];
  #hubIndex: number;
  #clockOffset = 0;
  #helloAt = 0;
  #welcomes = 0;
  #commandTimeoutMs = DEFAULT_COMMAND_TIMEOUT_MS;
  #tickAt = 0;
  #tickTimer: TimerHandle | null = null;
  #reconnectTimer: TimerHandle | null = null;
  #closed: (() => void) | null = null;

  constructor(options: SimDeviceOptions) {
    super();
    this.#o = options;
    this.id = options.id;
    this.model = options.model;
    this.#clock = options.clock ?? systemClock;
    const seed = `${options.seed ?? 'hearth'}/${options.id}`;
    this.#rng = new Rng(seed);
    this.#backoff = new Backoff(new Rng(`${seed}/backoff`), options.backoff);
    this.#hubs = typeof options.hubUrl === 'string' ? [options.hubUrl] : [...options.hubUrl];
    if (this.#hubs.length === 0) throw new Error(`device ${options.id}: no hub address`);
    this.#hubIndex = Math.abs(Math.trunc(options.firstHub ?? 0)) % this.#hubs.length;
    this.record = options.recordSent === true ? new SendRecord() : null;
    this.outbox = new Outbox({ ...DEFAULT_OUTBOX_BOUNDS, ...options.buffer }, {
      drop: (entry) => {
        this.counters.drops++;
        this.counters.droppedItems += entry.items;
        this.record?.dropped.add(entry.seq);
        this.emit('drop', { seq: entry.seq, items: entry.items });
      },
      renumber: (moves) => this.record?.renumber(moves),
      journal: (record) => this.#store?.append(record),
    });
    this.#store = options.stateDir === undefined ? null : new StateStore(options.stateDir, options.id, this.#clock, () => this.outbox.snapshot(), {
      compactBytes: options.compactBytes,
      recordFile: options.journalRecord === true ? join(options.stateDir, `device-${options.id}.record.jsonl`) : undefined,
    });
    this.#delivery = new Delivery({ clock: this.#clock, outbox: this.outbox, counters: this.counters, latency: this.latency, record: this.record });
    this.ota = new OtaClient(options.model.firmware, options.ota ?? {}, {
      send: (frame) => this.#conn?.send(frame),
      drop: () => this.#conn?.terminate(),
      reboot: () => this.#conn?.close(CLOSE_CODES.GOING_AWAY, 'rebooting into new firmware'),
    });
    this.#watchdog = new Watchdog(this.#clock, () => {
      // Nothing heard for 3 heartbeats: the hub or the path is dead [FP-10.1].
      this.counters.watchdogTimeouts++;
      this.#conn?.terminate();
    });
  }

  get state(): DeviceState {
    if (this.#lifecycle === 'starting') return 'idle';
    if (this.#lifecycle !== 'running') return this.#lifecycle;
    return this.#session === 'none' ? 'waiting' : this.#session;
  }

  /** How long the hub waits for a COMMAND_RESULT this session: WELCOME's (1.1) or the 1.0 default [FP-7.7]. */
  get commandTimeoutMs(): number {
    return this.#commandTimeoutMs;
  }

  /** The hub address the device dials next, or is connected to [FP-10.8]. */
  get hubUrl(): string {
    return this.#hubs[this.#hubIndex]!;
  }

  get online(): boolean {
    return this.#session === 'online';
  }

  /** Frames held unacknowledged plus samples waiting in the offline BATCH. */
  get pending(): number {
    return this.outbox.length + this.outbox.pendingSamples;
  }

  /** Readings, samples and events not yet acknowledged. */
  get pendingItems(): number {
    let items = this.outbox.pendingSamples;
    for (const e of this.outbox.entries()) items += e.items;
    return items;
  }

  /** The device clock: local time corrected by the last WELCOME.hubTime [FP-8.6]. */
  deviceTime(): number {
    return Math.round(this.#clock.now() + this.#clockOffset);
  }

  /** Loads the state file (if any), starts the reading timer and dials the hub. */
  async start(): Promise<void> {
    if (this.#lifecycle !== 'idle') throw new Error(`device ${this.id} already started`);
    this.#lifecycle = 'starting';
    const saved = this.#store?.load() ?? null;
    if (saved !== null) this.outbox.restore(saved);
    this.#modelState = this.model.init(this.deviceTime(), this.#rng);
    this.#lifecycle = 'running';
    const rate = this.#o.rate ?? 1;
    if (rate > 0) {
      // A random phase spreads a fleet's readings over the interval instead of firing them together.
      this.#tickAt = this.#clock.now() + this.#rng.next() * (1000 / rate);
      this.#armTick();
    }
    this.#connect();
  }

  /** Takes one reading now and sends (or buffers) it; returns the number of items generated. */
  sendNow(): number {
    if (this.#lifecycle !== 'running') return 0;
    const now = this.deviceTime();
    const out = this.model.step(this.#modelState, now, this.#rng);
    this.#delivery.data(out.readings, out.events, now);
    return out.readings.length + out.events.length;
  }

  /**
   * Stops generating and waits up to `ackTimeoutMs` (device clock) for everything held to be acknowledged,
   * dialing at once if it was waiting out a backoff; then closes with 1000 and saves the state file. What
   * stays unacknowledged is resent by the next run (with --state-dir).
   */
  stop(options: { ackTimeoutMs?: number } = {}): Promise<void> {
    this.#stopped ??= this.#stop(options.ackTimeoutMs ?? 5000);
    return this.#stopped;
  }

  async #stop(ackTimeoutMs: number): Promise<void> {
    // Never (completely) started: its state file was not loaded, so saving now would overwrite it with nothing.
    if (this.#lifecycle === 'idle' || this.#lifecycle === 'starting') {
      this.#lifecycle = 'stopped';
      return;
    }
    if (this.#lifecycle === 'running' && ackTimeoutMs > 0 && this.pending > 0) await this.#flush(ackTimeoutMs);
    this.#lifecycle = 'stopping';
    this.#cancelTimers();
    const conn = this.#conn;
    if (conn !== null) {
      const closed = new Promise<void>((resolve) => (this.#closed = resolve));
      // A safety net for a hub that never answers the close, on the wall clock: it is about a socket, not
      // protocol timing, and must fire even when a test holds the device clock still.
      const cutOff = setTimeout(() => conn.terminate(), CLOSE_HANDSHAKE_MS);
      conn.close(CLOSE_CODES.NORMAL, 'device stopping');
      await closed;
      clearTimeout(cutOff);
    }
    this.#watchdog.stop();
    this.#store?.close();
    this.#lifecycle = 'stopped';
  }

  /** No new readings; resolves once nothing is pending or after `timeoutMs` on the device clock. */
  async #flush(timeoutMs: number): Promise<void> {
    if (this.#tickTimer !== null) this.#clock.clearTimeout(this.#tickTimer);
    this.#tickTimer = null;
    if (this.#session === 'none' && this.#reconnectTimer !== null) {
      // Waiting out a backoff: try now, the run is ending anyway.
      this.#clock.clearTimeout(this.#reconnectTimer);
      this.#connect();
    }
    let timer: TimerHandle | null = null;
    const offs: (() => void)[] = [];
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.pending === 0 || this.#lifecycle !== 'running') resolve();
      };
      offs.push(this.on('ack', check), this.on('online', check), this.on('offline', check));
      timer = this.#clock.setTimeout(resolve, timeoutMs);
    });
    for (const off of offs) off();
    if (timer !== null) this.#clock.clearTimeout(timer);
  }

  // --- ConnectionHandler -------------------------------------------------------------------------

  onOpen(): void {
    this.#session = 'greeting';
    this.#helloAt = this.#clock.now();
    this.#watchdog.heard();
    this.ota.beforeHello();
    // HELLO first, carrying the highest seq the hub acknowledged [FP-7.1, FP-8.4], and UPDATES [FP-14.1].
    const hello = { model: this.model.model, firmware: this.ota.firmware, lastAckedSeq: this.outbox.lastAckedSeq, capabilities: [...this.model.capabilities] };
    this.#conn?.send({ type: 'hello', ...hello, updates: true });
  }

  onHeard(): void {
    this.#watchdog.heard();
  }

  onFrame(frame: Frame): void {
    switch (frame.type) {
      case 'welcome':
        if (this.#session !== 'greeting') return this.#conn?.close(CLOSE_CODES.PROTOCOL_ERROR, 'unexpected WELCOME');
        return this.#onWelcome(frame);
      case 'ack': {
        const frames = this.#delivery.ack(frame.seq);
        if (frames > 0) this.emit('ack', { seq: frame.seq, frames });
        return;
      }
      case 'command':
        return this.#onCommand(frame);
      case 'error':
        // Informational: the close that follows decides what happens next [FP-11.1].
        this.lastHubError = frame;
        return this.emit('hub-error', frame);
      case 'extension':
        return; // Unknown extension frames are ignored, not fatal [FP-10.2].
      case 'update_offer':
      case 'update_chunk':
        return this.ota.onFrame(frame);
      default:
        return this.#conn?.close(CLOSE_CODES.PROTOCOL_ERROR, `unexpected ${frame.type}`); // [FP-7.3]
    }
  }

  onRefused(status: number, code: string): void {
    this.#ended();
    this.counters.refusals++;
    this.lastRefusal = { status, code };
    this.emit('offline', { code: 1006, reason: code, httpStatus: status });
    if (this.#lifecycle === 'stopping') return this.#closed?.();
    // Bad credentials or subprotocol will not fix themselves in a second: retry at the cap [FP-2.3].
    if (status === 401 || status === 403 || status === 400) this.#backoff.toCap();
    this.#scheduleReconnect(this.#backoff.baseMs);
  }

  onClose(code: number, reason: string, local: boolean): void {
    if (!local && this.#session === 'online' && REFUSED_FRAME_CLOSES.has(code)) this.#delivery.dropRefused();
    this.#ended();
    this.emit('offline', { code, reason });
    if (this.#lifecycle === 'stopping') return this.#closed?.();
    if (this.#lifecycle !== 'running') return;
    if (code === CLOSE_CODES.REVOKED) return this.#park('revoked'); // Needs re-provisioning [FP-10.3].
    if (code === CLOSE_CODES.BAD_VERSION) return this.#park('incompatible'); // Do not retry with v1 [FP-11.1].
    // Everything else, 4009 REPLACED and 1001 GOING_AWAY included, reconnects with backoff [FP-10.6].
    this.#scheduleReconnect(code === CLOSE_CODES.RATE_LIMITED ? RATE_LIMITED_FLOOR_MS : 0);
  }

  // --- session -----------------------------------------------------------------------------------

  #connect(): void {
    this.#reconnectTimer = null;
    if (this.#lifecycle !== 'running') return;
    this.#session = 'connecting';
    this.counters.connects++;
    const o = this.#o;
    this.#conn = new DeviceConnection({ hubUrl: this.hubUrl, deviceId: o.id, token: o.token, ca: o.ca, insecure: o.insecure }, this);
    this.#watchdog.watch(SILENT_HEARTBEATS * DEFAULT_HEARTBEAT_MS);
    this.#conn.open();
  }

  #onWelcome(w: WelcomeFrame): void {
    const now = this.#clock.now();
    this.#session = 'online';
    this.#backoff.reset(); // [FP-10.6]
    if (++this.#welcomes > 1) this.counters.reconnects++;
    // Half the round trip approximates how old hubTime is on arrival [FP-8.6].
    this.#clockOffset = w.hubTime + (now - this.#helloAt) / 2 - now;
    this.#watchdog.watch(SILENT_HEARTBEATS * (w.heartbeatMs || DEFAULT_HEARTBEAT_MS));
    this.#commandTimeoutMs = w.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS; // [FP-6.2] absent from a 1.0 WELCOME
    const conn = this.#conn!;
    this.#delivery.welcome(w, (bytes) => conn.sendBytes(bytes));
    this.emit('online', w);
  }

  #onCommand(command: CommandFrame): void {
    this.counters.commands++;
    const cap = this.model.capabilities.find((c) => c.id === command.metric);
    let result: CommandResultFrame;
    if (cap === undefined || !cap.writable) {
      result = { type: 'command_result', id: command.id, status: 'unsupported', message: `metric ${command.metric} is not a writable capability` };
    } else {
      const problem = commandValueProblem(cap, command.value);
      const reply = problem !== null ? { status: 'invalid' as const, message: problem } : this.model.applyCommand(this.#modelState, cap, command.value);
      result = { type: 'command_result', id: command.id, ...reply };
    }
    // Exactly one COMMAND_RESULT per COMMAND [FP-7.7].
    this.#conn?.send(result);
    this.emit('command', { command, result });
    // A result is not a reading: report the new state as TELEMETRY at once rather than at the next tick [FP-7.7].
    if (result.status === 'ok') this.#delivery.data(this.model.readings(this.#modelState), [], this.deviceTime());
  }

  #ended(): void {
    this.ota.onClose();
    this.#conn = null;
    this.#session = 'none';
    this.#watchdog.stop();
    this.#delivery.offline();
  }

  #scheduleReconnect(floorMs: number): void {
    // The hub that ended or refused the connection may be the one that is gone: the next attempt tries the next
    // address, under the same backoff [FP-10.8].
    this.#hubIndex = (this.#hubIndex + 1) % this.#hubs.length;
    const attempt = this.#backoff.attempt;
    const ceilingMs = this.#backoff.ceiling();
    const delayMs = this.#backoff.next(floorMs);
    this.emit('waiting', { delayMs, attempt, ceilingMs });
    this.#reconnectTimer = this.#clock.setTimeout(() => this.#connect(), delayMs);
  }

  #park(reason: 'revoked' | 'incompatible'): void {
    this.#lifecycle = reason;
    this.#cancelTimers();
  }

  // --- readings ----------------------------------------------------------------------------------

  #armTick(): void {
    this.#tickTimer = this.#clock.setTimeout(this.#tick, Math.max(0, this.#tickAt - this.#clock.now()));
  }

  #tick = (): void => {
    this.#tickTimer = null;
    if (this.#lifecycle !== 'running') return;
    this.sendNow();
    const interval = 1000 / (this.#o.rate ?? 1);
    const now = this.#clock.now();
    // Catch up a late tick or two; past that (a stalled process) restart the schedule from now.
    this.#tickAt = this.#tickAt + interval < now - 10 * interval ? now + interval : this.#tickAt + interval;
    this.#armTick();
  };

  #cancelTimers(): void {
    if (this.#tickTimer !== null) this.#clock.clearTimeout(this.#tickTimer);
    if (this.#reconnectTimer !== null) this.#clock.clearTimeout(this.#reconnectTimer);
    this.#tickTimer = null;
    this.#reconnectTimer = null;
  }
}
