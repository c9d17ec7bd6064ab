// Retained messages of other integrations (Tasmota, Shelly, Node-RED, ... outside the hub's namespace) kept
// across hub restarts (issue #11 §2). aedes keeps retained messages in memory only; this file in the data
// directory holds the ones clients published, rewritten (temp file, fsync, rename) after each change, one
// write at a time: changes made while a write runs go out in the next. The hub's own retained tree is not
// stored here: the bridge re-publishes it from the database on every start.
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

/** The MQTT 5 PUBLISH properties worth keeping with a retained message (not topic alias, expiry, ids). */
const KEPT_PROPERTIES = ['payloadFormatIndicator', 'contentType', 'userProperties', 'responseTopic', 'correlationData'] as const;

interface StoredEntry {
  payload: string;
  qos: 0 | 1 | 2;
  properties?: Record<string, unknown>;
}

interface StoredFile {
  version: 1;
  messages: Record<string, StoredEntry>;
}

export class RetainedStore {
  readonly #path: string;
  readonly #logger: MqttLogger;
  #messages = new Map<string, StoredEntry>();
  #writing: Promise<void> | null = null;
  #dirty = false;

  constructor(opts: { path: string; logger: MqttLogger }) {
    this.#path = opts.path;
    this.#logger = opts.logger;
  }

  /** Reads the file (none: empty); a file that does not parse is moved aside to `<path>.corrupt` and logged. */
  load(): RetainedMessage[] {
    this.#messages = new Map();
    if (!existsSync(this.#path)) return [];
    try {
      const file = JSON.parse(readFileSync(this.#path, 'utf8')) as StoredFile;
      if (file.version !== 1 || typeof file.messages !== 'object' || file.messages === null) throw new Error('not a version 1 file');
      for (const [topic, e] of Object.entries(file.messages)) {
        if (typeof e.payload !== 'string' || ![0, 1, 2].includes(e.qos)) throw new Error(`bad entry for ${topic}`);
        this.#messages.set(topic, e);
      }
    } catch (err) {
      this.#logger.error({ path: this.#path, err: (err as Error).message }, 'the retained MQTT messages file is unreadable; moved aside, starting empty');
      this.#messages = new Map();
      renameSync(this.#path, `${this.#path}.corrupt`);
      return [];
    }
    return [...this.#messages].map(([topic, e]) => ({ topic, payload: Buffer.from(e.payload, 'base64'), qos: e.qos, ...(e.properties ? { properties: revive(e.properties) } : {}) }));
  }

  /** Records a retained publish (an empty payload deletes the topic [MQTT-3.3.1-10]) and schedules a write. */
  record(topic: string, payload: Buffer, qos: number, properties: Record<string, unknown> | undefined): void {
    const before = this.#messages.get(topic);
    if (payload.length === 0) {
      if (!before) return;
      this.#messages.delete(topic);
    } else {
      const entry: StoredEntry = { payload: payload.toString('base64'), qos: (qos === 1 || qos === 2 ? qos : 0) as 0 | 1 | 2 };
      const kept = keep(properties);
      if (kept) entry.properties = kept;
      if (before && JSON.stringify(before) === JSON.stringify(entry)) return;
      this.#messages.set(topic, entry);
    }
    this.#schedule();
  }

  /** Resolves when every change recorded so far is on disk. */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  /** Retained topics held. */
  get size(): number {
    return this.#messages.size;
  }

  #schedule(): void {
    this.#dirty = true;
    if (this.#writing) return;
    this.#writing = this.#writeLoop().finally(() => (this.#writing = null));
  }

  async #writeLoop(): Promise<void> {
    while (this.#dirty) {
      this.#dirty = false;
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
