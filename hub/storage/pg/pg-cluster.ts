import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { ValueType } from '../../../protocol/types.js';
import { fromNative } from '../native-value.js';
import type { CommandLogStatus, LatestValue } from '../types.js';
import { HORIZON, readLatest } from './pg-latest.js';
import { native } from './pg-rows.js';
import type { Value } from '../../../protocol/types.js';

// Channels between hubs on one database (issue #16 section 2). Payloads are space-separated: device and hub
// ids are [A-Za-z0-9_.-], so a space never occurs in them.
/** `<device> <hub> <epoch> <1|0>`: a hub claimed the device (1), or its connection there ended (0). */
export const CLAIMS_CHANNEL = 'hearth_devices';
/** `<command id> <hub>`: the hub holding the device is asked to send a logged command. */
export const COMMANDS_CHANNEL = 'hearth_commands';
/** `<command id> <status> <message>`: the answer of a forwarded command. */
export const RESULTS_CHANNEL = 'hearth_results';

/** A device's holder as device_owner has it. */
export interface OwnerRow {
  deviceId: string;
  hubId: string;
  epoch: number;
  connected: boolean;
}

/** A logged command, as the hub holding the device reads it to send it. */
export interface LoggedCommand {
  deviceId: string;
  command: string;
  value: Value;
}

/** NOTIFY payloads are at most 8000 bytes; a device's message is cut well below that. */
const MAX_MESSAGE_CHARS = 1000;

/**
 * The SQL of several hubs on one PostgreSQL database: each hub's beat in `hubs`, who holds and has connected
 * each device (device_owner), and commands forwarded to the holder with their answers, over NOTIFY.
 */
/**
 * Statements that update many device_owner rows lock them first in device_id order, as every commit's fence
 * does (FOR SHARE, hearth_commit()): taken in scan or join order, a hub's storm of disconnects and its own
 * commit locked the same rows in opposite orders, and PostgreSQL ended one of them with "deadlock detected"
 * (bench devices100k). LOCK_HUB_DEVICES: hub $1's connected devices, locked in order; LOCKED: the update's
 * rows, those of `l`, still as they were locked.
 */
const LOCK_HUB_DEVICES = 'SELECT device_id FROM device_owner WHERE hub_id = $1 AND connected ORDER BY device_id FOR NO KEY UPDATE';
const LOCKED = 'o.device_id = l.device_id AND o.hub_id = $1 AND o.connected';

export class PgCluster {
  readonly #pool: () => pg.Pool;
  readonly #url: () => string;
  readonly #beatPool: () => pg.Pool;

  /** `beatPool`: a pool of its own for beat(), which the main pool's queue must not hold up. */
  constructor(pool: () => pg.Pool, url: () => string, beatPool: () => pg.Pool = pool) {
    this.#pool = pool;
    this.#url = url;
    this.#beatPool = beatPool;
  }

