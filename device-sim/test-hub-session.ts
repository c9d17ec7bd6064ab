// Test support: the protocol side of the fake hub, one object per device connection. It follows the
// hub's rules of firmware-protocol.md closely enough to catch a simulator that breaks them: greeting
// first, capabilities checked, duplicates by seq acknowledged but not stored again, rate limited.
import { decode, encode, ProtocolError, SESSION_CLOSE_CODES } from '../protocol/index.js';
import type { Capability, CommandResultFrame, DataFrame, Frame, HelloFrame, SessionErrorCode, Value, WelcomeFrame } from '../protocol/index.js';

/** One stored reading, sample or event. */
export interface StoredItem {
  ts: number;
  metric: number;
  value: Value;
}

/** What the fake hub keeps per device across connections and restarts. */
export interface HubDeviceRecord {
  id: string;
  hellos: HelloFrame[];
  capabilities: Capability[];
  /** Committed ("durable") items by seq: what survives a restart. */
  stored: Map<number, StoredItem[]>;
  /** Received but not yet committed (ack mode 'hold'): lost by a restart with loseUncommitted. */
  uncommitted: Map<number, StoredItem[]>;
  /** Highest seq committed, and highest accepted (committed or not). */
  durableSeq: number;
  acceptedSeq: number;
  /** Data frames received, of those with RESEND set, and duplicates (seq already accepted). */
  frames: number;
  resends: number;
  duplicates: number;
  commandResults: CommandResultFrame[];
}

export interface SessionRules {
  welcome: Omit<WelcomeFrame, 'type' | 'hubTime' | 'nextSeq'>;
  /** Current ack policy: 'auto' commits and ACKs each frame, 'hold' keeps frames uncommitted and unacknowledged. */
  ackMode(): 'auto' | 'hold';
  now(): number;
}

/** A wire to the device: what a session may do with its socket. */
export interface SessionLink {
  send(bytes: Uint8Array): void;
  close(code: number, reason: string): void;
}

/** The fake hub's view of one device connection. */
export class TestHubSession {
  readonly record: HubDeviceRecord;
  readonly #link: SessionLink;
  readonly #rules: SessionRules;
  #greeted = false;
  #closed = false;
  #tokens: number;
  #tokensAt: number;
  readonly #results = new Map<number, (r: CommandResultFrame) => void>();

  constructor(record: HubDeviceRecord, link: SessionLink, rules: SessionRules) {
    this.record = record;
    this.#link = link;
    this.#rules = rules;
    this.#tokens = 2 * rules.welcome.maxFramesPerSecond;
    this.#tokensAt = rules.now();
  }

  get greeted(): boolean {
    return this.#greeted && !this.#closed;
  }

