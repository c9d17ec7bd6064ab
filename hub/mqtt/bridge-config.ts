import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { hubId, mqttLimits, type HubConfig } from '../config.js';
import type { DeviceAdmin, DeviceFacade } from '../facade.js';
import type { Logger } from '../logger.js';
import type { HistogramSnapshot } from '../observability/metrics-registry.js';
import { HUB_COMMIT } from '../build-commit.js';
import { HUB_VERSION } from '../version.js';
import type { MqttAuthenticator } from './embedded-broker.js';
import type { MqttBridgeOptions, TlsPems } from './mqtt-bridge.js';

/** The embedded broker's file of other integrations' retained messages, in dataDir. */
export const RETAINED_FILE = 'mqtt-retained.json';

/** Whether the config asks for an MQTT bridge at all (embedded broker, external broker, or both). */
export function mqttConfigured(c: HubConfig): boolean {
  return c['mqtt.embedded'] || c['mqtt.url'] !== null;
}

/** The bridge's options from the hub's `mqtt.*` settings. */
export function bridgeOptions(
  c: HubConfig,
  deps: { facade: DeviceFacade & DeviceAdmin; auth: MqttAuthenticator; tls: () => TlsPems; log: Logger; ackLatency?: () => HistogramSnapshot; cluster?: { othersAlive(): boolean; caretaker(): boolean } },
): MqttBridgeOptions {
  return {
    ...(deps.cluster ? { cluster: deps.cluster } : {}),
    facade: deps.facade,
    admin: deps.facade,
    auth: deps.auth,
    rediscoverDelayMs: c['mqtt.rediscoverDelayMs'],
    rediscoverRate: c['mqtt.rediscoverRate'],
    stateHeartbeatMs: c['mqtt.stateHeartbeatMs'],
    stateMinIntervalMs: c['mqtt.stateMinIntervalMs'],
    healthIntervalMs: c['mqtt.healthIntervalMs'],
    baseTopic: c['mqtt.baseTopic'],
    discoveryPrefix: c['mqtt.discoveryPrefix'],
    discoveryMode: c['mqtt.discoveryMode'] === 'entity' ? 'entity' : 'device',
    hubVersion: HUB_VERSION,
    commit: HUB_COMMIT,
    hubId: hubId(c),
    ackLatency: deps.ackLatency ?? null,
    hubUrl: hubUrl(c),
    embedded: c['mqtt.embedded'],
    host: c['mqtt.host'],
    tcpPort: c['mqtt.port'],
    tlsPort: c['mqtt.tlsPort'],
    tls: deps.tls,
    websocket: c['mqtt.websocket'],
    allowAnonymous: c['mqtt.allowAnonymous'],
    aclFile: c['mqtt.aclFile'],
    retainedFile: join(c.dataDir, RETAINED_FILE),
    limits: mqttLimits(c),
    external: c['mqtt.url']
      ? {
          url: c['mqtt.url'],
          ...(c['mqtt.username'] ? { username: c['mqtt.username'] } : {}),
          ...(c['mqtt.password'] ? { password: c['mqtt.password'] } : {}),
          ...(c['mqtt.ca'] ? { ca: readFileSync(c['mqtt.ca']) } : {}),
          protocolVersion: c['mqtt.protocolVersion'] === '3.1.1' ? 4 : 5,
        }
      : null,
    logger: deps.log,
  };
}

/** Ready as far as MQTT goes: each configured embedded listener is bound (always true without the embedded broker). */
export function brokerReady(c: HubConfig, a: { tcp: unknown; tls: unknown } | undefined): boolean {
  if (!c['mqtt.embedded']) return true;
  return a !== undefined && (c['mqtt.port'] === null || a.tcp !== null) && (c['mqtt.tlsPort'] === null || a.tls !== null);
}

/** The hub's public HTTPS base URL from `host`/`port` (the machine's hostname for a wildcard bind); null without a port. */
export function hubUrl(c: Pick<HubConfig, 'host' | 'port'>, machine: () => string = hostname): string | null {
  if (c.port === null || c.port === 0) return null;
  const wildcard = c.host === '0.0.0.0' || c.host === '::' || c.host === '';
  const host = wildcard ? machine() : c.host;
  return `https://${host.includes(':') ? `[${host}]` : host}:${c.port}`;
}
