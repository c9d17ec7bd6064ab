// Test support: the hub the simulator's tests run against, made of the hub's real parts (DeviceServer,
// DeviceSession, DeviceRegistry, IngestPipeline, CommandService, the HTTP API) on a real HubStore in a temp
// directory, plain ws:// or wss:// with a self-signed certificate. It holds no rule of its own: faults are
// injected through narrow seams of the real parts (commits held at the IngestStore, a restart that skips the
// final commit, an ERROR and close sent on a device's link), and what happened is read off the wire (DeviceTap)
// and out of the database.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { encode, LIMITS } from '../../protocol/index.js';
import type { CommandResultFrame, Value } from '../../protocol/index.js';
import { hashToken } from '../../hub/auth/device-tokens.js';
import { loadConfig } from '../../hub/config.js';
import { CommandService } from '../../hub/devices/command-service.js';
import { DeviceRegistry } from '../../hub/devices/device-registry.js';
import { EventBus } from '../../hub/events.js';
import { DeviceSession } from '../../hub/gateway/device-session.js';
import { createApi } from '../../hub/http/api.js';
import { sendJson } from '../../hub/http/respond.js';
import { IngestPipeline, type IngestStore } from '../../hub/ingest/ingest-pipeline.js';
import { createLogger } from '../../hub/logger.js';
import { HubStore } from '../../hub/storage/hub-store.js';
import { UPGRADE_STATUSES } from '../../protocol/error-codes.js';
import { Authorizer, type DeviceAuthResult } from '../../hub/auth/authorizer.js';
import { Facade } from '../../hub/facade.js';
import type { HubInfoResponse } from '../../hub/http/api-types.js';
import { refuseUpgrade } from '../../hub/http/refuse-upgrade.js';
import { requestPath } from '../../hub/http/request.js';
import { DeviceServer, type DeviceLink, type LinkListener } from '../../hub/transport/device-server.js';
import type { RecordedItem } from '../send-record.js';
import { DeviceTap, tapLink, tapUpgradeResponse } from './device-tap.js';
import { testCertificate } from './test-certificate.js';
import { storedItems } from './stored-items.js';
import { sqliteNow } from '../../hub/testing/sqlite-now.js';

export interface TestHubOptions {
  /** Serve wss:// with a self-signed certificate (default: plain ws://). */
  tls?: boolean;
  /** deviceId -> token, provisioned at start. */
  tokens?: Record<string, string>;
  /** A device the hub does not know is provisioned with the token it presents, on its first connection. */
  acceptAnyToken?: boolean;
  /** Bearer token of the HTTP API (POST /api/devices provisions). */
  adminToken?: string;
  /** WELCOME values (defaults: the protocol's limits, the hub's configured heartbeat and rate). */
  heartbeatMs?: number;
  maxFramesPerSecond?: number;
  maxBatchSamples?: number;
  maxFrameBytes?: number;
  maxReadingsPerFrame?: number;
  /** The hub's clock (WELCOME.hubTime, rate limiting, stamps); default Date.now. Share a ManualClock with the devices. */
  now?: () => number;
}

/** Raw COMMAND ids start here, above any id the command log hands out in a test. */
const RAW_COMMAND_IDS = 1_000_000;
/** How long stop() waits for a device to complete the closing handshake before cutting it off. */
const CLOSE_WAIT_MS = 1000;

interface Live {
  link: DeviceLink;
  session: DeviceSession;
}

/** The parts of one run, from start() to stop(). */
interface Run {
  server: Server;
  /** Set by stop(): further upgrades are answered 503 HUB_ERR_SHUTDOWN, as the hub's front does. */
  refusing: boolean;
  auth: Authorizer;
  store: HubStore;
  registry: DeviceRegistry;
  ingest: IngestPipeline;
  commands: CommandService;
  live: Map<string, Live>;
}

