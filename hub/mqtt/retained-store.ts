// Retained messages of other integrations (Tasmota, Shelly, Node-RED, ... outside the hub's namespace) kept
// across hub restarts (issue #11 §2). aedes keeps retained messages in memory only; this file in the data
// directory holds the ones clients published, rewritten (temp file, fsync, rename) at most once a second
// while they change (a crash loses at most that second; an SD card is not fsynced per publish), and at
// stop. The hub's own retained tree is not stored here: the bridge re-publishes it from the database on
// every start. Bounded: past RETAINED_LIMITS a new topic stays in the broker's memory only (logged once).
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import type { MqttLogger } from './logger.js';

/** One retained message as the broker gets it back at start. */
export interface RetainedMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  /** MQTT 5 properties that travel with the message (content type, payload format, user properties, ...). */
  properties?: Record<string, unknown>;
}

/** What the file holds at most: topics, and payload bytes in all. */
export const RETAINED_LIMITS = { topics: 10_000, bytes: 16 * 1024 * 1024 } as const;

/** Least time between two rewrites of the file while messages keep changing. */
const MIN_WRITE_INTERVAL_MS = 1000;

/** The MQTT 5 PUBLISH properties worth keeping with a retained message (not topic alias, expiry, ids). */
const KEPT_PROPERTIES = ['payloadFormatIndicator', 'contentType', 'userProperties', 'responseTopic', 'correlationData'] as const;

interface StoredEntry {
  payload: string;
  qos: 0 | 1 | 2;
  properties?: Record<string, unknown>;
  /** Epoch ms its MQTT 5 Message Expiry Interval ends; absent: never. */
  expiresAt?: number;
}

interface StoredFile {
  version: 1;
  messages: Record<string, StoredEntry>;
}

export class RetainedStore {
  readonly #path: string;
  readonly #logger: MqttLogger;
  readonly #limits: { topics: number; bytes: number };
  #messages = new Map<string, StoredEntry>();
  /** Payload bytes held (decoded). */
  #bytes = 0;
  #writing: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #lastWrite = 0;
  #dirty = false;
  #warnedFull = false;

  constructor(opts: { path: string; logger: MqttLogger; limits?: { topics: number; bytes: number } }) {
    this.#path = opts.path;
    this.#logger = opts.logger;
    this.#limits = opts.limits ?? RETAINED_LIMITS;
  }

