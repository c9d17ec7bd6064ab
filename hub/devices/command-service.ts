import type { CommandResultFrame, Value } from '../../protocol/types.js';
import type { DeviceRegistry, SessionHandle } from './device-registry.js';
import type { CommandOutcome, EventBus } from '../events.js';
import { isStorageFault } from '../storage/fault-cause.js';
import { isThenable } from '../storage/maybe-promise.js';
import type { HubStoreContract } from '../storage/store-contract.js';

/** What commands need of storage: the command log. */
export type CommandStore = Pick<HubStoreContract, 'logCommand' | 'finishCommand'>;
import { systemTimers, type TimerHandle, type Timers } from '../timers.js';
import { valueFromJson } from '../../protocol/value-form.js';

/** Commands for devices held by another hub (several hubs on PostgreSQL: HubCluster). */
export interface RemoteCommands {
  /** The living hub, other than this one, that has the device connected. */
  remoteHolder(deviceId: string): string | undefined;
  /** Has `hubId` send logged command `id`; resolves with its answer (or timeout). */
  forward(id: number, hubId: string, timeoutMs: number): Promise<{ status: CommandOutcome['status']; message: string }>;
}

interface Waiting {
  deviceId: string;
  command: string;
  /** Forwarded by another hub, which reports the answer: not emitted on this hub's bus. */
  quiet: boolean;
  /** The connection the COMMAND went out on: when it ends, no result can come [FP-7.7]. */
  session: SessionHandle;
  resolve: (outcome: CommandOutcome) => void;
  timer: TimerHandle;
}

/** Sends COMMAND frames and pairs each COMMAND_RESULT (or a timeout) with its caller; every command is logged. */
export class CommandService {
  readonly #registry: DeviceRegistry;
  readonly #store: CommandStore;
  readonly #bus: EventBus;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #timers: Timers;
  readonly #waiting = new Map<number, Waiting>();
  readonly #remote: RemoteCommands | undefined;

  /** `timers` runs the result timeouts (default Node's); `remote` reaches devices held by other hubs. */
  constructor(opts: { registry: DeviceRegistry; store: CommandStore; bus: EventBus; timeoutMs: number; now: () => number; timers?: Timers; remote?: RemoteCommands }) {
    this.#remote = opts.remote;
    this.#registry = opts.registry;
    this.#store = opts.store;
    this.#bus = opts.bus;
    this.#timeoutMs = opts.timeoutMs;
    this.#now = opts.now;
    this.#timers = opts.timers ?? systemTimers;
  }

