#!/usr/bin/env node
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CONFIG_SCHEMA, ConfigError, dbPath, flagName, loadConfig, printableConfig, type HubConfig } from './config.js';
import { newDeviceCredentials } from './auth/device-tokens.js';
import { deviceIdProblem } from './devices/device-id.js';
import { HubStore } from './storage/hub-store.js';
import { PgStore } from './storage/pg/pg-store.js';
import type { HubStoreContract } from './storage/store-contract.js';
import type { DeviceRecord } from './storage/types.js';
import { runUserCommand } from './cli-users.js';
import { FIRMWARE_HELP, runFirmwareCommand } from './cli-firmware.js';
import { runMigrateCommand } from './cli-migrate.js';
import { HUB_VERSION } from './version.js';

/** Exit codes: 0 done, 1 the operation failed, 2 bad usage, 3 invalid configuration. */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, CONFIG: 3 } as const;

export class UsageError extends Error {}

const HELP: Record<string, string> = {
  main: `hearth ${HUB_VERSION}: the Hearth smart-home hub

Usage: hearth <command> [options]

Commands:
  start                 run the hub (HTTPS/WSS on :8443, MQTT on :1883/:8883)
  device add|list|revoke  manage device credentials
  user add|list|remove  manage MQTT and dashboard users
  firmware add|list|update  firmware images and updates over the air
  config print          show the effective configuration (secrets masked)
  backup <file>         consistent online copy of the database
  migrate --from <db> --to <postgres://...>  copy a SQLite database into PostgreSQL, verified

Options:
  --config <file>       configuration file, JSON or YAML (default: ./hearth.json or ./hearth.yaml if present)
  --version, --help     (--help works on every command)

Exit codes: 0 ok, 1 operation failed, 2 bad usage, 3 invalid configuration.`,
  start: `Usage: hearth start [options]

Every setting can come from hearth.json or hearth.yaml, a HEARTH_* environment variable, or a flag (highest precedence):
${Object.entries(CONFIG_SCHEMA)
  .map(([key, f]) => `  --${flagName(key)} <${f.kind}>`.padEnd(40) + `${f.help} (default ${JSON.stringify(f.default)})`)
  .join('\n')}`,
  device: `Usage:
  hearth device add <id> [--name <name>] [--type <type>] [--credentials <file>]
      Creates a device and prints its token once (only a salted hash is stored). With --credentials, also
      appends { id, token, model } to a JSON file that hearth-sim --credentials reads.
  hearth device list [--json]
  hearth device revoke <id>
      A connected device is disconnected at once (close 4010) and can no longer connect.
Options: --data-dir <dir> (default ./data), --db-url <postgres://...> (the hub's PostgreSQL database), --config <file>`,
  user: `Usage:
  hearth user add <name> --role admin|integration|viewer [--password <password>]
      Without --password, reads it from standard input (one line).
  hearth user list [--json]
  hearth user remove <name>
      Ends the user's dashboard sessions too (a running hub notices within a second).
Options: --data-dir <dir> (default ./data: users.json), --db-url <postgres://...> (the hub's PostgreSQL
database, shared by every hub on it), --config <file>`,
  firmware: FIRMWARE_HELP,
  config: `Usage: hearth config print [options]
Prints the effective configuration as JSON, after hearth.json/hearth.yaml, HEARTH_* variables and flags, secrets masked.`,
  backup: `Usage: hearth backup <file> [--data-dir <dir>]
Copies the database with SQLite's online backup API; safe while the hub runs.
Restore: stop the hub, copy <file> to <data-dir>/hearth.db (remove hearth.db-wal and hearth.db-shm), start.`,
};

const configOptions: NonNullable<ParseArgsConfig['options']> = Object.fromEntries(
  Object.keys(CONFIG_SCHEMA).map((key) => [flagName(key), { type: 'string' as const }]),
);

