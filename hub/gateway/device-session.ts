import { encode, decode } from '../../protocol/index.js';
import { SESSION_CLOSE_CODES, type SessionErrorCode } from '../../protocol/error-codes.js';
import { ProtocolError } from '../../protocol/errors.js';
import type { Capability, CommandResultFrame, Frame, WelcomeFrame } from '../../protocol/types.js';
import type { DeviceRegistry, SessionHandle } from '../devices/device-registry.js';
import type { AckChannel, IngestPipeline } from '../ingest/ingest-pipeline.js';
import type { FirmwareService } from '../firmware/firmware-service.js';
import type { Logger } from '../logger.js';
import { systemTimers, type TimerHandle, type Timers } from '../timers.js';
import type { DeviceLink, LinkListener } from '../transport/device-server.js';
import { resolveCapabilities } from './validate.js';

export interface SessionDeps {
  registry: DeviceRegistry;
  ingest: IngestPipeline;
  onCommandResult: (deviceId: string, frame: CommandResultFrame) => void;
  /** WELCOME fields other than hubTime and nextSeq. */
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
}

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
    if (this.#state !== 'closed') this.#link.send(encode(frame));
  }

  /** ACK{seq} for the frames this connection delivered, once they are durable [FP-8.2]. */
  ack(seq: number): void {
    this.send({ type: 'ack', seq });
  }

  fail(code: 'HUB_ERR_REPLACED' | 'HUB_ERR_REVOKED', message: string): void {
    this.#refuse(code, message);
  }

  /** Closes at shutdown, after the final ACKs went out. */
  closeGoingAway(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#stopGreetingTimer();
    // Read again so the close handshake completes; frames still arriving are ignored and, never acked, resent later.
    this.#link.resume();
    this.#link.close(SESSION_CLOSE_CODES.HUB_ERR_SHUTDOWN, 'hub shutting down');
  }

  pause(): void {
    this.#link.pause();
  }

  resume(): void {
    this.#link.resume();
  }

  onMessage(data: Uint8Array, binary: boolean): void {
    if (this.#state === 'closed') return;
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
      this.#state = 'ready';
      this.#deps.registry.greet(this.deviceId, frame, this.#deps.now());
      this.send({
        type: 'welcome',
        hubTime: this.#deps.now(),
        nextSeq: this.#deps.ingest.committedSeq(this.deviceId) + 1,
        ...this.#deps.welcome,
      });
      this.#deps.updates?.onHello(this, frame); // after WELCOME [FP-14.3]
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
        if (problem) return this.#refuse('HUB_ERR_CAPABILITY', problem);
        this.#deps.ingest.accept(this, frame, this.#caps);
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

  #stopGreetingTimer(): void {
    if (this.#greetingTimer !== undefined) this.#timers.clearTimeout(this.#greetingTimer);
    this.#greetingTimer = undefined;
  }

  #takeToken(): boolean {
    const now = this.#deps.now();
    const rate = this.#deps.welcome.maxFramesPerSecond;
    this.#tokens = Math.min(rate * 2, this.#tokens + ((now - this.#refilledAt) * rate) / 1000);
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
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
    this.#link.close(code, reason);
  }
}
