#!/usr/bin/env node
// hearth-sim: runs a simulated fleet against a hub. Composition only: arguments (args.ts), fleet plan
// (fleet-plan.ts), provisioning (provision.ts), the fleet itself (fleet.ts) and the status line.
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseSimArgs, USAGE, UsageError, type SimArgs } from './args.js';
import { Fleet, type FleetStats } from './fleet.js';
import { parse as parseYaml } from 'yaml';
import { attachTokens, parseCredentials, parseScenario, planCount, planFromCredentials, planMix, PlanError, type Credential, type DevicePlan, type DeviceSpec } from './fleet-plan.js';
import { apiBaseOf, provisionDevices } from './provision.js';
import { formatStatus, formatSummary } from './status-line.js';

export const EXIT = { OK: 0, LOST: 1, USAGE: 2 } as const;

export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown };
  /** Aborting it stops the run gracefully (the CLI wires SIGINT/SIGTERM to it). */
  signal?: AbortSignal;
}

/** The JSON summary `--json` prints. */
export interface SimSummary {
  ok: boolean;
  exitCode: number;
  hub: string;
  neverConnected: string[];
  lostReadings: number;
  stats: FleetStats;
}

/** Runs hearth-sim with `argv` (without node and script); resolves with the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let args: SimArgs;
  let specs: DeviceSpec[];
  let ca: string | undefined;
  try {
    args = parseSimArgs(argv);
    if (args.help) {
      io.stdout.write(`${USAGE}\n`);
      return EXIT.OK;
    }
    ca = args.ca === undefined ? undefined : await readText('--ca', args.ca);
    specs = await planDevices(args, ca);
  } catch (err) {
    if (err instanceof UsageError || err instanceof PlanError) {
      io.stderr.write(`hearth-sim: ${err.message}\n(see hearth-sim --help)\n`);
      return EXIT.USAGE;
    }
    io.stderr.write(`hearth-sim: ${(err as Error).message}\n`);
    return EXIT.LOST;
  }

  if (args.insecure) {
    io.stderr.write('hearth-sim: --insecure: the hub certificate is not checked, so the device tokens can be intercepted; real devices must never do this [FP-2.6]\n');
  }
  const fleet = new Fleet({
    hubUrl: args.hubs,
    devices: specs,
    rate: args.rate,
    seed: args.seed,
    ca,
    insecure: args.insecure,
    rampPerSecond: args.ramp,
    stateDir: args.stateDir,
    journalRecord: args.record,
    buffer: { ...(args.bufferFrames ? { maxFrames: args.bufferFrames } : {}), ...(args.bufferBytes ? { maxBytes: args.bufferBytes } : {}) },
    otaFaults: (id) => args.otaFaults?.get(id) ?? args.otaFaults?.get('*'),
  });
  const live = !args.json && io.stdout.isTTY === true;
  let lastGenerated = 0;
  let lastAt = Date.now();
  const report = setInterval(() => {
    const s = fleet.stats();
    const now = Date.now();
    const perSecond = ((s.generated - lastGenerated) * 1000) / Math.max(1, now - lastAt);
    lastGenerated = s.generated;
    lastAt = now;
    if (live) io.stdout.write(`\r\x1b[K${formatStatus(s, perSecond)}`);
    else if (!args.json) io.stdout.write(`${formatStatus(s, perSecond)}\n`);
  }, live ? 1000 : 10_000);

  const end = endOfRun(args.durationMs, io.signal);
  let failure: Error | null = null;
  try {
    await Promise.race([fleet.start(), end.done]);
    await end.done;
  } catch (err) {
    failure = err as Error;
  } finally {
    clearInterval(report);
    end.cancel();
  }
  const stats = await fleet.stop({ ackTimeoutMs: 5000 });
  if (live) io.stdout.write('\r\x1b[K');
  if (failure !== null) io.stderr.write(`hearth-sim: ${failure.message}\n`);
  const neverConnected = fleet.neverConnected();
  // With --state-dir unacknowledged readings are kept for the next run; without, they are lost.
  const lostReadings = stats.droppedItems + (args.stateDir === undefined ? stats.pendingItems : 0);
  const ok = failure === null && neverConnected.length === 0 && lostReadings === 0;
  const exitCode = ok ? EXIT.OK : EXIT.LOST;
  if (args.json) {
    const summary: SimSummary = { ok, exitCode, hub: args.hub, neverConnected, lostReadings, stats };
    io.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    io.stdout.write(`${formatSummary(stats, { ok, neverConnected, lostItems: lostReadings })}\n`);
  }
  return exitCode;
}

/** Works out the fleet (ids, models, rates) and a token for each device, provisioning if asked. */
async function planDevices(args: SimArgs, ca: string | undefined): Promise<DeviceSpec[]> {
  // With --provision the credentials file is also where new tokens go: it need not exist yet.
  const credentialsFile = args.credentials !== undefined && (!args.provision || existsSync(args.credentials)) ? args.credentials : undefined;
  const credentials: Credential[] = credentialsFile === undefined ? [] : parseCredentials(await readJson('--credentials', credentialsFile), credentialsFile);
  let plans: DevicePlan[];
  if (args.scenario !== undefined) plans = parseScenario(await readJson('--scenario', args.scenario), args.scenario);
  else if (args.mix !== undefined) plans = planMix(args.mix, args.idPrefix);
  else if (args.credentials !== undefined && !args.provision) plans = planFromCredentials(credentials, args.devices);
  else plans = planCount(args.devices ?? 0, args.idPrefix);
  const tokens = new Map(credentials.map((c) => [c.id, c.token]));
  if (args.provision) {
    // Every planned device is asked for, known token or not: a hub that was reset answers 201 with a new
    // token (which replaces the stale one), one that has the device answers 409 and the saved token stands.
    // Tokens are shown once: each is saved as soon as it is created, even by a run that fails later, so
    // the same command can simply be run again.
    const result = await provisionDevices(plans, { apiBase: args.api ?? apiBaseOf(args.hubs[0]!), adminToken: args.adminToken!, ca, insecure: args.insecure, created: (c) => saveCredentials(args.credentials!, c) });
    for (const c of result.created) tokens.set(c.id, c.token);
    const unknown = result.existing.filter((id) => !tokens.has(id));
    if (unknown.length > 0) {
      const shown = unknown.slice(0, 5).join(', ') + (unknown.length > 5 ? `, and ${unknown.length - 5} more` : '');
      throw new PlanError(`the hub already has ${shown} but no token for them is known: pass the --credentials file they were created with, or another --id-prefix`);
    }
  }
  return attachTokens(plans, tokens);
}