  /** Records that `hubId` runs at `now`; answers every hub's last beat (its own included). */
  async beat(hubId: string, now: number, startedAt: number): Promise<Map<string, { seenAt: number; stopped: boolean }>> {
    await this.#beatPool().query(
      `INSERT INTO hubs (id, started_at, seen_at, stopped) VALUES ($1, $2, $3, false)
       ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at, started_at = excluded.started_at, stopped = false`,
      [hubId, startedAt, now],
    );
    const { rows } = await this.#beatPool().query<{ id: string; seen_at: number; stopped: boolean }>('SELECT id, seen_at, stopped FROM hubs');
    return new Map(rows.map((r) => [r.id, { seenAt: r.seen_at, stopped: r.stopped }]));
  }

  /** A hub stopping cleanly: its devices are no longer connected and it is no longer counted alive. */
  async stopped(hubId: string): Promise<void> {
    await this.#pool().query(`UPDATE device_owner o SET connected = false FROM (${LOCK_HUB_DEVICES}) l WHERE ${LOCKED}`, [hubId]);
    await this.#pool().query('UPDATE hubs SET stopped = true WHERE id = $1', [hubId]);
  }

  /**
   * The holders changed since horizon `since` (every device's when undefined), and the horizon to pass
   * next: a row may come again, none is missed (see HORIZON).
   */
  async owners(since?: string): Promise<{ rows: OwnerRow[]; horizon: string }> {
    const { rows } = await this.#pool().query<{ horizon: string; device_id: string | null; hub_id: string; epoch: number; connected: boolean }>(
      `SELECT ${HORIZON} AS horizon, o.device_id, o.hub_id, o.epoch, o.connected FROM (SELECT) AS h
       LEFT JOIN device_owner o ON ${since === undefined ? 'true' : 'o.changed >= $1::xid8'}`,
      since === undefined ? [] : [since],
    );
    const owners: OwnerRow[] = [];
    for (const r of rows) if (r.device_id !== null) owners.push({ deviceId: r.device_id, hubId: r.hub_id, epoch: r.epoch, connected: r.connected });
    return { rows: owners, horizon: rows[0]!.horizon };
  }

  /**
   * The devices' connections on `hubId` under these epochs ended (one statement for a whole storm of them);
   * a device another claim took since is left as it is.
   */
  async disconnected(hubId: string, ended: ReadonlyMap<string, number>): Promise<void> {
    await this.#pool().query(
      `WITH l AS (
         SELECT o.device_id FROM device_owner o JOIN unnest($2::text[], $3::bigint[]) AS e (device_id, epoch) ON o.device_id = e.device_id AND o.epoch = e.epoch
         WHERE o.hub_id = $1 AND o.connected ORDER BY o.device_id FOR NO KEY UPDATE OF o),
       u AS (UPDATE device_owner o SET connected = false FROM l WHERE ${LOCKED} RETURNING o.device_id, o.epoch)
       SELECT pg_notify('${CLAIMS_CHANNEL}', device_id || ' ' || $1::text || ' ' || epoch || ' 0') FROM u`,
      [hubId, [...ended.keys()], [...ended.values()]],
    );
  }

  /**
   * A dead hub's devices still marked connected are marked not connected; answers them. Only one of the
   * hubs that notice the death gets them (the UPDATE takes each row once), and it tells the broker.
   */
  async releaseDead(deadHub: string): Promise<string[]> {
    const { rows } = await this.#pool().query<{ device_id: string }>(
      `UPDATE device_owner o SET connected = false FROM (${LOCK_HUB_DEVICES}) l WHERE ${LOCKED} RETURNING o.device_id`,
      [deadHub],
    );
    return rows.map((r) => r.device_id);
  }

  /** The latest value of every series of these devices (those other hubs hold), and the horizon to pass to latestChanged. */
  async latestOf(deviceIds: readonly string[]): Promise<{ latest: Map<string, LatestValue[]>; horizon: string }> {
    return readLatest(this.#pool(), 's.device_id = ANY ($1::text[])', [deviceIds]);
  }

  /**
   * The latest value of every series of the devices a commit changed since horizon `since`, but for those
   * `hubId` holds connected (its own ingest has their values), and the horizon to pass next.
   */
  async latestChanged(since: string, hubId: string): Promise<{ latest: Map<string, LatestValue[]>; horizon: string }> {
    // device_state has no index on changed (see migration 8): a scan of its narrow rows, then one index
    // lookup per series of a changed device only.
    return readLatest(this.#pool(), 
      `s.device_id IN (SELECT st.device_id FROM device_state st LEFT JOIN device_owner o ON o.device_id = st.device_id
         WHERE st.changed >= $1::xid8 AND NOT coalesce(o.hub_id = $2 AND o.connected, false))`,
      [since, hubId],
    );
  }

  /** Asks `hubId` to send logged command `id` (NOTIFY COMMANDS_CHANNEL). */
  async forward(id: number, hubId: string): Promise<void> {
    await this.#pool().query(`SELECT pg_notify('${COMMANDS_CHANNEL}', $1)`, [`${id} ${hubId}`]);
  }

  /** Logged command `id` if it is still unanswered. */
  async unanswered(id: number): Promise<LoggedCommand | undefined> {
    const { rows } = await this.#pool().query<{ device_id: string; command: string; value_type: ValueType; num: number | null; txt: string | null }>(
      'SELECT device_id, command, value_type, num, txt FROM commands WHERE id = $1 AND status IS NULL',
      [id],
    );
    const r = rows[0];
    return r && { deviceId: r.device_id, command: r.command, value: fromNative(r.value_type, native(r.num, r.txt)) };
  }

  /** The answer of forwarded command `id`, to the hub waiting for it (NOTIFY RESULTS_CHANNEL). */
  async answer(id: number, status: CommandLogStatus, message: string): Promise<void> {
    await this.#pool().query(`SELECT pg_notify('${RESULTS_CHANNEL}', $1)`, [`${id} ${status} ${message.slice(0, MAX_MESSAGE_CHARS)}`]);
  }

  /** A listener on the three channels, on a connection of its own (see PgListener). */
  listener(): PgListener {
    return new PgListener(this.#url(), [CLAIMS_CHANNEL, COMMANDS_CHANNEL, RESULTS_CHANNEL]);
  }
}

/** How long a lost listener connection waits before it connects again. */
const RECONNECT_MS = 1_000;

/**
 * LISTEN on a connection of its own (a pooled one would lose its LISTENs when returned). Emits
 * 'notification' (channel, payload) and 'listening' after every (re)connect: notifications sent while it
 * was away are lost, so a 'listening' after the first tells the owner to re-read what it may have missed.
 */
export class PgListener extends EventEmitter<{ notification: [string, string]; listening: [boolean]; lost: [Error] }> {
  readonly #url: string;
  readonly #channels: readonly string[];
  #client: pg.Client | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #connects = 0;

  constructor(url: string, channels: readonly string[]) {
    super();
    this.#url = url;
    this.#channels = channels;
  }

  /** Resolves once listening (the first connect must succeed: the hub's store just connected too). */
  async start(): Promise<void> {
    await this.#connect();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    // keepAlive: a partition with no traffic is noticed by TCP instead of never.
    const client = new pg.Client({ connectionString: this.#url, keepAlive: true, keepAliveInitialDelayMillis: 5_000 });
    client.on('notification', (n) => this.emit('notification', n.channel, n.payload ?? ''));
    client.on('error', (err) => this.#lost(client, err));
    client.on('end', () => this.#lost(client, new Error('connection ended')));
    await client.connect();
    for (const channel of this.#channels) await client.query(`LISTEN ${channel}`);
    if (this.#stopped) return void (await client.end());
    this.#client = client;
    this.emit('listening', this.#connects++ > 0);
  }

  #lost(client: pg.Client, err: Error): void {
    if (this.#client !== client || this.#stopped) return;
    this.#client = undefined;
    client.end().catch(() => undefined);
    this.emit('lost', err);
    this.#retry();
  }

  #retry(): void {
    this.#timer = setTimeout(() => {
      this.#connect().catch(() => this.#retry());
    }, RECONNECT_MS);
    this.#timer.unref();
  }
}
