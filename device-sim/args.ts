// hearth-sim's command line, parsed and validated in one place (node:util parseArgs). Every refusal
// names the flag it is about, so `hearth-sim --rate x` says what to fix; the CLI maps UsageError to exit 2.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseMix } from './fleet-plan.js';
import { parseOtaFaults, type OtaFaults } from './ota-faults.js';

/** A command line the user must fix (exit code 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface SimArgs {
  help: boolean;
  /** --hub as given. */
  hub: string;
  /** Its addresses: one, or several hubs of one installation (`--hub wss://a,wss://b`) [FP-10.8]. */
  hubs: string[];
  devices?: number;
  mix?: [string, number][];
  scenario?: string;
  credentials?: string;
  /** Reading ticks per second per device: each takes one reading of every metric of the model (one TELEMETRY frame). */
  rate: number;
  /** How long to run, ms; undefined: until SIGINT/SIGTERM. */
  durationMs?: number;
  provision: boolean;
  adminToken?: string;
  /** API origin for --provision; default derived from --hub. */
  api?: string;
  idPrefix: string;
  seed: string;
  ca?: string;
  insecure: boolean;
  stateDir?: string;
  /** With --state-dir: keep each device's never-compacted journal there (device-<id>.record.jsonl). */
  record: boolean;
  json: boolean;
  /** Dials per second while the fleet starts. */
  ramp: number;
  bufferFrames?: number;
  bufferBytes?: number;
  /** Firmware-update faults by device id; '*' for every device (--ota-fault). */
  otaFaults?: Map<string, OtaFaults>;
}

export const USAGE = `Usage: hearth-sim --hub wss://host:port (--devices N | --mix model=N,... | --scenario FILE | --credentials FILE) [options]

A fleet of simulated Hearth devices speaking the device protocol to a hub.
Several hubs of one installation: --hub wss://a:8443,wss://b:8443 (device i dials hub i mod n first; every
reconnect goes to the next address, with the same backoff).

Fleet:
  --devices N              N devices, spread over every model (with --credentials: its first N entries)
  --mix m=N,...            devices per model: thermostat, light, smart_plug, motion_sensor, door_contact, air_quality
  --scenario FILE          JSON, or YAML (.yaml/.yml), array of { id, model, rate? }
  --credentials FILE       JSON { "devices": [ { "id", "token", "model"? } ] }, as written by hearth device add --credentials
  --provision              create the devices through the hub's API (POST /api/devices); needs --admin-token.
                           Their tokens go to --credentials FILE (default: <state-dir>/credentials.json,
                           or ./hearth-sim-credentials.json), so the same command can run again
  --admin-token TOKEN      admin API token for --provision
  --api URL                API origin for --provision (default: the first --hub origin over https)
  --id-prefix PREFIX       prefix of generated device ids (default "sim-")
  --seed SEED              seed of every random choice (default "hearth")

Running:
  --rate R                 reading ticks per second per device (default 1): each tick reads every metric of
                           the model, so it is R TELEMETRY frames/s, each with one reading per metric
                           (1 to 4 by model), plus the model's events
  --duration D             run for D (500ms, 30s, 5m, 1h), then stop gracefully; default: until Ctrl-C
  --ramp R                 connections opened per second while starting (default 500)
  --state-dir DIR          keep each device's unacknowledged frames and sequence numbers here across runs,
                           journaled before each frame is sent: a killed run resumes losing nothing
  --record                 with --state-dir: also write device-<id>.record.jsonl there, every reading
                           generated, sent, acknowledged or dropped, never compacted (for audits)
  --buffer-frames N        frames a device buffers while offline before dropping the oldest (default 10000)
  --buffer-bytes N         bytes a device buffers while offline before dropping the oldest (default 1048576)

Firmware updates (every device accepts them, firmware-protocol.md section 14):
  --ota-fault [ID:]F+F...  inject update faults, for device ID or (without ID:) every device; entries joined
                           by commas. F: disconnect@0.3 (drop mid-transfer at 30%, repeatable), corrupt@0.5
                           (a chunk fails its CRC), bad-hash (the final SHA-256 fails), refuse=REASON,
                           defer=N (defer N offers), rollback (come back with the old version), window=N
                           e.g. --ota-fault sim-3:disconnect@0.3+disconnect@0.6,sim-5:corrupt@0.5

TLS:
  --ca FILE                trust this CA / self-signed certificate (the hub prints its path)
  --insecure               do not verify the hub's certificate (testing only)

Output:
  --json                   print one machine-readable summary at the end instead of the live status line
  -h, --help               show this help

Exit codes: 0 all devices connected and nothing lost; 1 readings dropped/unacknowledged or devices never
connected; 2 bad usage.`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  hub: { type: 'string' },
  devices: { type: 'string' },
  mix: { type: 'string' },
  scenario: { type: 'string' },
  credentials: { type: 'string' },
  rate: { type: 'string' },
  duration: { type: 'string' },
  provision: { type: 'boolean' },
  'admin-token': { type: 'string' },
  api: { type: 'string' },
  'id-prefix': { type: 'string' },
  seed: { type: 'string' },
  ca: { type: 'string' },
  insecure: { type: 'boolean' },
  'state-dir': { type: 'string' },
  record: { type: 'boolean' },
  json: { type: 'boolean' },
  ramp: { type: 'string' },
  'buffer-frames': { type: 'string' },
  'buffer-bytes': { type: 'string' },
  'ota-fault': { type: 'string' },
} as const;

