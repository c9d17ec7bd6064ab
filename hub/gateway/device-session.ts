import { encode, decode } from '../../protocol/index.js';
import { SUBPROTOCOL_1_1 } from '../../protocol/constants.js';
import { SESSION_CLOSE_CODES, type SessionErrorCode } from '../../protocol/error-codes.js';
import { ProtocolError } from '../../protocol/errors.js';
import type { Capability, CommandResultFrame, DataFrame, Frame, WelcomeFrame } from '../../protocol/types.js';
import type { DeviceRegistry, SessionHandle } from '../devices/device-registry.js';
import type { AckChannel, IngestPipeline } from '../ingest/ingest-pipeline.js';
import type { FirmwareService } from '../firmware/firmware-service.js';
import type { Logger } from '../logger.js';
import { retryBusy } from '../storage/busy-retry.js';
import { faultCause } from '../storage/fault-cause.js';
import { andThen, isThenable } from '../storage/maybe-promise.js';
import { systemTimers, type TimerHandle, type Timers } from '../timers.js';
import type { DeviceLink, LinkListener } from '../transport/device-server.js';
import { resolveCapabilities } from './validate.js';

const NO_DEFLATE = { compress: false } as const;

export interface SessionDeps {
  registry: DeviceRegistry;
  ingest: IngestPipeline;
  onCommandResult: (deviceId: string, frame: CommandResultFrame) => void;
  /** WELCOME fields other than hubTime and nextSeq; commandTimeoutMs goes to 1.1 sessions only [FP-6.2]. */
  welcome: Omit<WelcomeFrame, 'type' | 'hubTime' | 'nextSeq'>;
  greetingTimeoutMs: number;
  now: () => number;
  log: Logger;
  /** Counts a frame or session refused, by error code (for /metrics). */
  onRefused: (code: string) => void;
  /** The greeting timer's clock; default Node's. */
  timers?: Timers;
  /** Firmware updates [FP-14]; none: update frames are ignored like unknown extension frames. */
  updates?: Pick<FirmwareService, 'onHello' | 'onFrame' | 'onClose'>;
  /** Claims the device for this hub after its HELLO, before WELCOME (several hubs on PostgreSQL); none: one hub. */
  claim?: (deviceId: string) => Promise<void>;
}

/** Longest hub stall a session's rate limit excuses, in seconds of its frame rate. */
const MAX_EXCUSED_SECONDS = 60;