/** Adds or replaces (by id) credentials in the file, created if missing, atomically: a kill mid-write leaves the old file. */
function saveCredentials(file: string, entries: Credential[]): void {
  const existing = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { devices?: unknown[] }) : {};
  const ids = new Set(entries.map((e) => e.id));
  const kept = (Array.isArray(existing.devices) ? existing.devices : []).filter((d) => !ids.has((d as { id?: unknown }).id as string));
  const devices = [...kept, ...entries];
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ ...existing, devices }, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

async function readText(flag: string, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** A JSON file, or YAML when its name ends in .yaml/.yml (scenarios are pleasant to write as YAML). */
async function readJson(flag: string, file: string): Promise<unknown> {
  const text = await readText(flag, file);
  const yaml = /\.ya?ml$/i.test(file);
  try {
    return yaml ? (parseYaml(text) as unknown) : (JSON.parse(text) as unknown);
  } catch (err) {
    throw new UsageError(`${flag}: ${file} is not ${yaml ? 'YAML' : 'JSON'}: ${(err as Error).message}`);
  }
}

/** Resolves after `ms` (never, when undefined) or when `signal` aborts, whichever is first. */
function endOfRun(ms: number | undefined, signal: AbortSignal | undefined): { done: Promise<void>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const done = new Promise<void>((resolve) => {
    if (ms !== undefined) timer = setTimeout(resolve, ms);
    if (signal !== undefined) {
      if (signal.aborted) resolve();
      onAbort = () => resolve();
      signal.addEventListener('abort', onAbort, { once: true });
    }
  });
  return {
    done,
    cancel: () => {
      clearTimeout(timer);
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    },
  };
}

async function main(): Promise<void> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (): void => {
    // The first Ctrl-C stops gracefully (waits for ACKs); a second one does not wait.
    if (++interrupts > 1) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, signal: controller.signal });
  // On a pipe or file stdout is asynchronous: exiting at once would cut the final summary off. Exit once
  // both streams have flushed what was written before this empty write.
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

/** True when this file is the program node was started with (not imported as a library). */
function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isMain()) void main();