type Raw = Partial<Record<keyof typeof OPTIONS, string | boolean>>;

/** Parses hearth-sim's argv (without node and script); throws UsageError naming the offending flag. */
export function parseSimArgs(argv: string[]): SimArgs {
  const { values, tokens } = parseArgs({ args: argv, options: OPTIONS, strict: false, allowPositionals: true, tokens: true });
  for (const t of tokens) {
    if (t.kind === 'positional') throw new UsageError(`unexpected argument "${t.value}"`);
    if (t.kind !== 'option') continue;
    const spec = (OPTIONS as Record<string, { type: string }>)[t.name];
    if (spec === undefined) throw new UsageError(`unknown flag ${t.rawName}`);
    if (spec.type === 'boolean' && t.value !== undefined) throw new UsageError(`${t.rawName} takes no value`);
    // parseArgs (non-strict) would take the next flag as the value: `--rate --json`.
    if (spec.type === 'string' && (t.value === undefined || (!t.inlineValue && t.value.startsWith('--')))) {
      throw new UsageError(`${t.rawName} needs a value`);
    }
  }
  const raw = values as Raw;
  const str = (k: keyof typeof OPTIONS): string | undefined => (typeof raw[k] === 'string' ? (raw[k] as string) : undefined);
  const help = raw.help === true;
  if (help) return { help, hub: '', hubs: [], rate: 1, provision: false, idPrefix: 'sim-', seed: 'hearth', insecure: false, record: false, json: false, ramp: 500 };

  const hub = str('hub');
  if (hub === undefined) throw new UsageError('--hub is required (e.g. --hub wss://localhost:8443)');
  const hubs = hub.split(',').map((h) => h.trim());
  for (const h of hubs) {
    if (!/^wss?:\/\/[^/\s]+\/?$/.test(h)) throw new UsageError(`--hub needs ws:// or wss:// URLs like wss://host:8443 (several: comma-separated), got "${h}"`);
  }
  if (new Set(hubs).size !== hubs.length) throw new UsageError(`--hub names an address twice: "${hub}"`);

  const args: SimArgs = {
    help,
    hub,
    hubs,
    rate: positiveNumber('--rate', str('rate')) ?? 1,
    provision: raw.provision === true,
    idPrefix: str('id-prefix') ?? 'sim-',
    seed: str('seed') ?? 'hearth',
    insecure: raw.insecure === true,
    record: raw.record === true,
    json: raw.json === true,
    ramp: positiveNumber('--ramp', str('ramp')) ?? 500,
  };
  const optional = {
    devices: positiveInteger('--devices', str('devices')),
    mix: str('mix') === undefined ? undefined : mixOf(str('mix')!),
    scenario: str('scenario'),
    credentials: str('credentials'),
    durationMs: str('duration') === undefined ? undefined : durationOf(str('duration')!),
    adminToken: str('admin-token'),
    api: str('api'),
    ca: str('ca'),
    stateDir: str('state-dir'),
    bufferFrames: positiveInteger('--buffer-frames', str('buffer-frames')),
    bufferBytes: positiveInteger('--buffer-bytes', str('buffer-bytes')),
    otaFaults: str('ota-fault') === undefined ? undefined : otaFaultsOf(str('ota-fault')!),
  };
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) (args as unknown as Record<string, unknown>)[k] = v;

  const kinds = (['--devices', '--mix', '--scenario'] as const).filter((f) => ({ '--devices': args.devices, '--mix': args.mix, '--scenario': args.scenario })[f] !== undefined);
  if (kinds.length > 1) throw new UsageError(`${kinds.join(' and ')} exclude each other: describe the fleet one way`);
  if (kinds.length === 0 && args.credentials === undefined) {
    throw new UsageError('say which devices to run: --devices N, --mix model=N,..., --scenario FILE or --credentials FILE');
  }
  if (args.provision && args.adminToken === undefined) throw new UsageError('--provision needs --admin-token <token>');
  if (!args.provision && args.adminToken !== undefined) throw new UsageError('--admin-token is only used with --provision');
  if (!args.provision && args.api !== undefined) throw new UsageError('--api is only used with --provision');
  if (args.api !== undefined && !/^https?:\/\/[^/\s]+\/?$/.test(args.api)) throw new UsageError(`--api needs an http(s):// origin, got "${args.api}"`);
  if (args.provision && args.credentials === undefined && args.devices === undefined && args.mix === undefined && args.scenario === undefined) {
    throw new UsageError('--provision needs --devices, --mix or --scenario to know what to create');
  }
  if (args.record && args.stateDir === undefined) throw new UsageError('--record needs --state-dir DIR (the record is kept there)');
  if (args.provision && args.credentials === undefined) args.credentials = args.stateDir === undefined ? 'hearth-sim-credentials.json' : join(args.stateDir, 'credentials.json');
  if (args.ca !== undefined && args.insecure) throw new UsageError('--ca and --insecure exclude each other');
  if (!/^[A-Za-z0-9_.-]{0,40}$/.test(args.idPrefix)) throw new UsageError(`--id-prefix takes up to 40 of A-Z a-z 0-9 _ . -, got "${args.idPrefix}"`);
  return args;
}

/** Parses a duration: 500ms, 30s, 5m, 1h, or plain seconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (m === null) return undefined;
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  const ms = Math.round(n * unit);
  return ms > 0 ? ms : undefined;
}

function durationOf(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new UsageError(`--duration needs a duration like 30s, 5m or 500ms, got "${text}"`);
  return ms;
}

function otaFaultsOf(text: string): Map<string, OtaFaults> {
  const out = new Map<string, OtaFaults>();
  for (const entry of text.split(',')) {
    const colon = entry.indexOf(':');
    const id = colon < 0 ? '*' : entry.slice(0, colon);
    try {
      out.set(id, parseOtaFaults(colon < 0 ? entry : entry.slice(colon + 1)));
    } catch (err) {
      throw new UsageError(`--ota-fault ${entry}: ${(err as Error).message}`);
    }
  }
  return out;
}

function mixOf(text: string): [string, number][] {
  try {
    return parseMix(text);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function positiveNumber(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} needs a positive number, got "${text}"`);
  return n;
}

function positiveInteger(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${flag} needs a positive integer, got "${text}"`);
  return n;
}