  /** Reads the file (none: empty); a file that does not parse is moved aside to `<path>.corrupt` and logged. */
  load(): RetainedMessage[] {
    this.#messages = new Map();
    this.#bytes = 0;
    if (!existsSync(this.#path)) return [];
    try {
      const file = JSON.parse(readFileSync(this.#path, 'utf8')) as StoredFile;
      if (file.version !== 1 || typeof file.messages !== 'object' || file.messages === null) throw new Error('not a version 1 file');
      for (const [topic, e] of Object.entries(file.messages)) {
        if (typeof e.payload !== 'string' || ![0, 1, 2].includes(e.qos)) throw new Error(`bad entry for ${topic}`);
        this.#messages.set(topic, e);
        this.#bytes += bytesOf(e);
      }
    } catch (err) {
      this.#logger.error({ path: this.#path, err: (err as Error).message }, 'the retained MQTT messages file is unreadable; moved aside, starting empty');
      this.#messages = new Map();
      this.#bytes = 0;
      renameSync(this.#path, `${this.#path}.corrupt`);
      return [];
    }
    const now = Date.now();
    const out: RetainedMessage[] = [];
    for (const [topic, e] of this.#messages) {
      // An expired message is not served [MQTT-3.3.2-5]; a live one goes on with the time it has left.
      if (e.expiresAt !== undefined && e.expiresAt <= now) continue;
      const properties = { ...(e.properties ? revive(e.properties) : {}), ...(e.expiresAt !== undefined ? { messageExpiryInterval: Math.ceil((e.expiresAt - now) / 1000) } : {}) };
      out.push({ topic, payload: Buffer.from(e.payload, 'base64'), qos: e.qos, ...(Object.keys(properties).length > 0 ? { properties } : {}) });
    }
    return out;
  }

  /** Records a retained publish (an empty payload deletes the topic [MQTT-3.3.1-10]) and schedules a write. */
  record(topic: string, payload: Buffer, qos: number, properties: Record<string, unknown> | undefined): void {
    const before = this.#messages.get(topic);
    if (payload.length === 0) {
      if (!before) return;
      this.#messages.delete(topic);
      this.#bytes -= bytesOf(before);
    } else {
      const entry: StoredEntry = { payload: payload.toString('base64'), qos: (qos === 1 || qos === 2 ? qos : 0) as 0 | 1 | 2 };
      const kept = keep(properties);
      if (kept) entry.properties = kept;
      const ttl = properties?.['messageExpiryInterval'];
      if (typeof ttl === 'number') entry.expiresAt = Date.now() + ttl * 1000;
      if (before && JSON.stringify(before) === JSON.stringify(entry)) return;
      const bytes = this.#bytes - (before ? bytesOf(before) : 0) + payload.length;
      if ((!before && this.#messages.size >= this.#limits.topics) || bytes > this.#limits.bytes) {
        if (!this.#warnedFull) this.#logger.warn({ topic, limits: this.#limits }, 'retained MQTT messages over the limit are not kept across restarts');
        this.#warnedFull = true;
        // The older value must not come back after a restart in place of the one the broker now holds.
        if (before) {
          this.#messages.delete(topic);
          this.#bytes -= bytesOf(before);
          this.#schedule();
        }
        return;
      }
      this.#messages.set(topic, entry);
      this.#bytes = bytes;
    }
    this.#schedule();
  }

  /** Writes what changed now, without waiting for the interval; resolves when every change so far is on disk. */
  async flush(): Promise<void> {
    for (;;) {
      if (this.#timer) {
        clearTimeout(this.#timer);
        this.#timer = null;
        this.#start();
      }
      if (!this.#writing) return;
      await this.#writing;
    }
  }

  /** Retained topics held. */
  get size(): number {
    return this.#messages.size;
  }

  #schedule(): void {
    this.#dirty = true;
    if (this.#writing || this.#timer) return;
    const wait = Math.max(0, this.#lastWrite + MIN_WRITE_INTERVAL_MS - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#start();
    }, wait);
    this.#timer.unref();
  }

  #start(): void {
    this.#writing = this.#write().finally(() => {
      this.#writing = null;
      if (this.#dirty) this.#schedule();
    });
  }

  async #write(): Promise<void> {
    this.#dirty = false;
    this.#lastWrite = Date.now();
    const file: StoredFile = { version: 1, messages: Object.fromEntries(this.#messages) };
    const tmp = `${this.#path}.tmp`;
    try {
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(JSON.stringify(file));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.#path);
    } catch (err) {
      this.#logger.error({ path: this.#path, err: (err as Error).message }, 'cannot write the retained MQTT messages file');
    }
  }
}

/** Payload bytes of a stored entry. */
function bytesOf(e: StoredEntry): number {
  return Buffer.byteLength(e.payload, 'base64');
}

function keep(properties: Record<string, unknown> | undefined): Record<string, unknown> | null {
  if (!properties) return null;
  const out: Record<string, unknown> = {};
  for (const k of KEPT_PROPERTIES) {
    const v = properties[k];
    if (v === undefined) continue;
    out[k] = Buffer.isBuffer(v) ? { base64: v.toString('base64') } : v;
  }
  return Object.keys(out).length > 0 ? out : null;
}

function revive(properties: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(properties)) {
    out[k] = v && typeof v === 'object' && 'base64' in v ? Buffer.from(String((v as { base64: string }).base64), 'base64') : v;
  }
  return out;
}
