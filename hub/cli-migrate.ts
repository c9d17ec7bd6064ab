import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { readAdminToken } from './auth/admin-token.js';
import { UserStore } from './auth/user-store.js';
import { dbUrlProblem, maskUrlCredentials } from './config.js';
import { FileImageBytes } from './firmware/firmware-images.js';
import { copyReadings, copyTables, markRolledUp, pgCountsPerSeries, pgTableCounts, targetProblem, COPIED_TABLES } from './storage/pg/pg-import.js';
import { PgStore } from './storage/pg/pg-store.js';
import { SqliteExport } from './storage/pg/sqlite-export.js';

export const MIGRATE_HELP = `Usage: hearth migrate --from <data/hearth.db> --to <postgres://user@host:5432/hearth>
Copies a single-box SQLite database into an empty PostgreSQL database: devices and their token hashes,
sequence state, every reading, the minute and hour rollups, events, the command log, firmware images (their
bytes from <dir of --from>/firmware into the database) and updates (ids kept), and from the database's folder
the users of users.json (their password hashes) and the admin token of admin.token. Stop the hub first: the
SQLite file is compacted before the copy. Then it counts the readings of every series on both sides and
prints them; any difference exits 1. A user whose name the target already has is kept as it is there, and
so is an admin token already there; dashboard sessions are not copied (sign in again). Exit codes: 0 copied
and verified, 1 failed, 2 bad usage.`;

/** One line of the verification table. */
export interface SeriesCount {
  series: number;
  device: string;
  metric: string;
  sqlite: number;
  postgres: number;
}

/** `hearth migrate --from <file> --to <url>`: copies, verifies and prints; resolves with the exit code. */
export async function runMigrateCommand(argv: string[], say: (text: string) => void, complain: (text: string) => void): Promise<number> {
  let values: { from?: string; to?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, strict: true, options: { from: { type: 'string' }, to: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    return complain(`hearth: ${(err as Error).message}\n${MIGRATE_HELP}`), 2;
  }
  if (values.help) return say(MIGRATE_HELP), 0;
  if (!values.from || !values.to) return complain(`hearth: migrate needs --from and --to\n${MIGRATE_HELP}`), 2;
  const problem = dbUrlProblem(values.to);
  if (problem) return complain(`hearth: --to ${maskUrlCredentials(values.to)}: ${problem}`), 2;
  if (!existsSync(values.from)) return complain(`hearth: no SQLite database at ${values.from}`), 1;
  try {
    return await migrate(values.from, values.to, say, complain);
  } catch (err) {
    return complain(`hearth: migrate failed: ${(err as Error).message}`), 1;
  }
}

async function migrate(from: string, to: string, say: (text: string) => void, complain: (text: string) => void): Promise<number> {
  const target = new PgStore({ url: to, poolSize: 2 });
  await target.open();
  let src: SqliteExport | undefined;
  try {
    const full = await targetProblem(target.pool);
    if (full) return complain(`hearth: ${full}`), 1;
    src = SqliteExport.open(from);
    const copied = await copyTables(target.pool, src);
    const readings = await copyReadings(target, src.readings());
    await markRolledUp(target.pool);
    const missing = await copyImageBytes(target, src, dirname(from));
    if (missing.length > 0) complain(`hearth: warning: no intact file in ${dirname(from)}/firmware for image ${missing.join(', ')}; its updates fail with image_missing until it is added again`);
    say(`copied ${readings} readings and ${[...copied].map(([t, n]) => `${n} ${t}`).join(', ')} to ${maskUrlCredentials(to)}`);
    say(await copyCredentials(target, dirname(from)));

    const names = new Map(src.rows('series').map((r) => [r.id as number, [String(r.device_id), String(r.metric)] as const]));
    const lite = src.countsPerSeries();
    const pgCounts = await pgCountsPerSeries(target.pool);
    const rows: SeriesCount[] = [...new Set([...lite.keys(), ...pgCounts.keys()])].sort((a, b) => a - b).map((series) => ({
      series, device: names.get(series)?.[0] ?? '?', metric: names.get(series)?.[1] ?? '?', sqlite: lite.get(series) ?? 0, postgres: pgCounts.get(series) ?? 0,
    }));
    say(formatCounts(rows));
    const tables = await pgTableCounts(target.pool);
    const badTables = COPIED_TABLES.filter((t) => tables.get(t) !== copied.get(t));
    const badSeries = rows.filter((r) => r.sqlite !== r.postgres);
    if (badSeries.length > 0 || badTables.length > 0) {
      complain(
        `hearth: verification failed: ${badSeries.length} series differ${badSeries.length ? ` (${badSeries.slice(0, 5).map((r) => `${r.device}/${r.metric}`).join(', ')})` : ''}` +
          `${badTables.length ? `; tables differ: ${badTables.join(', ')}` : ''}`,
      );
      return 1;
    }
    say(`verified: ${rows.length} series, ${readings} readings, the same on both sides`);
    return 0;
  } finally {
    src?.close();
    await target.close();
  }
}

/**
 * Copies users.json's users (hashes as they are) and admin.token from `dataDir` into the shared tables;
 * names and a token the target has already are kept. Returns the line to print.
 */
async function copyCredentials(target: PgStore, dataDir: string): Promise<string> {
  const users = new UserStore({ dataDir });
  users.load();
  const all = users.stored();
  let copied = 0;
  for (const u of all) if (await target.auth.insertUser(u)) copied++;
  const kept = all.length - copied;
  const local = readAdminToken(dataDir);
  const token = local === undefined ? undefined : await target.auth.adminToken(local);
  const tokenLine = token === undefined ? 'no admin.token to copy' : token.created ? 'the admin token' : 'not the admin token (the target has one; hubs on it use that)';
  return `copied ${copied} user${copied === 1 ? '' : 's'}${kept > 0 ? ` (${kept} kept as the target has them)` : ''} and ${tokenLine}`;
}

/**
 * Copies each catalogued image's bytes from `<dataDir>/firmware/<sha256>.bin` into the database, where the
 * hubs on PostgreSQL read them; returns the SHA-256s without an intact file.
 */
async function copyImageBytes(target: PgStore, src: SqliteExport, dataDir: string): Promise<string[]> {
  const files = new FileImageBytes(dataDir);
  const missing: string[] = [];
  for (const image of src.rows('firmware_images')) {
    const sha256 = String(image.sha256);
    const bytes = files.get(sha256);
    if (bytes && bytes.length === Number(image.size)) await target.firmwareBytes.put(sha256, bytes);
    else missing.push(sha256);
  }
  return missing;
}

/** The per-series table `hearth migrate` prints. */
export function formatCounts(rows: SeriesCount[]): string {
  const head = ['series', 'device', 'metric', 'sqlite', 'postgres', ''];
  const body = rows.map((r) => [String(r.series), r.device, r.metric, String(r.sqlite), String(r.postgres), r.sqlite === r.postgres ? 'ok' : 'MISMATCH']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body].map((cells) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
