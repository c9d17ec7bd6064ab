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
  authenticate: (deviceId: string, token: string | undefined) => DeviceAuthResult;
  registry: DeviceRegistry;
  ingest: IngestPipeline;
  commands: CommandService;
  now: () => number;
  log: Logger;
  /** Firmware updates over the device sessions [FP-14]. */
  updates?: FirmwareService;
}

/** How long stop() waits for devices to finish the close handshake. */
const CLOSE_WAIT_MS = 3000;

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
          },
          greetingTimeoutMs: opts.greetingTimeoutMs,
          now: opts.now,
          log: opts.log,
          onRefused: (code) => this.#refused.set(code, (this.#refused.get(code) ?? 0) + 1),
          updates: opts.updates,
        });
        this.#sessions.add(session);
        void session.closed.then(() => this.#sessions.delete(session));
        session.start();
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
    this.#server.handleUpgrade(req, socket, head);
  }

  /** Starts the heartbeat [FP-10.1]. */
  start(): void {
    this.#server.start();
  }

  /** Back-pressure from ingest: stop reading from every device while storage cannot keep up. */
  setPaused(paused: boolean): void {
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
    for (const s of this.#sessions) s.pause();
    this.#server.stop();
    if (!this.#opts.ingest.flush()) this.#opts.log.error('final commit failed: unacknowledged readings stay with their devices');
    this.#opts.ingest.stop();
    const closed = Promise.all([...this.#sessions].map((s) => s.closed));
    for (const s of this.#sessions) s.closeGoingAway();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))]);
    clearTimeout(timer);
    this.#opts.commands.stop();
  }
}
