import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { JournalSettings } from './storage/journal/ingest-journal.js';

// One schema for the whole hub: file (hearth.json), HEARTH_* environment variables and CLI flags are all
// derived from it, applied in that order, validated once with every error reported, then frozen.

type Kind = 'string' | 'int' | 'bool' | 'port' | 'enum';

interface Field {
  kind: Kind;
  default: string | number | boolean | null;
  help: string;
  secret?: boolean;
  options?: readonly string[];
  min?: number;
  /** A string field: the value must match, else the error says `expected <patternHelp>`. */
  pattern?: RegExp;
  patternHelp?: string;
  /** A port field: 0 picks a free port, null switches the listener off. */
}

export const CONFIG_SCHEMA = {
  'hub.id': { kind: 'string', default: null, pattern: /^[A-Za-z0-9_.-]{1,64}$/, patternHelp: '1 to 64 of A-Z a-z 0-9 _ . -', help: "This hub's name in logs, /metrics, bridge/info and the dashboard (several hubs of one installation need different ones); default: the machine's host name" },
  dataDir: { kind: 'string', default: './data', help: 'Directory for the database, TLS certificate, tokens and users' },
  host: { kind: 'string', default: '0.0.0.0', help: 'Address the HTTPS/WSS server binds to' },
  port: { kind: 'port', default: 8443, help: 'HTTPS port: devices (wss /v1/devices), API (/api), dashboard (/), MQTT over WebSocket (/mqtt)' },
  'tls.cert': { kind: 'string', default: null, help: 'PEM certificate file; default: a self-signed one generated into dataDir/tls' },
  'tls.key': { kind: 'string', default: null, help: 'PEM private key file for tls.cert', secret: true },
  'http.handshakeTimeoutMs': { kind: 'int', default: 5000, min: 100, help: 'Time a client has to finish the TLS handshake on the HTTPS port' },
  'http.headersTimeoutMs': { kind: 'int', default: 5000, min: 100, help: 'Time from the TLS handshake to a complete first request or upgrade (and for the headers of later requests)' },
  'http.maxConnectionsPerAddress': { kind: 'int', default: 200, min: 1, help: 'Connections one remote address may hold open on the HTTPS port' },
  'http.capLoopback': { kind: 'bool', default: true, help: 'Apply http.maxConnectionsPerAddress to loopback addresses too (false behind a local reverse proxy)' },
  'http.maxOpenFiles': { kind: 'int', default: 0, min: 0, help: 'Descriptor ceiling the HTTPS port guards; 0: the process soft open-file limit' },
  'http.busyOpenFilesPercent': { kind: 'int', default: 100, min: 1, help: 'Kept for older configurations (http.fdReserve replaces it): below 100, 503 HUB_ERR_BUSY also from this percent of the descriptor ceiling on' },
  'db.url': { kind: 'string', default: null, help: 'PostgreSQL database, postgres://user[:password]@host[:port]/db: selects the PostgreSQL store for the hub and the CLI; none: SQLite in dataDir' },
  'http.fdReserve': { kind: 'int', default: 256, min: 64, help: 'Spare descriptors below the ceiling: from there new requests and upgrades get 503 HUB_ERR_BUSY and new MQTT connections are closed' },
  'http.healthPort': { kind: 'port', default: null, help: 'Plain-HTTP port serving only /healthz and /readyz, outside TLS and accept pacing, for load balancers and systemd (null: off)' },
  'db.synchronous': { kind: 'enum', default: 'NORMAL', options: ['NORMAL', 'FULL'], help: 'SQLite synchronous mode: NORMAL survives process crashes, FULL also power loss' },
  'db.maxWalBytes': { kind: 'int', default: 67108864, min: 1048576, help: 'Bound of the SQLite WAL file, bytes: checkpoints truncate it before it passes this' },
  'retention.rawDays': { kind: 'int', default: 30, min: 1, help: 'Days raw readings are kept' },
  'retention.rollupDays': { kind: 'int', default: 365, min: 1, help: 'Days per-minute and per-hour rollups are kept' },
  'ingest.commitIntervalMs': { kind: 'int', default: 0, min: 0, help: 'Longest a reading waits for its group commit; 0: once per event-loop turn' },
  'ingest.commitMaxReadings': { kind: 'int', default: 4000, min: 1, help: 'Readings that trigger a group commit at once' },
  'ingest.maxPendingReadings': { kind: 'int', default: 200000, min: 1000, help: 'Uncommitted readings above which devices are paused (back-pressure)' },
  'ingest.journal': { kind: 'bool', default: true, help: 'Append group commits to an ingest journal beside the database and store them in large drains (SQLite; far fewer bytes written per reading)' },
  'ingest.journalDrainMs': { kind: 'int', default: 5000, min: 0, help: 'Longest a journaled reading waits before it is drained into the database (reads drain at once)' },
  'ingest.journalDrainReadings': { kind: 'int', default: 20000, min: 1, help: 'Journaled readings that trigger a drain at once' },
  'devices.heartbeatMs': { kind: 'int', default: 30000, min: 100, help: 'WebSocket ping interval; 2 missed pongs mark a device offline' },
  'devices.greetingTimeoutMs': { kind: 'int', default: 10000, min: 100, help: 'Time a device has to send HELLO' },
  'devices.maxFramesPerSecond': { kind: 'int', default: 200, min: 1, help: 'Sustained data frames per second per device (burst 2x)' },
  'devices.commandTimeoutMs': { kind: 'int', default: 10000, min: 100, help: 'How long a command waits for its COMMAND_RESULT' },
  'firmware.concurrency': { kind: 'int', default: 10, min: 1, help: 'Firmware transfers running at once across all devices (a rollout waits for free slots)' },
  'firmware.chunkBytes': { kind: 'int', default: 16384, min: 256, help: 'Bytes per firmware update chunk (at most 32768)' },
  'firmware.maxBytesPerSecond': { kind: 'int', default: 5242880, min: 0, help: 'Firmware chunk bytes sent per second across all transfers, a ceiling on what a rollout puts on the network and on the devices (0: no limit)' },
  'firmware.deferSeconds': { kind: 'int', default: 300, min: 1, help: 'Wait before offering an update again when a device defers it without a time' },
  'firmware.maxImageBytes': { kind: 'int', default: 67108864, min: 1024, help: 'Largest firmware image the HTTP API accepts (POST /api/firmware)' },
  'mqtt.host': { kind: 'string', default: '127.0.0.1', help: 'Address the embedded MQTT listeners bind to' },
  'mqtt.port': { kind: 'port', default: 1883, help: 'Embedded broker MQTT/TCP port (null: off)' },
  'mqtt.tlsPort': { kind: 'port', default: 8883, help: 'Embedded broker MQTT/TLS port (null: off)' },
  'mqtt.websocket': { kind: 'bool', default: true, help: 'Serve MQTT over WebSocket at /mqtt on the HTTPS port' },
  'mqtt.embedded': { kind: 'bool', default: true, help: 'Run the embedded broker' },
  'mqtt.allowAnonymous': { kind: 'bool', default: false, help: 'Let MQTT clients connect without a user' },
  'mqtt.baseTopic': { kind: 'string', default: 'hearth', help: 'Root of the topic tree' },
  'mqtt.discoveryPrefix': { kind: 'string', default: 'homeassistant', help: 'Home Assistant discovery prefix' },
  'mqtt.discoveryMode': { kind: 'enum', default: 'device', options: ['device', 'entity'], help: 'Home Assistant discovery: one config per device (HA 2024.11+) or one per entity (older HA)' },
  'mqtt.url': { kind: 'string', default: null, help: 'External broker, mqtt[s]://host:port, to publish into as well' },
  'mqtt.username': { kind: 'string', default: null, help: 'User for the external broker' },
  'mqtt.password': { kind: 'string', default: null, help: 'Password for the external broker', secret: true },
  'mqtt.ca': { kind: 'string', default: null, help: 'CA file to trust the external broker' },
  'mqtt.protocolVersion': { kind: 'enum', default: '5', options: ['5', '3.1.1'], help: 'MQTT version the hub speaks to the external broker' },
  'mqtt.aclFile': { kind: 'string', default: null, help: "ACL file in Mosquitto's format refining the embedded broker's roles per user" },
  'mqtt.rediscoverDelayMs': { kind: 'int', default: 5000, min: 0, help: 'Longest random wait before re-publishing discovery and state after Home Assistant comes online' },
  'mqtt.rediscoverRate': { kind: 'int', default: 500, min: 1, help: 'Retained publishes per second while re-publishing after Home Assistant comes online' },
  'mqtt.stateHeartbeatMs': { kind: 'int', default: 300000, min: 0, help: 'Re-send an unchanged device state at most this often, when a reading arrives; 0: only on change' },
  'mqtt.stateMinIntervalMs': { kind: 'int', default: 100, min: 0, help: "Publish a device's state at most this often (the latest value at the interval's end); the readings stream still carries every reading; 0: every change" },
  'mqtt.maxPacketBytes': { kind: 'int', default: 262144, min: 1024, help: 'Largest MQTT packet the embedded broker reads after CONNECT (and WebSocket message at /mqtt); advertised in the MQTT 5 CONNACK' },
  'mqtt.preConnectMaxBytes': { kind: 'int', default: 16384, min: 512, help: 'Bytes a client may send before its CONNECT is accepted' },
  'mqtt.connectTimeoutMs': { kind: 'int', default: 10000, min: 100, help: 'Time a client has for the TLS handshake and then for a complete CONNECT' },
  'mqtt.maxSubscriptionsPerClient': { kind: 'int', default: 1000, min: 1, help: 'Topic filters one MQTT connection may hold; more get SUBACK 0x80' },
  'mqtt.maxFiltersPerSubscribe': { kind: 'int', default: 500, min: 1, help: 'Topic filters one SUBSCRIBE may carry; the ones past it get SUBACK 0x80' },
  'mqtt.maxConnectionsPerAddress': { kind: 'int', default: 100, min: 1, help: 'Connections one remote address may hold on the MQTT TCP and TLS listeners (loopback included)' },
  'mqtt.maxClientBacklogBytes': { kind: 'int', default: 8388608, min: 65536, help: 'Unsent bytes one MQTT client may have queued before it is disconnected as too slow (it never holds up the others)' },
  'mqtt.healthIntervalMs': { kind: 'int', default: 10000, min: 0, help: 'Interval of <base>/bridge/health messages; 0: none' },
  'log.level': { kind: 'enum', default: 'info', options: ['debug', 'info', 'warn', 'error', 'silent'], help: 'Log level' },
} as const satisfies Record<string, Field>;