  /** Handles one WebSocket message. */
  onMessage(data: Uint8Array, isBinary: boolean): void {
    if (this.#closed) return;
    if (!isBinary) return this.#refuse('HUB_ERR_TEXT_FRAME', 'frames are binary');
    let frame: Frame;
    try {
      frame = decode(data);
    } catch (err) {
      if (err instanceof ProtocolError) return this.fail(err.code, err.closeCode, err.message);
      throw err;
    }
    if (!this.#greeted) {
      if (frame.type !== 'hello') return this.#refuse('HUB_ERR_GREETING_REQUIRED', 'HELLO first');
      return this.#hello(frame);
    }
    switch (frame.type) {
      case 'telemetry':
      case 'batch':
      case 'event':
        return this.#data(frame);
      case 'command_result':
        this.record.commandResults.push(frame);
        this.#results.get(frame.id)?.(frame);
        this.#results.delete(frame.id);
        return;
      case 'extension':
        return;
      default:
        return this.#refuse('HUB_ERR_UNEXPECTED_FRAME', `a device does not send ${frame.type}`);
    }
  }

  /** Sends a COMMAND and resolves with the device's COMMAND_RESULT. */
  command(id: number, metric: number, value: Value): Promise<CommandResultFrame> {
    return new Promise((resolve) => {
      this.#results.set(id, resolve);
      this.#send({ type: 'command', id, metric, value });
    });
  }

  /** ACKs everything committed (after the test switched back to auto acking). */
  ackDurable(): void {
    if (this.#greeted && this.record.durableSeq > 0) this.#send({ type: 'ack', seq: this.record.durableSeq });
  }

  /** Sends ERROR then closes with `closeCode`. */
  fail(code: string, closeCode: number, message: string): void {
    if (this.#closed) return;
    this.#send({ type: 'error', code, message: message.slice(0, 200) });
    this.#closed = true;
    this.#link.close(closeCode, code);
  }

  /** A hub rule broken: ERROR then the hub's close code for `code`. */
  #refuse(code: SessionErrorCode, message: string): void {
    this.fail(code, SESSION_CLOSE_CODES[code], message);
  }

  /** The socket is gone. */
  closed(): void {
    this.#closed = true;
  }

  #hello(hello: HelloFrame): void {
    this.#greeted = true;
    this.record.hellos.push(hello);
    this.record.capabilities = hello.capabilities;
    const w = this.#rules.welcome;
    this.#send({ type: 'welcome', hubTime: Math.round(this.#rules.now()), nextSeq: this.record.durableSeq + 1, ...w });
  }

  #data(frame: DataFrame): void {
    if (!this.#takeToken()) return this.#refuse('HUB_ERR_RATE_LIMITED', 'too many frames');
    const problem = this.#capabilityProblem(frame);
    if (problem !== null) return this.#refuse('HUB_ERR_CAPABILITY', problem);
    const r = this.record;
    r.frames++;
    if (frame.resend === true) r.resends++;
    if (frame.seq <= r.acceptedSeq) {
      r.duplicates++;
    } else {
      // Gaps (frames the device dropped past its bound) are accepted.
      r.acceptedSeq = frame.seq;
      r.uncommitted.set(frame.seq, itemsOf(frame));
    }
    if (this.#rules.ackMode() === 'auto') {
      commit(r);
      this.#send({ type: 'ack', seq: r.durableSeq });
    }
  }

  #capabilityProblem(frame: DataFrame): string | null {
    const items = itemsOf(frame);
    if (frame.type === 'telemetry' && items.length === 0) return 'empty telemetry';
    for (const item of items) {
      const cap = this.record.capabilities.find((c) => c.id === item.metric);
      if (cap === undefined) return `metric ${item.metric} not declared`;
      if (cap.event !== (frame.type === 'event')) return `metric ${cap.name} ${cap.event ? 'is' : 'is not'} an event`;
      if (cap.valueType !== item.value.type) return `metric ${cap.name} takes ${cap.valueType}, got ${item.value.type}`;
      const v = item.value.value;
      if (typeof v === 'number' && cap.min !== undefined && cap.max !== undefined && (v < cap.min || v > cap.max)) {
        return `metric ${cap.name}: ${v} is out of [${cap.min}, ${cap.max}]`;
      }
      if (item.value.type === 'enum' && item.value.value >= (cap.options?.length ?? 0)) return `metric ${cap.name}: enum index out of range`;
    }
    return null;
  }

  #takeToken(): boolean {
    const now = this.#rules.now();
    const rate = this.#rules.welcome.maxFramesPerSecond;
    this.#tokens = Math.min(2 * rate, this.#tokens + ((now - this.#tokensAt) * rate) / 1000);
    this.#tokensAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  #send(frame: Frame): void {
    if (!this.#closed) this.#link.send(encode(frame));
  }
}

/** A fresh record for a device the fake hub has never heard from. */
export function newDeviceRecord(id: string): HubDeviceRecord {
  return { id, hellos: [], capabilities: [], stored: new Map(), uncommitted: new Map(), durableSeq: 0, acceptedSeq: 0, frames: 0, resends: 0, duplicates: 0, commandResults: [] };
}

/** Moves uncommitted frames to the durable store (the hub's transaction commit). */
export function commit(r: HubDeviceRecord): void {
  for (const [seq, items] of r.uncommitted) r.stored.set(seq, items);
  r.uncommitted.clear();
  r.durableSeq = r.acceptedSeq;
}

/** Forgets uncommitted frames, as a crash before the commit would. */
export function loseUncommitted(r: HubDeviceRecord): void {
  r.uncommitted.clear();
  r.acceptedSeq = r.durableSeq;
}

function itemsOf(frame: DataFrame): StoredItem[] {
  switch (frame.type) {
    case 'telemetry':
      return frame.readings.map((x) => ({ ts: frame.ts, metric: x.metric, value: x.value }));
    case 'batch':
      return frame.samples.map((x) => ({ ts: x.ts, metric: x.metric, value: x.value }));
    case 'event':
      return [{ ts: frame.ts, metric: frame.metric, value: frame.value }];
  }
}