/** Runs the CLI with `argv` (without node and script); resolves with the exit code. */
export async function main(argv: string[], io = { out: process.stdout, err: process.stderr, stdin: process.stdin }): Promise<number> {
  const say = (text: string) => io.out.write(`${text}\n`);
  try {
    // Its own parser: --version takes a value there.
    if (argv[0] === 'firmware') return await runFirmwareCommand(argv.slice(1), say);
    if (argv[0] === 'migrate') return await runMigrateCommand(argv.slice(1), say, (text) => io.err.write(`${text}\n`));
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        ...configOptions,
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        name: { type: 'string' },
        type: { type: 'string' },
        credentials: { type: 'string' },
        json: { type: 'boolean' },
        role: { type: 'string' },
        password: { type: 'string' },
      },
    });
    const [command, sub, ...rest] = positionals;
    if (values.version) return say(HUB_VERSION), EXIT.OK;
    if (!command || command === 'help') return say(HELP.main!), command ? EXIT.OK : values.help ? EXIT.OK : EXIT.USAGE;
    if (!(command in HELP) || command === 'main') throw new UsageError(`unknown command "${command}" (try hearth --help)`);
    if (values.help) return say(HELP[command]!), EXIT.OK;

    const flags: Record<string, string | undefined> = {};
    const all = values as Record<string, unknown>;
    for (const key of Object.keys(CONFIG_SCHEMA)) flags[flagName(key)] = all[flagName(key)] as string | undefined;
    const config = loadConfig({ file: values.config as string | undefined, env: process.env, flags });

    switch (command) {
      case 'start': {
        if (sub) throw new UsageError(`start takes no arguments, got "${sub}"`);
        const { runHub } = await import('./main.js'); // keeps the other commands quick to start
        await runHub(config);
        return -1; // keeps running until a signal
      }
      case 'config':
        if (sub !== 'print') throw new UsageError('usage: hearth config print');
        return say(JSON.stringify(printableConfig(config), null, 2)), EXIT.OK;
      case 'backup': {
        if (!sub || rest.length > 0) throw new UsageError('usage: hearth backup <file>');
        if (config['db.url'] !== null) throw new Error(PG_NO_BACKUP);
        if (!existsSync(dbPath(config))) throw new Error(`no database at ${dbPath(config)}`);
        const store = new HubStore({ path: dbPath(config) });
        store.open();
        try {
          await store.backup(sub);
        } finally {
          store.close();
        }
        return say(`backup written to ${sub}`), EXIT.OK;
      }
      case 'device':
        return await deviceCommand(config, sub, rest, values as Record<string, unknown>, say);
      case 'user':
        return await runUserCommand(config, sub, rest, values as Record<string, unknown>, { say, stdin: io.stdin });
    }
    throw new UsageError(`unknown command "${command}"`);
  } catch (err) {
    const e = err as Error & { code?: string };
    if (err instanceof ConfigError) return io.err.write(`hearth: ${e.message}\n`), EXIT.CONFIG;
    if (err instanceof UsageError || e.code?.startsWith('ERR_PARSE_ARGS')) return io.err.write(`hearth: ${e.message}\n`), EXIT.USAGE;
    io.err.write(`hearth: ${e.message}\n`);
    return EXIT.FAILED;
  }
}

/** Why `hearth backup` does not take db.url: PostgreSQL has its own tools for a consistent copy. */
const PG_NO_BACKUP = 'hearth backup copies the SQLite database; with db.url set, back up PostgreSQL with its own tools (pg_dump, or pg_basebackup for point-in-time recovery), see docs/operations.md';

/** The store the config names: PostgreSQL with db.url (a pool of one connection), else the SQLite file in dataDir. */
async function openStore(config: HubConfig): Promise<HubStoreContract> {
  const url = config['db.url'];
  const store: HubStoreContract = url === null ? new HubStore({ path: dbPath(config) }) : new PgStore({ url, poolSize: 1 });
  await store.open();
  return store;
}

async function deviceCommand(config: HubConfig, sub: string | undefined, args: string[], values: Record<string, unknown>, say: (t: string) => void): Promise<number> {
  const store = await openStore(config);
  try {
    switch (sub) {
      case 'add': {
        const id = args[0];
        if (!id || args.length > 1) throw new UsageError('usage: hearth device add <id> [--name <name>] [--type <type>]');
        const problem = deviceIdProblem(id);
        if (problem) throw new UsageError(problem);
        const { record, token } = newDeviceCredentials(id, String(values.name ?? id), String(values.type ?? ''), Date.now());
        try {
          await store.addDevice(record);
        } catch (err) {
          if ((err as { code?: string }).code === 'HUB_ERR_DEVICE_EXISTS') throw new Error(`device "${id}" exists (revoke it first, or pick another id)`);
          throw err;
        }
        if (typeof values.credentials === 'string') appendCredentials(values.credentials, { id, token, model: record.type || undefined });
        say(`device ${id} added. Its token (shown once, store it on the device):\n${token}`);
        return EXIT.OK;
      }
      case 'list': {
        const devices = (await store.listDevices()).map((d: DeviceRecord) => ({
          id: d.id, name: d.name, type: d.type, model: d.model, firmware: d.firmware,
          lastSeen: d.lastSeen ? new Date(d.lastSeen).toISOString() : null,
          revoked: d.revokedAt !== null,
        }));
        if (values.json) say(JSON.stringify(devices, null, 2));
        else if (devices.length === 0) say('no devices; add one with: hearth device add <id>');
        else for (const d of devices) say(`${d.id.padEnd(24)} ${(d.type || '-').padEnd(12)} ${(d.model || '-').padEnd(16)} ${d.revoked ? 'revoked' : d.lastSeen ?? 'never seen'}`);
        return EXIT.OK;
      }
      case 'revoke': {
        const id = args[0];
        if (!id || args.length > 1) throw new UsageError('usage: hearth device revoke <id>');
        if (!(await store.revokeDevice(id, Date.now()))) throw new Error(`no active device "${id}"`);
        say(`device ${id} revoked; a running hub disconnects it within ${config['db.url'] === null ? 'a second' : 'five seconds'}`);
        return EXIT.OK;
      }
      default:
        throw new UsageError('usage: hearth device add|list|revoke (see hearth device --help)');
    }
  } finally {
    await store.close();
  }
}

function appendCredentials(file: string, entry: { id: string; token: string; model?: string }): void {
  const existing = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { devices?: unknown[] }) : {};
  const devices = Array.isArray(existing.devices) ? existing.devices : [];
  devices.push(entry);
  writeFileSync(file, `${JSON.stringify({ ...existing, devices }, null, 2)}\n`, { mode: 0o600 });
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => {
    if (code >= 0) process.exit(code);
  });
}