export type ConfigKey = keyof typeof CONFIG_SCHEMA;

/** Config files looked for in the working directory, first found wins. */
export const DEFAULT_FILES = ['hearth.json', 'hearth.yaml', 'hearth.yml'];
type ValueOf<F> = F extends { kind: 'int' | 'port' } ? number : F extends { kind: 'bool' } ? boolean : string;
type Nullable<F, T> = F extends { default: null } ? T | null : F extends { kind: 'port' } ? T | null : T;
export type HubConfig = { readonly [K in ConfigKey]: Nullable<(typeof CONFIG_SCHEMA)[K], ValueOf<(typeof CONFIG_SCHEMA)[K]>> };

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** `mqtt.tlsPort` -> `HEARTH_MQTT_TLS_PORT`. */
export function envName(key: string): string {
  return `HEARTH_${key.replace(/\./g, '_').replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

/** `mqtt.tlsPort` -> `mqtt-tls-port`. */
export function flagName(key: string): string {
  return key.replace(/\./g, '-').replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase();
}

export interface ConfigSources {
  /**
   * Path of a config file (`.json`, or `.yaml`/`.yml`); default `hearth.json` or `hearth.yaml` in the working
   * directory when one exists; null: none.
   */
  file?: string | null;
  env?: NodeJS.ProcessEnv;
  /** Flag name (without --) to raw value, as parsed from the command line. */
  flags?: Record<string, string | boolean | undefined>;
  /** Values set by code (tests), applied last. */
  overrides?: Partial<Record<ConfigKey, unknown>>;
}

/** Builds the effective configuration from file, environment, flags and overrides; throws ConfigError listing every problem. */
export function loadConfig(sources: ConfigSources = {}): HubConfig {
  const problems: string[] = [];
  const raw: Record<string, unknown> = {};
  const keys = Object.keys(CONFIG_SCHEMA) as ConfigKey[];

  const file = sources.file === null ? undefined : (sources.file ?? DEFAULT_FILES.find((f) => existsSync(f)));
  if (file) {
    try {
      const text = readFileSync(file, 'utf8');
      // yaml is loaded only for a YAML file: importing it at start cost every hub restart 0.3 s.
      const parsed: unknown = /\.ya?ml$/i.test(file) ? (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse(text) : JSON.parse(text);
      flatten(parsed, '', raw, problems, file);
    } catch (err) {
      problems.push(`${file}: ${(err as Error).message}`);
    }
  }
  for (const key of Object.keys(raw)) {
    if (!(key in CONFIG_SCHEMA)) problems.push(`${file}: unknown setting "${key}"`);
  }
  const env = sources.env ?? {};
  for (const key of keys) {
    const value = env[envName(key)];
    if (value !== undefined) raw[key] = value;
  }
  const byFlag = new Map(keys.map((k) => [flagName(k), k]));
  for (const [flag, value] of Object.entries(sources.flags ?? {})) {
    if (value === undefined) continue;
    const key = byFlag.get(flag);
    if (!key) problems.push(`unknown flag --${flag}`);
    else raw[key] = value;
  }
  Object.assign(raw, sources.overrides ?? {});

  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const field: Field = CONFIG_SCHEMA[key];
    const value = key in raw ? raw[key] : field.default;
    const parsed = coerce(key, field, value, problems);
    out[key] = parsed;
  }
  const dbUrl = out['db.url'];
  const urlProblem = typeof dbUrl === 'string' ? dbUrlProblem(dbUrl) : undefined;
  if (urlProblem) problems.push(`db.url (${envName('db.url')}, --${flagName('db.url')}): ${urlProblem}, got ${JSON.stringify(maskUrlCredentials(dbUrl as string))}`);
  if (problems.length > 0) throw new ConfigError(problems);
  out.dataDir = resolve(String(out.dataDir));
  return Object.freeze(out) as HubConfig;
}

function flatten(value: unknown, prefix: string, out: Record<string, unknown>, problems: string[], file: string): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${file}: expected an object${prefix ? ` at "${prefix}"` : ''}`);
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(key in CONFIG_SCHEMA)) flatten(v, key, out, problems, file);
    else out[key] = v;
  }
}