/** A hub of real parts. start() listens on an ephemeral port; restart() comes back on the same port and database. */
export class TestHub {
  /** Every upgrade refused at authentication, in order. */
  readonly refusals: { deviceId: string; status: number; code: string }[] = [];
  /** When set, every upgrade is refused with this status and error code. */
  refuseWith: { code: 'HUB_ERR_UNKNOWN_DEVICE' | 'HUB_ERR_BAD_TOKEN' } | null = null;
  /** Connections accepted since the first start. */
  connections = 0;
  /** The permessage-deflate parameters each accepted connection negotiated ('' if none), in order. */
  readonly extensions: string[] = [];
  /**
   * Every connection's end: the close code the device sent (1006 when the TCP connection just ended) and
   * the bytes read from its socket, upgrade request included (to see compression at work).
   */
  readonly closes: { deviceId: string; code: number; bytesRead: number }[] = [];
  ca: string | undefined;
  readonly #o: TestHubOptions;
  readonly #now: () => number;
  readonly #tokens: Map<string, string>;
  readonly #taps = new Map<string, DeviceTap>();
  readonly #raw = new Map<number, { deviceId: string; resolve: (r: CommandResultFrame) => void }>();
  #dir: string | undefined;
  #run: Run | undefined;
  #port = 0;
  #held = false;
  #rawIds = RAW_COMMAND_IDS;
  #duplicates = 0;
  /** The socket being upgraded, so the connection it becomes can report its bytes read. */
  #upgrading: Duplex | undefined;