/** One device connection's state machine: greeting, then data frames, command results and the close [FP-7]. */
export class DeviceSession implements LinkListener, SessionHandle, AckChannel {
  readonly #link: DeviceLink;
  readonly #deps: SessionDeps;
  readonly #timers: Timers;
  #state: 'greeting' | 'ready' | 'closed' = 'greeting';
  #greetingTimer: TimerHandle | undefined;
  /** Token bucket of data frames [FP-9.2]: refills at maxFramesPerSecond, holds twice that. */
  #tokens: number;
  #refilledAt: number;
  /**
   * Frames the device is excused for the hub's own stalls (reading paused for back-pressure, a blocked event
   * loop): what it sent meanwhile queued in TCP and arrives in one burst, which is not the device's fault.
   * Spent after the bucket, at most MAX_EXCUSED_SECONDS of the rate.
   */
  #excused = 0;
  /** When reading was paused (hub time), undefined while reading. */
  #pausedAt: number | undefined;
  /** pause() came during the greeting: pause once WELCOME is sent, so the device can still greet. */
  #pauseAfterWelcome = false;
  /**
   * Messages that arrived while a write this session needs waited for a lock (a changed HELLO, a new
   * series): handled in order once it is done; undefined while nothing waits. The link is paused meanwhile.
   */
  #held: Array<[Uint8Array, boolean]> | undefined;
  /** Capabilities of the frame being accepted, resolved once by validation and handed to ingest. */
  readonly #caps: Capability[] = [];
  #onClosed!: () => void;
  /** Resolves when the connection has closed (handshake done or socket dropped). */
  readonly closed = new Promise<void>((resolve) => (this.#onClosed = resolve));

  constructor(link: DeviceLink, deps: SessionDeps) {
    this.#link = link;
    this.#deps = deps;
    this.#timers = deps.timers ?? systemTimers;
    this.#tokens = deps.welcome.maxFramesPerSecond * 2;
    this.#refilledAt = deps.now();
  }

  get deviceId(): string {
    return this.#link.deviceId;
  }

  start(): void {
    this.#deps.registry.attach(this.deviceId, this);
    this.#greetingTimer = this.#timers.setTimeout(
      () => this.#refuse('HUB_ERR_GREETING_TIMEOUT', `no HELLO within ${this.#deps.greetingTimeoutMs} ms`),
      this.#deps.greetingTimeoutMs,
    );
  }

  send(frame: Frame): void {
    if (this.#state === 'closed') return;
    // [FP-10.4] An UPDATE_CHUNK is image bytes, as good as incompressible: deflating a rollout's chunks (100 MiB
    // for 100 devices of a 1 MiB image) cost the hub's CPU and thread pool what other devices' ACKs needed.
    if (frame.type === 'update_chunk') this.#link.send(encode(frame), NO_DEFLATE);
    else this.#link.send(encode(frame));
  }

  /** ACK{seq} for the frames this connection delivered, once they are durable [FP-8.2]. */
  ack(seq: number): void {
    this.send({ type: 'ack', seq });
  }

  fail(code: 'HUB_ERR_REPLACED' | 'HUB_ERR_REVOKED' | 'HUB_ERR_STORAGE', message: string): void {
    this.#refuse(code, message);
  }

  /** Another hub holds the device now (a commit was fenced): 4009, as for a newer connection [FP-10.3]. */
  lost(message: string): void {
    this.#refuse('HUB_ERR_REPLACED', message);
  }

  /** Closes at shutdown, after the final ACKs went out. */
  closeGoingAway(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#stopGreetingTimer();
    // Read again so the close handshake completes; frames still arriving are ignored and, never acked, resent later.
    this.#link.resume();
    // [FP-10.5] the ERROR goes out before the 1001, as for every other close of section 11.
    this.#link.send(encode({ type: 'error', code: 'HUB_ERR_SHUTDOWN', message: 'hub shutting down' }));
    this.#link.close(SESSION_CLOSE_CODES.HUB_ERR_SHUTDOWN, 'hub shutting down');
  }

  /** Stops reading from the device (back-pressure); during the greeting, from the moment WELCOME is sent. */
  pause(): void {
    if (this.#state === 'greeting') {
      this.#pauseAfterWelcome = true;
      return;
    }
    this.#pausedAt ??= this.#deps.now();
    this.#link.pause();
  }

  /** Reads again; the frames queued while paused are excused from the rate limit [FP-9.2]. */
  resume(): void {
    this.#pauseAfterWelcome = false;
    if (this.#pausedAt !== undefined) this.excuse(this.#deps.now() - this.#pausedAt);
    this.#pausedAt = undefined;
    if (!this.#held) this.#link.resume();
  }

  /** The hub stalled for `ms` (its event loop was blocked): the frames the device sent meanwhile are not charged. */
  excuse(ms: number): void {
    const rate = this.#deps.welcome.maxFramesPerSecond;
    this.#excused = Math.min(rate * MAX_EXCUSED_SECONDS, this.#excused + (Math.max(0, ms) * rate) / 1000);
  }

  onMessage(data: Uint8Array, binary: boolean): void {
    if (this.#state === 'closed') return;
    if (this.#held) {
      this.#held.push([data, binary]);
      return;
    }
    if (!binary) return this.#refuse('HUB_ERR_TEXT_FRAME', 'frames are binary WebSocket messages; text is not accepted');
    let frame: Frame;
    try {
      frame = decode(data);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.#deps.onRefused(err.code);
      this.send({ type: 'error', code: err.code, message: err.message.slice(0, 255) });
      this.#close(err.closeCode, err.code);
      return;
    }
    if (this.#state === 'greeting') {
      if (frame.type !== 'hello') return this.#refuse('HUB_ERR_GREETING_REQUIRED', `the first frame must be HELLO, got ${frame.type}`);
      this.#stopGreetingTimer();
      // A changed HELLO is stored before its capabilities are used [FP-7.2]; greet() changes nothing in
      // memory before its write succeeds, so it can be retried as a whole.
      const claim = this.#deps.claim;
      const greet = () => this.#deps.registry.greet(this.deviceId, frame, this.#deps.now());
      this.#write(claim ? () => andThen(greet(), () => claim(this.deviceId)) : greet, () => {
        this.#welcome();
        this.#deps.updates?.onHello(this, frame); // after WELCOME [FP-14.3]
      }, 'record this HELLO');
      return;
    }
    switch (frame.type) {
      case 'telemetry':
      case 'batch':
      case 'event': {
        if (!this.#takeToken()) {
          return this.#refuse('HUB_ERR_RATE_LIMITED', `more than ${this.#deps.welcome.maxFramesPerSecond} data frames per second`);
        }
        const problem = resolveCapabilities(frame, (id) => this.#deps.registry.capability(this.deviceId, id), this.#caps);
        if (problem) return this.#refuseCapability(frame, problem);
        // accept() throws only when the frame's new series cannot be stored, before it takes anything. While
        // it waits no other message is handled, so #caps stays this frame's.
        this.#write(() => this.#deps.ingest.accept(this, frame, this.#caps), () => {}, 'take this frame');
        return;
      }
      case 'command_result':
        this.#deps.onCommandResult(this.deviceId, frame);
        return;
      case 'extension':
        return; // [FP-10.2] unknown extension frames are ignored
      case 'update_answer':
      case 'update_progress':
      case 'update_result': {
        const problem = this.#deps.updates?.onFrame(this, frame) ?? null;
        return problem === null ? undefined : this.#refuse('HUB_ERR_UPDATE_VIOLATION', problem); // [FP-14.8]
      }
      case 'update_offer':
      case 'update_chunk':
      case 'hello':
      case 'welcome':
      case 'ack':
      case 'command':
      case 'error':
        return this.#refuse('HUB_ERR_UNEXPECTED_FRAME', `a device does not send ${frame.type}${frame.type === 'hello' ? ' twice' : ''}`);
    }
  }

  onClose(code: number, reason: string): void {
    const wasOpen = this.#state !== 'closed';
    this.#state = 'closed';
    this.#stopGreetingTimer();
    const offline = this.#deps.registry.detach(this.deviceId, this);
    this.#deps.updates?.onClose(this);
    this.#deps.log.debug({ device: this.deviceId, code, reason, offline, wasOpen }, 'device disconnected');
    this.#onClosed();
  }

  #welcome(): void {
    this.#state = 'ready';
    const { commandTimeoutMs, ...welcome } = this.#deps.welcome;
    this.send({
      type: 'welcome',
      hubTime: this.#deps.now(),
      nextSeq: this.#deps.ingest.committedSeq(this.deviceId) + 1,
      ...welcome,
      // [FP-6.2] [FP-10.2] a 1.0 device would refuse the appended field as trailing bytes.
      ...(commandTimeoutMs !== undefined && this.#link.protocol === SUBPROTOCOL_1_1 ? { commandTimeoutMs } : {}),
    });
    if (this.#pauseAfterWelcome) {
      this.#pauseAfterWelcome = false;
      this.pause();
    }
  }

  /**
   * Runs a storage write this session needs before it goes on, then `then`. A lock held elsewhere (SQLITE_BUSY)
   * is waited out without blocking the event loop: the link is paused, what arrives meanwhile is held and
   * handled in order afterwards, and the wait is excused from the rate limit (the hub's stall) [FP-9.2].
   * Storage that cannot take it (full, read-only, or locked longer than retryBusy's bound) closes the session
   * with 1013 HUB_ERR_STORAGE: nothing of the frame was taken, and the device resends it after its backoff
   * [FP-8.4, FP-10.6]; acknowledging later frames would skip it.
   */
  #write(write: () => void | Promise<void>, then: () => void, what: string): void {
    let done: void | Promise<void>;
    try {
      done = write();
    } catch (err) {
      if (faultCause(err) === 'busy') this.#writeLater(write, then, what);
      else this.#refuseStorage(what, err);
      return;
    }
    if (isThenable(done)) this.#writeAsync(done, then, what);
    else then();
  }

  /** A write answered with a Promise (PostgreSQL): hold what arrives, as for a lock, until it is done. */
  #writeAsync(done: Promise<void>, then: () => void, what: string): void {
    this.#held = [];
    this.#link.pause();
    done
      .then(
        () => {
          if (this.#state === 'closed') return;
          then();
          this.#release();
        },
        (err: unknown) => this.#refuseStorage(what, err),
      )
      .catch((err: unknown) => this.#refuse('HUB_ERR_INTERNAL', `after a storage write: ${(err as Error)?.message ?? String(err)}`));
  }

  #writeLater(write: () => void | Promise<void>, then: () => void, what: string): void {
    const since = this.#deps.now();
    this.#held = [];
    this.#link.pause();
    const sleep = (ms: number) => new Promise<void>((resolve) => this.#timers.setTimeout(resolve, ms));
    retryBusy(() => {
      if (this.#state !== 'closed') return write(); // closed meanwhile: nothing more is stored for this connection
    }, { waitFirst: true, sleep, now: this.#deps.now })
      .then(
        () => {
          if (this.#state === 'closed') return;
          this.excuse(this.#deps.now() - since);
          then();
          this.#release();
        },
        (err: unknown) => this.#refuseStorage(what, err),
      )
      .catch((err: unknown) => this.#refuse('HUB_ERR_INTERNAL', `after a storage wait: ${(err as Error)?.message ?? String(err)}`));
  }

  /** Handles the messages held during a write, in order, and reads again (unless the gateway paused reading). */
  #release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    // onMessage() holds again once another write waits, so the rest stay in order before anything newer.
    for (const [data, binary] of held) this.onMessage(data, binary);
    if (this.#holding() || this.#state === 'closed') return;
    if (this.#pausedAt === undefined) this.#link.resume();
  }

  #holding(): boolean {
    return this.#held !== undefined;
  }

  #refuseStorage(what: string, err: unknown): void {
    this.#refuse('HUB_ERR_STORAGE', `storage cannot ${what} now (${faultCause(err)}): ${(err as Error)?.message ?? String(err)}`);
  }

  #stopGreetingTimer(): void {
    if (this.#greetingTimer !== undefined) this.#timers.clearTimeout(this.#greetingTimer);
    this.#greetingTimer = undefined;
  }

  #takeToken(): boolean {
    const now = this.#deps.now();
    const rate = this.#deps.welcome.maxFramesPerSecond;
    this.#tokens = Math.min(rate * 2, this.#tokens + ((now - this.#refilledAt) * rate) / 1000);
    this.#refilledAt = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return true;
    }
    if (this.#excused < 1) return false;
    this.#excused -= 1;
    return true;
  }

  /**
   * [FP-7.5] Makes the refused frame the oldest one the device still holds: every frame accepted before it is
   * committed and acknowledged first, and a copy of a frame already stored is acknowledged, not checked
   * (it is never stored again, [FP-8.7]), so only a frame above every ACK can be refused. When storage
   * cannot commit, 1011 instead: a 4005 never comes without those ACKs.
   */
  #refuseCapability(frame: DataFrame, problem: string): void {
    const ingest = this.#deps.ingest;
    const refuse = (flushed: boolean): void | Promise<void> => {
      // Without those ACKs the device could not tell which frame was refused: a 1011 makes it resend them all.
      if (!flushed) return this.#refuse('HUB_ERR_INTERNAL', `storage cannot commit now, so seq ${frame.seq} cannot be refused exactly; reconnect`);
      if (frame.seq <= ingest.committedSeq(this.deviceId)) return ingest.accept(this, frame, []);
      this.#refuse('HUB_ERR_CAPABILITY', `seq ${frame.seq}: ${problem}`);
    };
    const flushed = ingest.flush();
    if (isThenable(flushed)) this.#write(() => flushed.then(refuse), () => {}, 'commit the frames before it');
    else void refuse(flushed);
  }

  #refuse(code: SessionErrorCode, message: string): void {
    if (this.#state === 'closed') return;
    this.#deps.onRefused(code);
    this.#deps.log.warn({ device: this.deviceId, code }, message);
    this.send({ type: 'error', code, message: message.slice(0, 255) });
    this.#close(SESSION_CLOSE_CODES[code], code);
  }

  #close(code: number, reason: string): void {
    this.#state = 'closed';
    this.#stopGreetingTimer();
    this.#held = undefined;
    // A paused link (back-pressure, a write waiting) would never read the device's close frame: read again.
    this.#link.resume();
    this.#link.close(code, reason);
  }
}