function coerce(key: string, field: Field, value: unknown, problems: string[]): unknown {
  const bad = (what: string) => {
    problems.push(`${key} (${envName(key)}, --${flagName(key)}): ${what}, got ${JSON.stringify(value)}`);
    return field.default;
  };
  if (value === null || value === undefined || value === '' || value === 'null' || value === 'off') {
    if (field.default === null || field.kind === 'port') return null;
    if (value === 'off' && field.kind === 'bool') return false;
    return bad('a value is required');
  }
  switch (field.kind) {
    case 'string':
      if (typeof value !== 'string') return bad('expected a string');
      return field.pattern && !field.pattern.test(value) ? bad(`expected ${field.patternHelp}`) : value;
    case 'enum':
      return typeof value === 'string' && field.options?.includes(value) ? value : bad(`expected one of ${field.options?.join(', ')}`);
    case 'bool':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === '1' || value === 'on') return true;
      if (value === 'false' || value === '0') return false;
      return bad('expected true or false');
    case 'int':
    case 'port': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
      if (!Number.isInteger(n)) return bad('expected a whole number');
      if (field.kind === 'port' && (n < 0 || n > 65535)) return bad('expected a port from 0 to 65535');
      if (field.min !== undefined && n < field.min) return bad(`expected at least ${field.min}`);
      return n;
    }
  }
}