  /** How long a device has to answer a COMMAND, in ms; WELCOME tells 1.1 devices [FP-6.2] [FP-7.7]. */
  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  /** Validates and sends a command; resolves with the device's answer, or offline/timeout/invalid from the hub. */
  send(deviceId: string, command: string, input: unknown, source: string): Promise<CommandOutcome> {
    const refuse = (status: 'invalid' | 'offline' | 'unsupported', message: string, commandId = 0): Promise<CommandOutcome> =>
      Promise.resolve(this.#finish({ commandId, deviceId, command, status, message }));
    if (!this.#registry.has(deviceId)) return refuse('invalid', `no device "${deviceId}"`);
    const session = this.#registry.session(deviceId);
    const online = session !== undefined && this.#registry.info(deviceId)?.online === true;
    const holder = online ? undefined : this.#remote?.remoteHolder(deviceId);
    const cap = this.#registry.capabilityByName(deviceId, command);
    // A device that never said HELLO has no known capabilities: it is offline, not lacking the command.
    if (!cap && !online && holder === undefined) return refuse('offline', `device "${deviceId}" is offline`);
    if (!cap || !cap.writable) return refuse('unsupported', `device "${deviceId}" has no writable "${command}"`);
    const parsed = valueFromJson(cap, input);
    if (!parsed.ok) return refuse('invalid', parsed.problem);
    const logged = this.#store.logCommand({ deviceId, command, value: parsed.value, source, sentAt: this.#now() });
    const sendLogged = (id: number): Promise<CommandOutcome> => {
      if (holder !== undefined) {
        return this.#remote!.forward(id, holder, this.#timeoutMs).then(({ status, message }) => this.#finish({ commandId: id, deviceId, command, status, message }));
      }
      // Logged on PostgreSQL meanwhile: the session may have ended since.
      const live = this.#registry.session(deviceId);
      if (!online || !session || live !== session) return refuse('offline', `device "${deviceId}" is offline`, id);
      return this.#sendLogged(id, deviceId, command, session, cap.id, parsed.value);
    };
    return isThenable(logged) ? logged.then(sendLogged) : sendLogged(logged);
  }

  /**
   * Sends a command another hub logged and forwarded (it holds no connection of the device; this hub does):
   * resolves with the device's answer, finished in the log; the forwarding hub reports it.
   */
  sendForwarded(id: number, c: { deviceId: string; command: string; value: Value }): Promise<CommandOutcome> {
    const { deviceId, command } = c;
    const session = this.#registry.session(deviceId);
    const cap = this.#registry.capabilityByName(deviceId, command);
    if (!session || this.#registry.info(deviceId)?.online !== true) {
      return Promise.resolve(this.#finish({ commandId: id, deviceId, command, status: 'offline', message: `device "${deviceId}" is offline` }, true));
    }
    if (!cap?.writable) return Promise.resolve(this.#finish({ commandId: id, deviceId, command, status: 'unsupported', message: `device "${deviceId}" has no writable "${command}"` }, true));
    return this.#sendLogged(id, deviceId, command, session, cap.id, c.value, true);
  }

  #sendLogged(id: number, deviceId: string, command: string, session: SessionHandle, metric: number, value: Value, quiet = false): Promise<CommandOutcome> {
    return new Promise((resolve) => {
      const timer = this.#timers.setTimeout(() => {
        this.#waiting.delete(id);
        resolve(this.#finish({ commandId: id, deviceId, command, status: 'timeout', message: `no result within ${this.#timeoutMs} ms` }, quiet));
      }, this.#timeoutMs);
      this.#waiting.set(id, { deviceId, command, quiet, session, resolve, timer });
      session.send({ type: 'command', id, metric, value });
    });
  }

  /** A COMMAND_RESULT from a device; results for unknown ids or another device's commands are ignored. */
  onResult(deviceId: string, frame: CommandResultFrame): void {
    const waiting = this.#waiting.get(frame.id);
    if (!waiting || waiting.deviceId !== deviceId) return;
    this.#waiting.delete(frame.id);
    this.#timers.clearTimeout(waiting.timer);
    waiting.resolve(this.#finish({ commandId: frame.id, deviceId, command: waiting.command, status: frame.status, message: frame.message }, waiting.quiet));
  }

  /**
   * A device connection ended: each command sent on it is answered 'offline' now, not at its timeout, since
   * COMMAND_RESULT is never resent on a later connection [FP-7.7].
   */
  connectionEnded(session: SessionHandle): void {
    for (const [id, w] of this.#waiting) {
      if (w.session !== session) continue;
      this.#waiting.delete(id);
      this.#timers.clearTimeout(w.timer);
      w.resolve(this.#finish({ commandId: id, deviceId: w.deviceId, command: w.command, status: 'offline', message: 'the connection ended before the device answered' }, w.quiet));
    }
  }

  /** Answers every waiting command with 'offline' (hub stopping). */
  stop(): void {
    for (const [id, w] of this.#waiting) {
      this.#timers.clearTimeout(w.timer);
      w.resolve(this.#finish({ commandId: id, deviceId: w.deviceId, command: w.command, status: 'offline', message: 'hub shutting down' }, w.quiet));
    }
    this.#waiting.clear();
  }

  /** Logs the outcome and, unless `quiet` (another hub reports it), emits command.result. */
  #finish(outcome: CommandOutcome, quiet = false): CommandOutcome {
    try {
      const done = outcome.commandId > 0 ? this.#store.finishCommand(outcome.commandId, outcome.status, outcome.message, this.#now()) : false;
      // PostgreSQL: the row is finished in the background; a failure leaves it as sent, as below.
      if (isThenable(done)) done.catch(() => undefined);
    } catch (err) {
      // The outcome stands whatever storage does: a full, read-only or locked database must not leave the
      // caller waiting or throw out of a device's session or a timer (the log keeps the command as sent).
      if (!isStorageFault(err)) throw err;
    }
    if (!quiet) this.#bus.emit('command.result', outcome);
    return outcome;
  }
}
