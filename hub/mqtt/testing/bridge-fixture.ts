// One MqttBridge on loopback with every listener (TCP, TLS, WSS on an https server), real users and the hub's
// real registry and command rules (TestHubFacade), for the bridge's integration tests. Everything it opens,
// close() closes.
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { refuseUpgrade } from '../../http/refuse-upgrade.js';
import { requestPath } from '../../http/request.js';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { generate } from 'selfsigned';
import { pino } from 'pino';
import { Authorizer } from '../../auth/authorizer.js';
import { SessionStore } from '../../auth/session-store.js';
import { UserStore } from '../../auth/user-store.js';
import { MqttBridge, type MqttBridgeOptions } from '../mqtt-bridge.js';
import { TestHubFacade } from './test-hub-facade.js';
import { memoryLogger } from './mqtt-test-kit.js';

export const PASSWORDS = { admin: 'pw-admin', integration: 'pw-integration', viewer: 'pw-viewer' } as const;
export type TestUser = keyof typeof PASSWORDS;

/** A self-signed EC certificate for 127.0.0.1 (EC: much faster to make than RSA). */
export async function makeCert(): Promise<{ key: string; cert: string }> {
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  return { key: pems.private, cert: pems.cert };
}

export class BridgeFixture {
  readonly facade = new TestHubFacade();
  readonly logger = memoryLogger();
  dir = '';
  users!: UserStore;
  tlsPems!: { key: string; cert: string };
  https!: https.Server;
  bridge!: MqttBridge;
  readonly #clients: MqttClient[] = [];
  #extra: Partial<MqttBridgeOptions> = {};

  /** Users named after their roles (admin, integration, viewer); the bridge with TCP, TLS and WSS on port 0. */
  async open(extra: Partial<MqttBridgeOptions> = {}): Promise<void> {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-mqtt-'));
    this.users = new UserStore({ dataDir: this.dir });
    this.users.load();
    await Promise.all(
      (Object.keys(PASSWORDS) as TestUser[]).map((role) => this.users.add(role, PASSWORDS[role], role)),
    );
    this.tlsPems = await makeCert();
    this.https = https.createServer({ key: this.tlsPems.key, cert: this.tlsPems.cert });
    // Like the hub's HTTPS front (hub/http/server.ts): /mqtt upgrades go to the bridge, any other path gets 404.
    this.https.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (requestPath(req.url) === '/mqtt') return this.bridge.handleUpgrade(req, socket, head);
      refuseUpgrade(socket, 'HUB_ERR_NOT_FOUND', `no WebSocket endpoint at ${requestPath(req.url)}`);
    });
    await new Promise<void>((resolve) => this.https.listen(0, '127.0.0.1', resolve));
    this.#extra = extra;
    await this.#startBridge();
  }

  /** Stops the bridge (as a hub stopping) and starts a new one with the same options, on new ports. */
  async restart(): Promise<void> {
    await Promise.all(this.#clients.splice(0).map((c) => c.endAsync(true)));
    await this.bridge.stop();
    await this.#startBridge();
  }

  async #startBridge(): Promise<void> {
    const extra = this.#extra;
    this.bridge = new MqttBridge({
      facade: this.facade,
      auth: new Authorizer({ dataDir: this.dir, users: this.users, sessions: new SessionStore(), devices: { deviceCredentials: () => undefined }, log: pino({ level: 'silent' }) }),
      tcpPort: 0,
      tlsPort: 0,
      tls: this.tlsPems,
      websocket: true,
      logger: this.logger,
      ...extra,
    });
    await this.bridge.start();
  }

  get tcpPort(): number {
    return (this.bridge.addresses().tcp as AddressInfo).port;
  }

  get tlsPort(): number {
    return (this.bridge.addresses().tls as AddressInfo).port;
  }

  get httpsPort(): number {
    return (this.https.address() as AddressInfo).port;
  }

  /** An mqtt.js client over TCP (or another url), closed by close(). No reconnects. */
  async client(user: TestUser | null, opts: IClientOptions & { url?: string } = {}): Promise<MqttClient> {
    const { url, ...rest } = opts;
    const c = await connectAsync(url ?? `mqtt://127.0.0.1:${this.tcpPort}`, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...(user ? { username: user, password: PASSWORDS[user] } : {}),
      ...rest,
    });
    this.#clients.push(c);
    return c;
  }

  async close(): Promise<void> {
    await Promise.all(this.#clients.map((c) => c.endAsync(true)));
    await this.bridge?.stop();
    if (this.https) {
      this.https.closeAllConnections();
      await new Promise<void>((resolve) => this.https.close(() => resolve()));
    }
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    this.facade.close();
  }
}