/** Why `url` is not a PostgreSQL connection URL (postgres[ql]://[user[:password]@]host[:port]/database), or undefined. */
export function dbUrlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'expected a URL such as postgres://user@host:5432/hearth';
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') return `expected a postgres:// or postgresql:// URL, not ${u.protocol}//`;
  if (!u.hostname && !u.searchParams.get('host')) return 'expected a host (postgres://user@host:5432/hearth)';
  if (u.port && !(Number(u.port) >= 1 && Number(u.port) <= 65535)) return 'expected a port from 1 to 65535';
  if (u.pathname.length <= 1 || u.pathname.slice(1).includes('/')) return 'expected a database name as the path (postgres://user@host:5432/hearth)';
  return undefined;
}

/** The configuration as `hearth config print` shows it: secrets masked, and credentials in `mqtt.url`. */
export function printableConfig(config: HubConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(CONFIG_SCHEMA) as [ConfigKey, Field][]) {
    const value = config[key];
    out[key] = field.secret && value !== null ? '********' : (key === 'mqtt.url' || key === 'db.url') && typeof value === 'string' ? maskUrlCredentials(value) : value;
  }
  return out;
}

/** `mqtt://user:pass@host` -> `mqtt://********@host`: a URL fit for logs and `config print`. */
export function maskUrlCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, '$1********@');
}

