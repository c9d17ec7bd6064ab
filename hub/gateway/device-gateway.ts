import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { LIMITS } from '../../protocol/constants.js';
import type { DeviceAuthResult } from '../auth/authorizer.js';
import type { CommandService } from '../devices/command-service.js';
import type { DeviceRegistry } from '../devices/device-registry.js';
import { refuseUpgrade } from '../http/refuse-upgrade.js';
import type { IngestPipeline } from '../ingest/ingest-pipeline.js';
import type { FirmwareService } from '../firmware/firmware-service.js';
import type { Logger } from '../logger.js';
import { DeviceServer } from '../transport/device-server.js';
import { DeviceSession } from './device-session.js';

export interface DeviceGatewayOptions {
  heartbeatMs: number;
  greetingTimeoutMs: number;
  maxFramesPerSecond: number;
  /** The device token check before the upgrade [FP-2.3] (hub/auth). */
  authenticate: (deviceId: string, token: string | undefined) => DeviceAuthResult | Promise<DeviceAuthResult>;
  registry: DeviceRegistry;
  ingest: IngestPipeline;
  commands: CommandService;
  now: () => number;
  log: Logger;
  /** Firmware updates over the device sessions [FP-14]. */
  updates?: FirmwareService;
  /** Claims a device for this hub at its HELLO (several hubs on PostgreSQL, see DeviceClaimer). */
  claim?: (deviceId: string) => Promise<void>;
}

/** How long stop() waits for devices to finish the close handshake. */
const CLOSE_WAIT_MS = 3000;
/** How often the event loop's lag is measured, and the lag from which sessions are excused for it [FP-9.2]. */
const LAG_CHECK_MS = 100;
const LAG_EXCUSE_MIN_MS = 20;

/**
 * The device side of the hub: the wss endpoint and one DeviceSession per connection. It pauses reading when
 * ingest asks for back-pressure, counts refusals by code, and at shutdown acknowledges what it received
 * before it closes every device with 1001.
 */
export class DeviceGateway {
  readonly #opts: DeviceGatewayOptions;
  readonly #server: DeviceServer;
  readonly #sessions = new Set<DeviceSession>();
  readonly #refused = new Map<string, number>();
  #stopping = false;
  #paused = false;
  /** Why devices are refused (the database is unreachable, several hubs); undefined while it is reachable. */
  #cutOff: string | undefined;
  #lagTimer: NodeJS.Timeout | undefined;
  /** False once stop()'s final commit failed: main exits 1 (docs/operations.md). */
  #finalCommitOk = true;

  constructor(opts: DeviceGatewayOptions) {
    this.#opts = opts;
    this.#server = new DeviceServer({
      heartbeatMs: opts.heartbeatMs,
      authenticate: opts.authenticate,
      open: (link) => {
        const session = new DeviceSession(link, {
          registry: opts.registry,
          ingest: opts.ingest,
          onCommandResult: (id, frame) => opts.commands.onResult(id, frame),
          welcome: {
            heartbeatMs: opts.heartbeatMs,
            maxFrameBytes: LIMITS.maxFrameBytes,
            maxReadingsPerFrame: LIMITS.maxReadingsPerFrame,
            maxBatchSamples: LIMITS.maxBatchSamples,
            maxFramesPerSecond: opts.maxFramesPerSecond,
            commandTimeoutMs: opts.commands.timeoutMs, // [FP-6.2] 1.1 sessions
          },
          greetingTimeoutMs: opts.greetingTimeoutMs,
          now: opts.now,
          log: opts.log,
          onRefused: (code) => this.#refused.set(code, (this.#refused.get(code) ?? 0) + 1),
          updates: opts.updates,
          ...(opts.claim ? { claim: opts.claim } : {}),
        });
        this.#sessions.add(session);
        void session.closed.then(() => {
          this.#sessions.delete(session);
          opts.commands.connectionEnded(session); // [FP-7.7] its commands are not answered
        });
        session.start();
        // A device (re)connecting under back-pressure greets, then waits like the others.
        if (this.#paused) session.pause();
        return session;
      },
    });
  }

  /** WebSocket connections open now. */
  get connectionCount(): number {
    return this.#server.connectionCount;
  }

  /** Frames and sessions refused so far, by error code (for /metrics and /api/hub). */
  get refused(): ReadonlyMap<string, number> {
    return this.#refused;
  }

  /** The HTTP front's handler for `/v1/devices/<id>` upgrades; 503 once stopping. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.#stopping) return refuseUpgrade(socket, 'HUB_ERR_SHUTDOWN', 'hub is shutting down');
    if (this.#cutOff !== undefined) return refuseUpgrade(socket, 'HUB_ERR_STORAGE', this.#cutOff);
    this.#server.handleUpgrade(req, socket, head);
  }

  /** Whether stop()'s final commit stored everything received (true before stop()). */
  get finalCommitOk(): boolean {
    return this.#finalCommitOk;
  }

  /** Starts the heartbeat [FP-10.1] and the lag watch that excuses devices for the hub's stalls. */
  start(): void {
    this.#server.start();
    let last = performance.now();
    this.#lagTimer ??= setInterval(() => {
      const now = performance.now();
      const lag = now - last - LAG_CHECK_MS;
      last = now;
      if (lag >= LAG_EXCUSE_MIN_MS) for (const s of this.#sessions) s.excuse(lag);
    }, LAG_CHECK_MS).unref();
  }

  /**
   * Several hubs: this one cannot reach the database (HubCluster), so it can store nothing and the others
   * will take its devices. Every device is closed with 1013 (HUB_ERR_STORAGE), its unacknowledged frames
   * resent to the next hub of its list [FP-10.8], and upgrades are refused with 503 until `cutOff(undefined)`.
   */
  cutOff(message: string | undefined): void {
    this.#cutOff = message;
    if (message === undefined) return;
    for (const s of this.#sessions) s.fail('HUB_ERR_STORAGE', message);
  }

  /** Back-pressure from ingest: stop reading from every device, and from each one that connects, while storage cannot keep up. */
  setPaused(paused: boolean): void {
    this.#paused = paused;
    for (const s of this.#sessions) {
      if (paused) s.pause();
      else s.resume();
    }
  }

  /**
   * Refuses new devices, commits and acknowledges everything received, then closes each device with 1001
   * and waits (at most CLOSE_WAIT_MS) for the close handshakes. Nothing received is dropped silently.
   */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearInterval(this.#lagTimer);
    this.#lagTimer = undefined;
    for (const s of this.#sessions) s.pause();
    this.#server.stop();
    if (!(await this.#opts.ingest.flush())) {
      this.#finalCommitOk = false;
      this.#opts.log.error({ cause: this.#opts.ingest.fault?.cause, err: this.#opts.ingest.fault?.message },
        'final commit failed: unacknowledged readings stay with their devices');
    }
    this.#opts.ingest.stop();
    const closed = Promise.all([...this.#sessions].map((s) => s.closed));
    for (const s of this.#sessions) s.closeGoingAway();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))]);
    clearTimeout(timer);
    this.#opts.commands.stop();
  }
}