  constructor(options: TestHubOptions = {}) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#tokens = new Map(Object.entries(options.tokens ?? {}));
  }

  get port(): number {
    return this.#port;
  }

  /** `ws://127.0.0.1:<port>` or `wss://...`. */
  get url(): string {
    return `${this.#o.tls === true ? 'wss' : 'ws'}://127.0.0.1:${this.#port}`;
  }

  /** 'auto': commits and ACKs as the hub does; 'hold': commits fail at the store, so frames stay unacknowledged. */
  get ackMode(): 'auto' | 'hold' {
    return this.#held ? 'hold' : 'auto';
  }

  set ackMode(mode: 'auto' | 'hold') {
    this.#held = mode === 'hold';
  }

  /** Duplicates the ingest acknowledged without storing, over every run. */
  get duplicates(): number {
    return this.#duplicates + (this.#run?.ingest.stats.duplicates ?? 0);
  }

  /** Opens the database, then listens (on an ephemeral port the first time, on the same port after a restart). */
  async start(): Promise<void> {
    if (this.#run) return;
    const tls = this.#o.tls === true ? await testCertificate() : null;
    this.ca = tls?.cert;
    this.#dir ??= mkdtempSync(join(tmpdir(), 'hearth-test-hub-'));
    const config = loadConfig({ env: {}, file: null, overrides: { dataDir: this.#dir } });
    const log = createLogger('silent');
    const store = new HubStore({ path: join(this.#dir, 'hub.db'), now: this.#now });
    store.open();
    for (const [id, token] of this.#tokens) this.#provision(store, id, token);
    const bus = new EventBus();
    const registry = new DeviceRegistry(store, bus);
    registry.load();
    const live = new Map<string, Live>();
    const held: IngestStore = {
      committedSeqs: () => store.committedSeqs(),
      seriesId: (deviceId, metric, valueType) => store.seriesId(deviceId, metric, valueType),
      commit: (batch) => {
        if (this.#held) throw new Error('commit held by the test (ackMode hold)');
        store.commit(batch);
      },
    };
    const ingest = new IngestPipeline(held, registry, bus, {
      commitIntervalMs: config['ingest.commitIntervalMs'],
      commitMaxReadings: config['ingest.commitMaxReadings'],
      maxPendingReadings: config['ingest.maxPendingReadings'],
      now: this.#now,
      log,
      onPressure: (paused) => {
        for (const { session } of live.values()) {
          if (paused) session.pause();
          else session.resume();
        }
      },
    });
    ingest.start();
    const commands = new CommandService({ registry, store, bus, timeoutMs: config['devices.commandTimeoutMs'], now: this.#now });
    const welcome = {
      heartbeatMs: this.#o.heartbeatMs ?? config['devices.heartbeatMs'],
      maxFrameBytes: this.#o.maxFrameBytes ?? LIMITS.maxFrameBytes,
      maxReadingsPerFrame: this.#o.maxReadingsPerFrame ?? LIMITS.maxReadingsPerFrame,
      maxBatchSamples: this.#o.maxBatchSamples ?? LIMITS.maxBatchSamples,
      maxFramesPerSecond: this.#o.maxFramesPerSecond ?? config['devices.maxFramesPerSecond'],
      commandTimeoutMs: commands.timeoutMs, // [FP-6.2] 1.1 sessions only, as on the hub
    };
    // The heartbeat is never started: tests ping on demand (ping()), so no wall-clock ping disturbs a ManualClock.
    const devices = new DeviceServer({
      heartbeatMs: welcome.heartbeatMs,
      authenticate: (id, token) => this.#authenticate(run, id, token),
      open: (link) => this.#open(run, link, (tapped) => new DeviceSession(tapped, {
        registry,
        ingest,
        onCommandResult: (id, frame) => this.#onResult(id, frame, commands),
        welcome,
        greetingTimeoutMs: config['devices.greetingTimeoutMs'],
        now: this.#now,
        log,
        onRefused: () => {},
      })),
    });
    // The test hub's API answers provisioning only; /api/hub is not served from it.
    const facade = new Facade({ bus, registry, commands, store, ingest, now: this.#now, info: () => ({}) as HubInfoResponse });
    const api = createApi({
      facade,
      now: this.#now,
      authorize: (req) => (this.#o.adminToken !== undefined && req.headers.authorization === `Bearer ${this.#o.adminToken}` ? { role: 'admin', username: 'admin-token' } : null),
    });
    const auth = new Authorizer({ dataDir: this.#dir, devices: registry, log });
    const onRequest: Parameters<typeof createHttpServer>[1] = (req, res) => {
      if ((req.url ?? '').startsWith('/api/')) return void api(req, res);
      sendJson(res, 404, { error: 'HUB_ERR_NOT_FOUND', message: 'the test hub serves /api/ only' });
    };
    const server = tls !== null ? createHttpsServer({ cert: tls.cert, key: tls.key }, onRequest) : createHttpServer(onRequest);
    // One upgrade listener, routed as the hub's HTTPS front routes it (hub/http/server.ts).
    server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      if (run.refusing) return refuseUpgrade(socket, 'HUB_ERR_SHUTDOWN', 'hub is shutting down');
      if (!DeviceServer.matches(requestPath(req.url))) return refuseUpgrade(socket, 'HUB_ERR_NOT_FOUND', `no WebSocket endpoint at ${requestPath(req.url)}`);
      tapUpgradeResponse(socket, (extensions) => this.extensions.push(extensions));
      this.#upgrading = socket;
      try {
        devices.handleUpgrade(req, socket, head);
      } finally {
        this.#upgrading = undefined;
      }
    });
    const run: Run = { server, refusing: false, auth, store, registry, ingest, commands, live };
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => resolve());
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#run = run;
  }

  /**
   * Stops as the hub does: refuses new connections, commits and acknowledges what it received, closes every
   * connection with 1001, closes the database. With loseUncommitted it crashes instead: nothing more is committed.
   */
  async stop(options: { loseUncommitted?: boolean } = {}): Promise<void> {
    const run = this.#run;
    if (!run) return;
    this.#run = undefined;
    run.refusing = true;
    run.server.close();
    const sessions = [...run.live.values()];
    for (const { session } of sessions) session.pause();
    if (options.loseUncommitted === true) {
      for (const tap of this.#taps.values()) tap.forgetUnacked();
    } else {
      run.ingest.flush(); // fails while commits are held: those frames are lost, as a failed final commit loses them
    }
    run.ingest.stop();
    const closed = Promise.all(sessions.map(({ session }) => session.closed));
    for (const { session } of sessions) session.closeGoingAway();
    const cutOff = setTimeout(() => sessions.forEach(({ link }) => link.terminate()), CLOSE_WAIT_MS);
    await closed;
    clearTimeout(cutOff);
    run.commands.stop();
    this.#duplicates += run.ingest.stats.duplicates;
    run.server.closeAllConnections();
    await new Promise<void>((resolve) => run.server.close(() => resolve()));
    run.store.close();
  }

  /** Stops and starts again on the same port and database, keeping what was committed. */
  async restart(options: { loseUncommitted?: boolean } = {}): Promise<void> {
    await this.stop(options);
    await this.start();
  }

  /** Stops, then deletes the database: the end of the hub's life (testHubs() calls it after each test). */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.#dir !== undefined) rmSync(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }

  /** Lets commits through again, commits what was held and acknowledges it. */
  resumeAcking(): void {
    this.#held = false;
    this.#run?.ingest.flush();
  }

  /** Closes every connection with `code`, or drops the TCP connections without a close frame when omitted. */
  dropConnections(code?: number): void {
    for (const { link } of this.#run?.live.values() ?? []) {
      if (code === undefined) link.terminate();
      else link.close(code, 'dropped by test');
    }
  }

  /** Sends ERROR{code} on a device's connection and closes it with `closeCode`, as the hub refuses a session. */
  kick(deviceId: string, code: string, closeCode: number): void {
    const live = this.#run?.live.get(deviceId);
    if (live === undefined) return;
    live.link.send(encode({ type: 'error', code, message: 'kicked by test' }));
    live.link.close(closeCode, code);
  }

  /** Pings every connection (or one device's); resolves once each answered with a pong. */
  async ping(deviceId?: string): Promise<void> {
    const targets = [...(this.#run?.live.entries() ?? [])].filter(([id]) => deviceId === undefined || id === deviceId);
    await Promise.all(targets.map(([id, { link }]) => {
      const pong = this.device(id).nextPong();
      link.ping();
      return pong;
    }));
  }

  /** Sends raw bytes as one binary message to a device (frames the codec would not produce). */
  sendRaw(deviceId: string, bytes: Uint8Array): void {
    this.#run?.live.get(deviceId)?.link.send(bytes);
  }

  /**
   * Sends a COMMAND for any metric and value (unchecked, to test the device's own refusals) on the device's
   * live session; resolves with its COMMAND_RESULT.
   */
  command(deviceId: string, metric: number, value: Value): Promise<CommandResultFrame> {
    const session = this.#run?.registry.session(deviceId);
    if (session === undefined) return Promise.reject(new Error(`device ${deviceId} is not connected`));
    const id = ++this.#rawIds;
    return new Promise((resolve) => {
      this.#raw.set(id, { deviceId, resolve });
      session.send({ type: 'command', id, metric, value });
    });
  }

  /** Provisions a device with the given token (now, or at the next start). */
  addDevice(deviceId: string, token: string): void {
    this.#tokens.set(deviceId, token);
    const run = this.#run;
    if (run && this.#provision(run.store, deviceId, token)) run.registry.reconcile(this.#now());
  }

  /** What passed on the wire with the device, across connections and restarts. */
  device(deviceId: string): DeviceTap {
    let tap = this.#taps.get(deviceId);
    if (tap === undefined) {
      tap = new DeviceTap(deviceId);
      this.#taps.set(deviceId, tap);
    }
    return tap;
  }

  /** Every reading and event the database holds for the device, in time order (see storedItems); while started. */
  stored(deviceId: string): RecordedItem[] {
    if (!this.#run) throw new Error('the test hub is stopped: start() it to read its database');
    return storedItems(this.#run.store, deviceId);
  }

  /** Highest seq the hub durably stored for the device (WELCOME.nextSeq - 1). */
  committedSeq(deviceId: string): number {
    return this.#run?.ingest.committedSeq(deviceId) ?? 0;
  }

  #provision(store: HubStore, id: string, token: string): boolean {
    if (store.getDevice(id) !== undefined) return false;
    const { salt, hash } = hashToken(token);
    store.addDevice({ id, name: id, type: '', tokenSalt: salt, tokenHash: hash, createdAt: this.#now() });
    return true;
  }

  #authenticate(run: Run, deviceId: string, token: string | undefined): DeviceAuthResult {
    let result: DeviceAuthResult;
    if (this.refuseWith !== null) {
      result = { ok: false, ...this.refuseWith, message: 'refused by the test hub' };
    } else {
      if (this.#o.acceptAnyToken === true && token !== undefined && !run.registry.has(deviceId)) this.addDevice(deviceId, token);
      result = sqliteNow(run.auth.authenticateDevice(deviceId, token));
    }
    if (!result.ok) this.refusals.push({ deviceId, status: UPGRADE_STATUSES[result.code], code: result.code });
    return result;
  }

  /** Wires an accepted connection: its session sees the link through the tap, and the tap sees both directions. */
  #open(run: Run, link: DeviceLink, session: (link: DeviceLink) => DeviceSession): LinkListener {
    this.connections++;
    const tap = this.device(link.deviceId);
    const socket = this.#upgrading;
    const tapped = tapLink(link, tap);
    const entry: Live = { link: tapped, session: session(tapped) };
    run.live.set(link.deviceId, entry);
    entry.session.start();
    return {
      onMessage: (data, binary) => {
        tap.fromDevice(data, binary);
        entry.session.onMessage(data, binary);
      },
      onClose: (code, reason) => {
        this.closes.push({ deviceId: link.deviceId, code, bytesRead: (socket as { bytesRead?: number } | undefined)?.bytesRead ?? 0 });
        entry.session.onClose(code, reason);
        run.commands.connectionEnded(entry.session); // [FP-7.7] as the hub's gateway does
        if (run.live.get(link.deviceId) === entry) run.live.delete(link.deviceId);
      },
      onPong: () => tap.pong(),
    };
  }

  /** Raw commands' results go to their caller; every other result to the real command service. */
  #onResult(deviceId: string, frame: CommandResultFrame, commands: CommandService): void {
    const raw = this.#raw.get(frame.id);
    if (raw === undefined || raw.deviceId !== deviceId) return commands.onResult(deviceId, frame);
    this.#raw.delete(frame.id);
    raw.resolve(frame);
  }
}