/** The embedded broker's limits against hostile clients from `mqtt.*`. */
export function mqttLimits(config: HubConfig): { maxPacketBytes: number; preConnectMaxBytes: number; connectTimeoutMs: number; maxSubscriptionsPerClient: number; maxFiltersPerSubscribe: number; maxConnectionsPerAddress: number; maxClientBacklogBytes: number } {
  return {
    maxPacketBytes: config['mqtt.maxPacketBytes'],
    preConnectMaxBytes: config['mqtt.preConnectMaxBytes'],
    connectTimeoutMs: config['mqtt.connectTimeoutMs'],
    maxSubscriptionsPerClient: config['mqtt.maxSubscriptionsPerClient'],
    maxFiltersPerSubscribe: config['mqtt.maxFiltersPerSubscribe'],
    maxConnectionsPerAddress: config['mqtt.maxConnectionsPerAddress'],
    maxClientBacklogBytes: config['mqtt.maxClientBacklogBytes'],
  };
}

/** The hub's id: `hub.id`, or the host name made fit for one (see CONFIG_SCHEMA). */
export function hubId(config: HubConfig): string {
  return config['hub.id'] ?? (hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64) || 'hearth');
}

export function dbPath(config: HubConfig): string {
  return join(config.dataDir, 'hearth.db');
}

/** The HTTPS port's crowd limits from `http.*`. */
export function httpLimits(config: HubConfig): { handshakeTimeoutMs: number; headersTimeoutMs: number; maxConnectionsPerAddress: number; capLoopback: boolean; maxOpenFiles: number; fdReserve: number; busyOpenFilesPercent: number } {
  return {
    handshakeTimeoutMs: config['http.handshakeTimeoutMs'],
    headersTimeoutMs: config['http.headersTimeoutMs'],
    maxConnectionsPerAddress: config['http.maxConnectionsPerAddress'],
    capLoopback: config['http.capLoopback'],
    maxOpenFiles: config['http.maxOpenFiles'],
    fdReserve: config['http.fdReserve'],
    busyOpenFilesPercent: config['http.busyOpenFilesPercent'],
  };
}

/** The FirmwareService settings of the config. */
export function firmwareSettings(config: HubConfig): { concurrency: number; chunkBytes: number; deferSeconds: number; maxImageBytes: number; maxBytesPerSecond: number } {
  const maxImageBytes = config['firmware.maxImageBytes'];
  const maxBytesPerSecond = config['firmware.maxBytesPerSecond'];
  return { concurrency: config['firmware.concurrency'], chunkBytes: config['firmware.chunkBytes'], deferSeconds: config['firmware.deferSeconds'], maxImageBytes, maxBytesPerSecond };
}

const DAY_MS = 24 * 3600_000;

/** The store's settings from `db.*` and `retention.*`: path and SQLite tuning (SQLite), retention (both engines). */
export function storeSettings(config: HubConfig): {
  path: string;
  synchronous: 'NORMAL' | 'FULL';
  maxWalBytes: number;
  retention: { rawMs: number; rollupMs: number };
  journal?: JournalSettings;
} {
  return {
    path: dbPath(config),
    synchronous: config['db.synchronous'] as 'NORMAL' | 'FULL',
    maxWalBytes: config['db.maxWalBytes'] as number,
    retention: { rawMs: config['retention.rawDays'] * DAY_MS, rollupMs: config['retention.rollupDays'] * DAY_MS },
    ...(config['ingest.journal'] && { journal: { drainMs: config['ingest.journalDrainMs'] as number, drainReadings: config['ingest.journalDrainReadings'] as number } }),
  };
}
